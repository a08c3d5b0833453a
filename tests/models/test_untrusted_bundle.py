"""Bundles and checkpoints as untrusted input: each tampered copy ends in one ModelError."""

from __future__ import annotations

import builtins
import hashlib
import io
import json
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from melodyrnn.cli import main
from melodyrnn.errors import ModelError
from melodyrnn.generate.model import DEFAULT_MODEL, load_model
from melodyrnn.models.bundle import export_bundle, load_bundle
from melodyrnn.models.network import MelodyLSTM, NetworkConfig


@pytest.fixture(scope="module")
def small_bundle(tmp_path_factory: pytest.TempPathFactory,
                 write_checkpoint: Callable[..., Path]) -> Path:
    """An untrained bundle of an 8-unit LSTM over the scales vocabulary (do not modify)."""
    base = tmp_path_factory.mktemp("small")
    return export_bundle(write_checkpoint(base / "m.ckpt"), base / "bundle")


@pytest.fixture
def bundle(small_bundle: Path, tmp_path: Path) -> Path:
    """A copy of `small_bundle` to tamper with."""
    return Path(shutil.copytree(small_bundle, tmp_path / "bundle"))


def edit_meta(bundle: Path, change: Callable[[dict[str, Any]], None]) -> None:
    meta = json.loads((bundle / "bundle.json").read_text())
    change(meta)
    (bundle / "bundle.json").write_text(json.dumps(meta))


def rewrite_weights(bundle: Path, change: Callable[[dict[str, torch.Tensor]], None]) -> None:
    """Change the tensors and store the new file's sha256, as a careful forger would."""
    from safetensors.torch import load_file, save_file

    weights = bundle / "model.safetensors"
    state = load_file(str(weights))
    change(state)
    save_file(state, str(weights))
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    edit_meta(bundle, lambda meta: meta["weights"].update(sha256=sha))


# --- bundle.json ------------------------------------------------------------------------------

def test_a_5000_digit_integer_is_one_sentence(bundle: Path) -> None:
    path = bundle / "bundle.json"
    text = path.read_text()
    assert '"hidden_size": 8' in text
    path.write_text(text.replace('"hidden_size": 8', '"hidden_size": ' + "9" * 5000))
    with pytest.raises(ModelError, match=r"bundle.json: the bundle description holds a value "
                       r"that cannot be read \(Exceeds the limit \(4300 digits\)"):
        load_bundle(bundle)


def test_100000_deep_nesting_is_one_sentence(bundle: Path) -> None:
    path = bundle / "bundle.json"
    text = path.read_text()
    path.write_text(text.replace('"metrics": {', '"deep": ' + "[" * 100_000 + "]" * 100_000
                                 + ', "metrics": {', 1))
    with pytest.raises(ModelError, match=r"nests lists or objects too deeply to read"):
        load_bundle(bundle)


@pytest.mark.parametrize(("version", "message"), [
    (True, "format_version True is not a bundle format version"),
    (-1, "format_version -1 is not a bundle format version"),
    (0, "format_version 0 is not a bundle format version"),
    ("1", "format_version '1' is not a bundle format version"),
    (2, "has bundle format_version 2; this melodyrnn reads up to 1, so upgrade melodyrnn"),
], ids=["true", "minus-one", "zero", "string", "newer"])
def test_format_version_is_a_whole_number_in_range(bundle: Path, version: Any,
                                                   message: str) -> None:
    edit_meta(bundle, lambda meta: meta.update(format_version=version))
    with pytest.raises(ModelError, match=message):
        load_bundle(bundle)


@pytest.mark.parametrize(("section", "value", "message"), [
    ("network", [8], "lacks its 'network' section"),
    ("weights", None, "lacks its 'weights' section"),
    ("metrics", 3, "'metrics' is 3, not an object"),
    ("created", 20240101, "'created' is 20240101, not a string"),
    ("dataset", {"manifest": [1]}, "dataset manifest is a list of 1 items, not an object"),
], ids=["network", "weights", "metrics", "created", "manifest"])
def test_every_section_is_checked_by_type(bundle: Path, section: str, value: Any,
                                          message: str) -> None:
    edit_meta(bundle, lambda meta: meta.update({section: value}))
    with pytest.raises(ModelError, match=message):
        load_bundle(bundle)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("hidden_size", 10**7, r"network hidden_size=10,000,000 makes a network of [\d,]+ "
                           r"parameters, over the limit of 2,000,000,000; lower it, or set "
                           "MELODYRNN_MAX_PARAMETERS"),
    ("vocab_size", 10**12, "network vocab_size has to be at most 2,147,483,647"),
    ("num_layers", 10**6, "network num_layers has to be at most 64, got 1000000"),
    ("hidden_size", True, "network hidden_size has to be a positive integer, got True"),
    ("embedding_dim", 8.0, "network embedding_dim has to be a positive integer, got 8.0"),
    ("dropout", "0.1", "network dropout has to be in \\[0, 1\\), got '0.1'"),
    ("cell", ["lstm"], "network cell a list of 1 items is not one of lstm, gru, rnn"),
    ("heads", 4, "the network options have no option 'heads'"),
], ids=["hidden-huge", "vocab-huge", "layers", "bool", "float", "dropout", "cell", "unknown"])
def test_network_sizes_are_checked_before_anything_is_allocated(
        bundle: Path, field: str, value: Any, message: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[NetworkConfig] = []
    original = MelodyLSTM.__init__
    monkeypatch.setattr(MelodyLSTM, "__init__",
                        lambda self, *a, **k: built.append(a) or original(self, *a, **k))
    edit_meta(bundle, lambda meta: meta["network"].update({field: value}))
    with pytest.raises(ModelError, match=message):
        load_bundle(bundle)
    assert built == []  # refused from the options alone, not by building a network


def test_the_parameter_limit_can_be_lowered_and_raised(bundle: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MELODYRNN_MAX_PARAMETERS", "500")
    with pytest.raises(ModelError, match=r"makes a network of 882 parameters, over the limit "
                       "of 500"):
        load_bundle(bundle)
    monkeypatch.setenv("MELODYRNN_MAX_PARAMETERS", "882")
    assert load_bundle(bundle)[0].config.parameter_count() == 882


@pytest.mark.parametrize("options", [
    {"cell": "lstm"}, {"cell": "gru", "num_layers": 3}, {"cell": "rnn", "input": "onehot"},
    {"embedding_dim": 12, "tie_weights": True}, {"lookback": True, "attention": 5},
    {"cell": "gru", "input": "onehot", "lookback": True, "attention": 3, "num_layers": 2},
], ids=["lstm", "gru-3", "rnn-onehot", "tied", "lookback-attention", "all"])
def test_the_computed_parameter_count_is_the_built_one(options: dict[str, Any]) -> None:
    config = NetworkConfig(30, hidden_size=12, **options)
    assert config.parameter_count() == sum(p.numel() for p in MelodyLSTM(config).parameters())


def test_a_vocabulary_that_is_a_number_is_one_sentence(bundle: Path) -> None:
    edit_meta(bundle, lambda meta: meta["tokenizer"].update(vocab=5))
    with pytest.raises(ModelError, match=r"the model's tokenizer cannot be rebuilt .*the stored "
                       "vocabulary is not a list of token names"):
        load_model(bundle)


def test_a_vocabulary_of_another_size_than_the_network_is_refused(bundle: Path) -> None:
    edit_meta(bundle, lambda meta: meta["tokenizer"]["vocab"].append("Pitch_99"))
    with pytest.raises(ModelError, match=r"the tokenizer has 19 tokens but the network "
                       "vocab_size is 18"):
        load_bundle(bundle)


# --- the weights file -------------------------------------------------------------------------

@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every path opened through Python's open (pathlib's too) or safetensors, resolved."""
    import safetensors

    seen: list[Path] = []
    real_open, real_safe_open = builtins.open, safetensors.safe_open

    def recording_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, str | os.PathLike):
            seen.append(Path(file).resolve())
        return real_open(file, *args, **kwargs)

    def recording_safe_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(Path(file).resolve())
        return real_safe_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", recording_open)
    monkeypatch.setattr(io, "open", recording_open)
    monkeypatch.setattr(safetensors, "safe_open", recording_safe_open)
    return seen


@pytest.mark.parametrize("name", ["../outside/secret", "../../outside/secret", "{abs}",
                                  "sub/../../outside/secret"],
                         ids=["parent", "grandparent", "absolute", "climbing"])
def test_a_weights_path_outside_the_bundle_is_never_opened(
        bundle: Path, tmp_path: Path, opened: list[Path], name: str) -> None:
    secret = tmp_path / "outside" / "secret"
    secret.parent.mkdir()
    shutil.copy(bundle / "model.safetensors", secret)  # a real weights file, so only the
    name = name.format(abs=secret)                      # path check can refuse it
    (bundle / "sub").mkdir()
    edit_meta(bundle, lambda meta: meta["weights"].update(file=name))
    opened.clear()
    with pytest.raises(ModelError, match=r"points outside the bundle folder; it must name a "
                       "file inside it"):
        load_bundle(bundle)
    assert secret.resolve() not in opened
    assert (bundle / "bundle.json").resolve() in opened
    assert (bundle / "bundle.json").resolve() in opened  # the recorder does see opens


def test_a_link_out_of_the_bundle_is_never_opened(bundle: Path, tmp_path: Path,
                                                  opened: list[Path]) -> None:
    secret = tmp_path / "secret.safetensors"
    shutil.move(bundle / "model.safetensors", secret)
    (bundle / "model.safetensors").symlink_to(secret)
    opened.clear()
    with pytest.raises(ModelError, match=r"is a link that leads outside the bundle folder"):
        load_bundle(bundle)
    assert secret.resolve() not in opened
    assert (bundle / "bundle.json").resolve() in opened


def test_a_weights_file_that_is_not_a_regular_file_is_never_opened(bundle: Path) -> None:
    (bundle / "model.safetensors").unlink()
    os.mkfifo(bundle / "model.safetensors")  # opening a fifo with no writer would hang
    with pytest.raises(ModelError, match=r"model.safetensors is not a regular file"):
        load_bundle(bundle)


def test_nan_weights_with_a_matching_sha256_are_refused(bundle: Path) -> None:
    rewrite_weights(bundle, lambda state: state["rnn.weight_hh_l0"].view(-1).__setitem__(
        3, float("nan")))
    with pytest.raises(ModelError, match=r"tensor 'rnn.weight_hh_l0' holds NaN or infinite "
                       "values"):
        load_bundle(bundle)


def test_integer_weights_are_refused(bundle: Path) -> None:
    rewrite_weights(bundle, lambda state: state.update(
        {"decoder.bias": state["decoder.bias"].long()}))
    with pytest.raises(ModelError, match=r"tensor 'decoder.bias' holds I64 values, not "
                       "floating-point weights"):
        load_bundle(bundle)


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s.update({"decoder.bias": torch.zeros(5)}),
     r"tensor 'decoder.bias' has shape \(5,\) but the stored network options need \(18,\)"),
    (lambda s: s.pop("rnn.bias_hh_l0"), "the weights lack tensor 'rnn.bias_hh_l0'"),
    (lambda s: s.update({"extra": torch.zeros(2)}), "the weights hold tensor 'extra'"),
], ids=["shape", "missing", "extra"])
def test_weights_that_do_not_match_the_options_are_one_sentence(
        bundle: Path, change: Callable[[dict], None], message: str) -> None:
    rewrite_weights(bundle, change)
    with pytest.raises(ModelError, match=message):
        load_bundle(bundle)


def test_a_weights_file_larger_than_the_options_allow_is_not_hashed(
        bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from melodyrnn.models import bundle as bundle_module
    from melodyrnn.models import weights

    monkeypatch.setattr(weights, "HEADER_BYTES", 0)
    with open(bundle / "model.safetensors", "ab") as fh:
        fh.write(b"\0" * 8 * 882)
    hashed: list[Path] = []
    monkeypatch.setattr(bundle_module, "_sha256", hashed.append)
    with pytest.raises(ModelError, match=r"more than the 7,056 that the weights of the stored "
                       "network options can take"):
        load_bundle(bundle)
    assert hashed == []


def test_the_bundled_model_passes_every_check() -> None:
    network, tokenizer, meta = load_bundle(DEFAULT_MODEL)
    assert network.config.parameter_count() == meta["weights"]["parameters"] == 1_252_918
    assert len(tokenizer["vocab"]) == network.config.vocab_size


# --- what --model is given --------------------------------------------------------------------

@pytest.mark.parametrize(("name", "data", "kind"), [
    ("song.mid", b"MThd\0\0\0\x06\0\x01\0\x01\x01\xe0", "a MIDI file"),
    ("tune.abc", b"X:1\nT:Tune\nK:D\nABc|\n", "an ABC file"),
    ("model.ckpt", b"", "an empty file"),
    ("score.musicxml", b"<?xml version='1.0'?><score-partwise/>", "an XML file"),
], ids=["midi", "abc", "empty", "musicxml"])
def test_a_file_that_is_not_a_model_says_what_it_is(tmp_path: Path, name: str, data: bytes,
                                                    kind: str) -> None:
    (tmp_path / name).write_bytes(data)
    with pytest.raises(ModelError, match=f"{name} is {kind}, not a model; --model takes a "
                       "bundle folder, a bundle's bundle.json, or a Lightning .ckpt"):
        load_model(tmp_path / name)


def test_cli_generate_with_a_midi_model_is_one_line(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "song.mid").write_bytes(b"MThd\0\0\0\x06\0\x01\0\x01\x01\xe0")
    assert main(["generate", "--model", str(tmp_path / "song.mid"), "--out",
                 str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("melodyrnn: error: ") and "song.mid is a MIDI file, not a model" in err
    assert "\n" not in err and "Traceback" not in err


class _Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("writer", ["torch", "pickle"])
def test_a_pickle_payload_checkpoint_is_refused_unrun(tmp_path: Path, writer: str) -> None:
    marker, evil = tmp_path / "code-ran", tmp_path / "evil.ckpt"
    payload = {"state_dict": {}, "hyper_parameters": _Payload(marker)}
    if writer == "torch":
        torch.save(payload, evil)
    else:
        evil.write_bytes(pickle.dumps(payload, protocol=4))
    with pytest.raises(ModelError, match=r"evil.ckpt holds pickled Python objects other than "
                       "tensors and plain values .*which melodyrnn never runs"):
        load_model(evil)
    assert not marker.exists()


def test_a_truncated_checkpoint_is_one_sentence(tmp_path: Path,
                                                write_checkpoint: Callable[..., Path]) -> None:
    ckpt = write_checkpoint(tmp_path / "m.ckpt")
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    with pytest.raises(ModelError, match=r"m.ckpt cannot be read as a melodyrnn checkpoint .*it "
                       "may be truncated, corrupt or not a checkpoint"):
        load_model(ckpt)


def test_a_checkpoint_with_nan_or_huge_hyper_parameters_is_refused(
        tmp_path: Path, write_checkpoint: Callable[..., Path]) -> None:
    ckpt = write_checkpoint(tmp_path / "m.ckpt")
    checkpoint = torch.load(ckpt, weights_only=True)
    checkpoint["state_dict"]["net.decoder.bias"][0] = float("inf")
    torch.save(checkpoint, ckpt)
    with pytest.raises(ModelError, match=r"tensor 'decoder.bias' holds NaN or infinite"):
        load_bundle(ckpt)
    checkpoint["hyper_parameters"]["hidden_size"] = 10**9
    torch.save(checkpoint, ckpt)
    with pytest.raises(ModelError, match=r"m.ckpt: hyper-parameter hidden_size=1,000,000,000 "
                       "makes a network of"):
        load_bundle(ckpt)
    checkpoint["hyper_parameters"]["hidden_size"] = 8
    checkpoint["state_dict"]["net.decoder.bias"] = "not a tensor"
    torch.save(checkpoint, ckpt)
    with pytest.raises(ModelError, match=r"the state_dict holds entries that are not named "
                       "tensors"):
        load_bundle(ckpt)
