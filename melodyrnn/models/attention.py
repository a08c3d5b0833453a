"""Attention over a window of past outputs, after Magenta's Attention RNN: `WindowAttention`
and the recurrent state that carries its window, `AttentionState`.

At every step t the top recurrent layer's output h_t attends over the outputs of the previous
`window` steps, h_{t-window} .. h_{t-1} (never h_t itself, never a later one), by scaled
dot-product attention (Luong's "general" score):

    score_j = (W_q h_t) . h_j / sqrt(H),  a = softmax(score) over the window,  c_t = sum_j a_j h_j

and the output the decoder sees is tanh(W_c [h_t; c_t] + b_c). A dot-product score costs one
batched matrix product per block of queries, where Magenta's additive score would build a
(B, T, window, H) tensor. The window of past outputs travels in the state, so feeding one token
at a time, a whole sequence, or truncated-BPTT chunks computes the same thing; a state of None
is an empty window (a training window starts with no history), and a step with nothing in
its window gets c_t = 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

# An LSTM carries (h, c); a GRU or tanh RNN carries h alone. Both are (num_layers, B, H).
RNNState = Tensor | tuple[Tensor, Tensor]
# Queries scored at once: bounds the (B, block, block + window) score tensor for long inputs.
QUERY_BLOCK = 256


@dataclass(frozen=True)
class AttentionState:
    """The state of a network with attention: the RNN's own state and the window of the top
    layer's last outputs, `memory` (B, window, H), with `filled` (B, window) marking the
    slots that hold an output (a window not yet full has empty slots first)."""

    rnn: RNNState
    memory: Tensor
    filled: Tensor

    def detach(self) -> AttentionState:
        """The same state cut from the graph (truncated BPTT)."""
        rnn = tuple(s.detach() for s in self.rnn) if isinstance(self.rnn, tuple) \
            else self.rnn.detach()
        return AttentionState(rnn, self.memory.detach(), self.filled)  # type: ignore[arg-type]

    def index_select(self, index: Tensor) -> AttentionState:
        """The state of batch rows `index`, in that order (beam search)."""
        rnn = tuple(s.index_select(1, index) for s in self.rnn) if isinstance(self.rnn, tuple) \
            else self.rnn.index_select(1, index)
        return AttentionState(rnn, self.memory.index_select(0, index),  # type: ignore[arg-type]
                              self.filled.index_select(0, index))


class WindowAttention(nn.Module):
    """(B, T, H) top-layer outputs and the window before them -> (B, T, H) attended outputs."""

    def __init__(self, hidden_size: int, window: int) -> None:
        super().__init__()
        self.window = window
        self.query = nn.Linear(hidden_size, hidden_size, bias=False)
        self.combine = nn.Linear(2 * hidden_size, hidden_size)
        # (n, device) -> (n, n + window) band of the keys each of n queries sees; at most
        # QUERY_BLOCK sizes, and made once: a sampler asks for n = 1 at every step
        self._bands: dict[tuple[int, torch.device], Tensor] = {}

    def empty(self, batch_size: int, like: Tensor) -> tuple[Tensor, Tensor]:
        """An empty window for `batch_size` rows (dtype and device of `like`): zero memory,
        no slot filled."""
        memory = like.new_zeros(batch_size, self.window, self.query.in_features)
        return memory, torch.zeros(batch_size, self.window, dtype=torch.bool,
                                   device=like.device)

    def forward(self, output: Tensor, memory: Tensor, filled: Tensor
                ) -> tuple[Tensor, Tensor, Tensor]:
        """Attended outputs, and the window (memory, filled) after the last step."""
        window, steps = self.window, output.size(1)
        keys = torch.cat([memory, output], dim=1)  # (B, W + T, H); output t is key W + t
        valid = torch.cat([filled, filled.new_ones(filled.size(0), steps)], dim=1)  # (B, W + T)
        queries = self.query(output) / math.sqrt(output.size(-1))  # (B, T, H)
        contexts = [self._attend(queries[:, start:start + QUERY_BLOCK], keys, valid, start)
                    for start in range(0, steps, QUERY_BLOCK)]
        context = torch.cat(contexts, dim=1) if len(contexts) > 1 else contexts[0]  # (B, T, H)
        attended = torch.tanh(self.combine(torch.cat([output, context], dim=-1)))  # (B, T, H)
        return attended, keys[:, -window:], valid[:, -window:]

    def _attend(self, queries: Tensor, keys: Tensor, valid: Tensor, start: int) -> Tensor:
        """Contexts of queries start .. start + n - 1, each over its own window of keys."""
        n, window = queries.size(1), self.window
        # query start + i sees keys start + i .. start + i + W - 1: the W outputs before it
        keys = keys[:, start:start + n + window]  # (B, n + W, H)
        valid = valid[:, start:start + n + window]
        seen = self._band(n, keys.device)[None] & valid[:, None, :]  # (B, n, n + W)
        scores = queries @ keys.transpose(1, 2)  # (B, n, n + W)
        # a finite floor instead of -inf: a step with an empty window gets zero weights, and
        # no NaN reaches the gradients
        scores = scores.masked_fill(~seen, torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1) * seen
        return weights @ keys  # (B, n, H)

    def _band(self, n: int, device: torch.device) -> Tensor:
        band = self._bands.get((n, device))
        if band is None:
            offset = torch.arange(n + self.window, device=device)[None, :] \
                - torch.arange(n, device=device)[:, None]  # (n, n + W): key - query
            band = self._bands[n, device] = (offset >= 0) & (offset < self.window)
        return band
