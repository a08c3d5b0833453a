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
