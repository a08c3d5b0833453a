"""Truncated backpropagation through time, TBPTT(k1, k2): one update every k1 steps of a window,
each backpropagating through its last k2 steps.

Williams and Peng (1990) run the network forward k1 steps, then propagate the loss of those k1
targets back k2 steps (k2 >= k1). With k1 = k2 this is the usual epochwise truncation: the
window is cut into chunks and each chunk starts from the detached state of the one before.
With k2 > k1 each update runs the network again over the k2 - k1 steps before its chunk, from
the detached state saved there, so gradients reach further back than one chunk; that costs
about k2 / k1 times the forward work. Both `fit` (`--model.tbptt_steps`, `--model.tbptt_k2`)
and `melodyrnn lab tbptt` train through `truncated_bptt` below.

Under DDP each update averages gradients over the processes, so every process must make as
many updates per batch: `common_length` pads a batch to the longest of any process ("pad"
batches differ in length; packed windows all have seq_len and pass unchanged).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from melodyrnn.models.lookback import none_features
from melodyrnn.models.network import MelodyLSTM, State, detach_state

Score = Callable[[Tensor, Tensor], Tensor]  # (logits (B, n, V), targets (B, n)) -> loss
Update = Callable[[Tensor], None]  # loss -> zero the gradients, backpropagate, step


def spans(length: int, k1: int, k2: int) -> list[tuple[int, int, int]]:
    """(begin, start, end) of each update over a window of `length` steps.

    The update scores targets start..end (k1 of them, fewer at the end of the window) and
    backpropagates from `end` back to `begin`, k2 - k1 steps before `start` (not before the
    window's start): k2 steps for a whole chunk.
    """
    if k1 < 1 or k2 < k1:
        raise ValueError(f"truncated BPTT needs 1 <= k1 <= k2, got k1={k1}, k2={k2}")
    out = []
    for start in range(0, length, k1):
        end = min(start + k1, length)
        out.append((max(0, start + k1 - k2), start, end))
    return out


def truncated_bptt(net: MelodyLSTM, inputs: Tensor, targets: Tensor, lookback: Tensor | None,
                   k1: int, k2: int, score: Score, update: Update) -> None:
    """Train on one batch of windows, inputs and targets (B, T), with TBPTT(k1, k2).

    `score` turns the logits of an update's k1 targets into its loss (and may keep totals);
    `update` applies it. The state that leaves each update is detached, so no gradient crosses
    `begin`; with lookback the (B, T, 5) features are cut with the inputs.
    """
    saved: dict[int, State | None] = {0: None}  # detached state at each update's end
    for begin, start, end in spans(inputs.size(1), k1, k2):
        anchor = max(p for p in saved if p <= begin)
        state = saved[anchor]
        if anchor < begin:
            # the state at `begin`, from the nearest saved one, without a graph
            with torch.no_grad():
                _, state = net(inputs[:, anchor:begin], state, _cut(lookback, anchor, begin))
        logits, state = net(inputs[:, begin:end], state, _cut(lookback, begin, end))  # (B, n, V)
        update(score(logits[:, start - begin:], targets[:, start:end]))
        saved[end] = detach_state(state)
        for position in [p for p in saved if p < end - k2]:
            del saved[position]  # no later update starts before end - k2


def common_length(inputs: Tensor, targets: Tensor, lookback: Tensor | None, pad_id: int
                  ) -> tuple[Tensor, Tensor, Tensor | None]:
    """The batch padded with PAD to the longest batch of any DDP process (one process: as is).

    Padded targets hold PAD, which the loss ignores; padded lookback features are those of
    padding. Costs one all-reduce of a number per batch.
    """
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return inputs, targets, lookback
    longest = torch.tensor(inputs.size(1), device=inputs.device)
    torch.distributed.all_reduce(longest, op=torch.distributed.ReduceOp.MAX)
    extra = int(longest) - inputs.size(1)
    if extra == 0:
        return inputs, targets, lookback
    inputs = F.pad(inputs, (0, extra), value=pad_id)  # (B, T_max)
    targets = F.pad(targets, (0, extra), value=pad_id)  # (B, T_max)
    if lookback is not None:
        fill = torch.tensor(none_features(pad_id), dtype=lookback.dtype, device=lookback.device)
        lookback = torch.cat([lookback, fill.expand(lookback.size(0), extra, -1)], dim=1)
    return inputs, targets, lookback  # lookback (B, T_max, 5)


def _cut(lookback: Tensor | None, begin: int, end: int) -> Tensor | None:
    return None if lookback is None else lookback[:, begin:end]
