"""The LightningModule: starting from another checkpoint's weights, checked for fit."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from melodyrnn.errors import ModelError
from melodyrnn.fit.module import MelodyLightningModule


def test_init_from_loads_weights_and_checks_the_vocabulary(tmp_path: Path,
                                                           scales_tokenizer: dict) -> None:
    def _module(**options: object) -> MelodyLightningModule:
        base = {"vocab_size": len(scales_tokenizer["vocab"]), "embedding_dim": 8,
                "hidden_size": 12, "num_layers": 1, "tokenizer": scales_tokenizer}
        return MelodyLightningModule(**{**base, **options})

    source = _module()
    checkpoint = {"state_dict": source.state_dict(), "hyper_parameters": dict(source.hparams)}
    torch.save(checkpoint, tmp_path / "source.ckpt")
    target = _module(init_from=str(tmp_path / "source.ckpt"))
    assert not torch.equal(target.net.decoder.weight, source.net.decoder.weight)
    target.setup("fit")
    assert all(torch.equal(a, b) for a, b in zip(target.state_dict().values(),
                                                 source.state_dict().values(), strict=True))
    other_vocab = {"name": "grid", "options": {},
                   "vocab": [*scales_tokenizer["vocab"][:-1], "Bar"]}
    with pytest.raises(ModelError, match="different vocabulary"):
        _module(init_from=str(tmp_path / "source.ckpt"), tokenizer=other_vocab).setup("fit")
    with pytest.raises(ModelError, match="hidden_size 12 vs 16"):
        _module(init_from=str(tmp_path / "source.ckpt"), hidden_size=16).setup("fit")


def test_lookback_needs_bar_lines_and_batches_with_features(scales_tokenizer: dict,
                                                             bars_dataset: Path) -> None:
    from melodyrnn.errors import ConfigError
    from melodyrnn.fit.datamodule import read_dataset_tokenizer

    size = len(scales_tokenizer["vocab"])
    with pytest.raises(ConfigError, match="lookback needs bar lengths, which only a TimeSig"):
        MelodyLightningModule(size, lookback=True, tokenizer=scales_tokenizer)
    tokenizer = read_dataset_tokenizer(bars_dataset)
    module = MelodyLightningModule(len(tokenizer["vocab"]), lookback=True, attention=4,
                                   hidden_size=8, embedding_dim=8, tokenizer=tokenizer)
    assert module.net.config.lookback and module.net.config.attention == 4
    ids = torch.ones(2, 5, dtype=torch.long)
    with pytest.raises(ConfigError, match="its batches carry no lookback features"):
        module._shared_step((ids, ids), "train")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_bf16_mixed_on_a_cpu_runs_or_is_refused_in_one_sentence(cell: str) -> None:
    import lightning as L

    from melodyrnn.errors import ConfigError
    from melodyrnn.fit.module import cpu_autocast_runs_lstm

    module = MelodyLightningModule(20, embedding_dim=4, hidden_size=4, num_layers=1, cell=cell)
    module.trainer = L.Trainer(accelerator="cpu", devices=1, precision="bf16-mixed",
                               logger=False, enable_checkpointing=False)
    if cell == "gru" or cpu_autocast_runs_lstm():  # autocast leaves a GRU in float32
        module.setup("fit")
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits, _ = module(torch.zeros(1, 3, dtype=torch.long))
        assert logits.shape == (1, 3, 20)
    else:  # torch's own error would be "could not create a primitive descriptor"
        with pytest.raises(ConfigError) as refused:
            module.setup("fit")
        assert str(refused.value).startswith("--trainer.precision bf16-mixed: torch cannot run "
                                             "an LSTM in bfloat16 on this CPU")
