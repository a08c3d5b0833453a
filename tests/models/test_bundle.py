"""Model bundles: export, loading round trips, and files that are damaged or hostile."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from melodyrnn.errors import ModelError, WriteError
from melodyrnn.fit.cli import make_cli
from melodyrnn.fit.module import MelodyLightningModule
from melodyrnn.models.bundle import export_bundle, load_bundle, read_checkpoint


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, scales_dataset: Path,
            configs_dir: Path) -> Path:
    """The run directory of a tiny model trained through the CLI on the scale runs."""
    base = tmp_path_factory.mktemp("trained")
    make_cli(["fit", "--config", str(configs_dir / "tiny.yaml"),
              "--data.path", str(scales_dataset), "--trainer.default_root_dir", str(base / "runs"),
              "--trainer.max_epochs", "2", "--trainer.enable_progress_bar", "false"])
    return base / "runs" / "tiny" / "version_0"


def logits_of(network: torch.nn.Module) -> torch.Tensor:
    ids = torch.tensor([[1, 3, 15, 4, 16, 5, 15]])
    with torch.no_grad():
        return network(ids)[0]


@pytest.mark.slow
def test_export_and_load_give_the_same_logits(trained: Path, tmp_path: Path,
                                              scales_tokenizer: dict) -> None:
    bundle = export_bundle(trained, tmp_path / "bundle")
    assert {p.name for p in bundle.iterdir()} == {"model.safetensors", "bundle.json"}
    network, tokenizer, _meta = load_bundle(bundle)
    assert tokenizer == scales_tokenizer
    checkpoint = sorted((trained / "checkpoints").glob("best-*.ckpt"))[-1]
    from_ckpt, ckpt_tokenizer, _ = load_bundle(checkpoint)
    module = MelodyLightningModule.load_from_checkpoint(checkpoint, map_location="cpu").eval()
    assert ckpt_tokenizer == scales_tokenizer
    assert torch.equal(logits_of(network), logits_of(from_ckpt))
    assert torch.equal(logits_of(network), logits_of(module.net))
    assert not network.training


@pytest.mark.slow
def test_bundle_json_records_network_tokenizer_provenance_and_metrics(
        trained: Path, tmp_path: Path, scales_tokenizer: dict) -> None:
    export_bundle(trained, tmp_path / "bundle")
    meta = json.loads((tmp_path / "bundle" / "bundle.json").read_text())
    assert meta["format"] == "melodyrnn-bundle" and meta["format_version"] == 1
    assert meta["network"]["hidden_size"] == 32 and meta["network"]["cell"] == "lstm"
    assert meta["tokenizer"] == scales_tokenizer
    assert meta["dataset"]["manifest"]["corpus"] == "synthetic-scales"
    assert meta["dataset"]["splits"]["train"]["sequences"] == 200
    assert meta["metrics"]["best_val_loss"] == pytest.approx(meta["metrics"]["val_loss"])
    assert meta["training"]["hyper_parameters"]["lr"] == 0.01
    assert meta["training"]["checkpoint"].startswith("best-")
    assert len(meta["weights"]["sha256"]) == 64 and meta["weights"]["parameters"] > 0
    assert meta["melodyrnn_version"]


def test_tied_weights_survive_the_round_trip(tmp_path: Path, write_checkpoint: Callable) -> None:
    ckpt = write_checkpoint(tmp_path / "tied.ckpt", tie_weights=True)
    network, _, _ = load_bundle(export_bundle(ckpt, tmp_path / "bundle"))
    assert network.decoder.weight is network.encoder.weight
    source, _, _ = load_bundle(ckpt)
    assert torch.equal(logits_of(network), logits_of(source))


def test_export_does_not_overwrite_unless_asked(tmp_path: Path, write_checkpoint: Callable) -> None:
    ckpt = write_checkpoint(tmp_path / "m.ckpt")
    export_bundle(ckpt, tmp_path / "bundle")
    with pytest.raises(WriteError, match="exists"):
        export_bundle(ckpt, tmp_path / "bundle")
    export_bundle(ckpt, tmp_path / "bundle", overwrite=True)


def test_truncated_weights_raise_model_error(tmp_path: Path, write_checkpoint: Callable) -> None:
    bundle = export_bundle(write_checkpoint(tmp_path / "m.ckpt"), tmp_path / "bundle")
    weights = bundle / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ModelError, match="does not match the sha256"):
        load_bundle(bundle)
    meta = json.loads((bundle / "bundle.json").read_text())
    del meta["weights"]["sha256"]  # no checksum: the safetensors reader must notice
    (bundle / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="cannot be read as safetensors"):
        load_bundle(bundle)


def test_corrupt_bundle_json_raises_model_error(tmp_path: Path, write_checkpoint: Callable) -> None:
    bundle = export_bundle(write_checkpoint(tmp_path / "m.ckpt"), tmp_path / "bundle")
    text = (bundle / "bundle.json").read_text()
    (bundle / "bundle.json").write_text(text[: len(text) // 2])
    with pytest.raises(ModelError, match="not valid JSON"):
        load_bundle(bundle)
    (bundle / "bundle.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ModelError, match="not a melodyrnn bundle"):
        load_bundle(bundle / "bundle.json")


def test_weights_of_another_shape_raise_model_error(tmp_path: Path,
                                                    write_checkpoint: Callable) -> None:
    bundle = export_bundle(write_checkpoint(tmp_path / "m.ckpt"), tmp_path / "bundle")
    meta = json.loads((bundle / "bundle.json").read_text())
    meta["network"]["hidden_size"] = 9
    (bundle / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="weights parameters 882 differs from the 1,008"):
        load_bundle(bundle)
    del meta["weights"]["parameters"]  # no count: the tensors' shapes must be checked
    (bundle / "bundle.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=r"'rnn.weight_ih_l0' has shape \(32, 8\) but the "
                       r"stored network options need \(36, 8\); the weights do not fit"):
        load_bundle(bundle)


class _Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


def test_checkpoint_with_pickled_code_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": _Payload(marker)}, evil)
    with pytest.raises(ModelError, match=r"holds pickled Python objects .* never runs"):
        load_bundle(evil)
    with pytest.raises(ModelError):
        export_bundle(evil, tmp_path / "bundle")
    assert not marker.exists()


def test_truncated_or_foreign_checkpoints_raise_model_error(tmp_path: Path,
                                                            write_checkpoint: Callable) -> None:
    ckpt = write_checkpoint(tmp_path / "m.ckpt")
    ckpt.write_bytes(ckpt.read_bytes()[:200])
    with pytest.raises(ModelError, match="truncated, corrupt"):
        read_checkpoint(ckpt)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.ckpt")
    with pytest.raises(ModelError, match="not a Lightning checkpoint"):
        load_bundle(tmp_path / "other.ckpt")
    with pytest.raises(ModelError, match="does not exist"):
        load_bundle(tmp_path / "missing")


def test_checkpoint_without_tokenizer_cannot_be_exported(tmp_path: Path,
                                                         write_checkpoint: Callable) -> None:
    ckpt = write_checkpoint(tmp_path / "m.ckpt", tokenizer=None)
    with pytest.raises(ModelError, match="carries no tokenizer"):
        export_bundle(ckpt, tmp_path / "bundle")


@pytest.mark.slow
def test_fit_can_start_from_a_bundle(trained: Path, tmp_path: Path, configs_dir: Path) -> None:
    bundle = export_bundle(trained, tmp_path / "bundle")
    dataset = Path(json.loads((bundle / "bundle.json").read_text())["dataset"]["path"])
    cli = make_cli(["fit", "--config", str(configs_dir / "tiny.yaml"),
                    "--data.path", str(dataset), "--trainer.default_root_dir", str(tmp_path),
                    "--model.init_from", str(bundle), "--trainer.limit_train_batches", "0",
                    "--trainer.enable_progress_bar", "false"])
    network, _, _ = load_bundle(bundle)
    assert torch.equal(logits_of(cli.model.net.eval()), logits_of(network))


def test_lookback_and_attention_survive_export_and_load(lookback_model: Path) -> None:
    from melodyrnn.models.lookback import batch_features
    from melodyrnn.tokenizers import load_tokenizer

    meta = json.loads((lookback_model / "bundle.json").read_text())
    assert meta["network"]["lookback"] is True and meta["network"]["attention"] == 6
    network, tokenizer, _ = load_bundle(lookback_model)
    assert network.config.lookback and network.config.attention == 6
    run = lookback_model.parent / "runs" / "tiny" / "version_0"
    checkpoint = sorted((run / "checkpoints").glob("best-*.ckpt"))[-1]
    module = MelodyLightningModule.load_from_checkpoint(checkpoint, map_location="cpu").eval()
    tok = load_tokenizer(tokenizer)
    ids = torch.tensor([[*tok.encode_prefix("6/8"), *tok.tokens_to_ids(["Bar", "Pitch_60"])]])
    features = batch_features(tok, ids.tolist(), ids.size(1))
    with torch.no_grad():
        assert torch.equal(network(ids, None, features)[0], module.net(ids, None, features)[0])


def test_a_bundle_without_the_new_options_loads_as_before(tmp_path, write_checkpoint) -> None:
    bundle = export_bundle(write_checkpoint(tmp_path / "plain.ckpt"), tmp_path / "plain")
    stored = json.loads((bundle / "bundle.json").read_text())["network"]
    assert "lookback" not in stored and "attention" not in stored
    network, _, meta = load_bundle(bundle)
    assert not network.config.lookback and network.config.attention == 0
    assert meta["network"] == stored  # and it would be written the same way again
