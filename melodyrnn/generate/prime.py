"""Reading a sampler's prefix (BOS, conditioning, primer) into the network, in bounded chunks.

Every row of a batch starts with the same prefix, and the network's activations over it cost
memory per row and per token (logits alone are V floats a token). A long primer is therefore
read `PREFIX_CHUNK` tokens at a time, carrying the recurrent state, so the peak does not grow
with the primer; only the logits of the last position are kept. A prefix that fits in one
chunk is read in a single forward, exactly as before chunking existed.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

# Tokens read per forward: about 85 notes of the note encoding; (B, 256, V) logits of a
# 64-row batch and a 700-token vocabulary are 46 MB.
PREFIX_CHUNK = 256


def read_prefix(network: torch.nn.Module, ids: Tensor, lookback: Tensor | None,
                chunk: int = PREFIX_CHUNK) -> tuple[Tensor, Any]:
    """(B, V) logits after the last prefix token, and the state there; ids (B, T0)."""
    state = None
    last = None
    for start in range(0, ids.size(1), chunk):
        features = None if lookback is None else lookback[:, start:start + chunk]
        logits, state = network(ids[:, start:start + chunk], state, features)  # (B, t, V)
        last = logits[:, -1, :]
        del logits  # the chunk's logits go before the next chunk's are made
    assert last is not None, "a prefix holds at least BOS"
    return last, state
