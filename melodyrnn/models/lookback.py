"""Lookback features, after Magenta's Lookback RNN, on our token streams: the one tracker that
reads a token stream an id at a time and says, for each position, where in the bar it stands
and what came next one and two bars earlier.

For input position t (the token just read) let s be the grammar step after it (the tokenizer's
`GrammarState.step`; in the note encoding a Pitch stands at its onset, a Duration at the end of
its note) and spb the bar length in steps (`GrammarState.steps_per_bar`, from the TimeSig
token). The features of t are five small integers, the columns of every feature array:

- `POSITION`: where s falls in its bar, as one of `BAR_POSITIONS` (48) equal parts of the bar,
  (s mod spb) * 48 // spb, so 4/4 and 6/8 both map their eighths and sixteenths exactly;
  `NO_POSITION` (48) while the meter is unknown (spb 0);
- `BACK_1`, `BACK_2`: the id of the token that followed, one bar earlier (step s - spb) and two
  bars earlier (s - 2 spb) in the same tune, an input token of the same kind as token t (Pitch,
  Duration, Rest, Bar, NoteOn, Hold, ...); when several did, the latest. The tracker keeps, per
  tune, (step, kind) -> id of the token that came next. None such, or the meter unknown: the
  PAD id, which never follows a token, so it is free to mean "none";
- `REPEAT_1`, `REPEAT_2`: 1 where token t is what `BACK_1`/`BACK_2` of position t - 1
  predicted, i.e. the tune repeats what came one/two bars earlier; else 0.

Every feature of t depends on tokens up to t only. Steps and the table reset at every BOS
(streams are BOS ... EOS BOS ... EOS); a PAD reads as nothing and gets `NONE_FEATURES`.

`LookbackTracker.push` is the definition; `stream_features` (dataset splits), `batch_features`
(scoring) and `LookbackRows` (beam search) feed it. The batched sampler keeps its own tensor
form of it (`generate.lookback.BatchLookback`), tested to give `stream_features`' values. The
tokenizer is duck-typed (models do not import tokenizers): anything with `tokens`, `pad_id`,
`bos_id`, `grammar_state` and `advance_allowed`, as `tokenizers.base.Tokenizer` has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from melodyrnn.errors import ConfigError

BAR_POSITIONS = 48
NO_POSITION = BAR_POSITIONS
POSITION, BACK_1, BACK_2, REPEAT_1, REPEAT_2 = range(5)
N_FEATURES = 5
# Encodings whose grammar counts steps; lookback also needs the TimeSig token for bar lengths.
STEPPED_ENCODINGS = ("note", "grid")
Features = tuple[int, int, int, int, int]


def check_lookback_tokenizer(name: str, options: dict[str, Any]) -> None:
    """Refuse a tokenizer (by its JSON name and options) whose streams know no bar lines."""
    if name not in STEPPED_ENCODINGS:
        raise ConfigError(f"lookback needs the note or grid tokenizer, which count steps; got "
                          f"tokenizer {name!r}")
    if not options.get("meter_token"):
        raise ConfigError(f"lookback needs bar lengths, which only a TimeSig token gives; the "
                          f"{name} tokenizer has meter_token={options.get('meter_token', False)}"
                          ", so prepare the dataset with meter_token = true")


def none_features(pad_id: int) -> Features:
    """The features of padding, and of a position whose meter is not known yet."""
    return (NO_POSITION, pad_id, pad_id, 0, 0)


class LookbackTracker:
    """The lookback features of one token stream, one position per `push`."""

    def __init__(self, tokenizer: Any) -> None:
        check_lookback_tokenizer(tokenizer.name, tokenizer.options())
        self.tokenizer = tokenizer
        kinds = [token.kind for token in tokenizer.tokens]
        kind_index = {kind: i for i, kind in enumerate(dict.fromkeys(kinds))}
        self._kinds = [kind_index[kind] for kind in kinds]  # id -> small int
        self._n_kinds = len(kind_index)
        self._pad, self._bos = tokenizer.pad_id, tokenizer.bos_id
        self._advance = tokenizer.advance_allowed
        self.reset()

    def reset(self) -> None:
        """Forget the tune read so far: back to the grammar's start, an empty table."""
        self._state = self.tokenizer.grammar_state()
        self._next: dict[int, int] = {}  # step * n_kinds + kind -> id of the token that followed
        self._last_key = -1  # table key of the position before; -1 = none
        self._predicted = (self._pad, self._pad)  # BACK_1, BACK_2 of the position before

    def copy(self) -> LookbackTracker:
        """An independent tracker at the same position (a beam that branches)."""
        twin = object.__new__(LookbackTracker)
        twin.__dict__.update(self.__dict__)
        twin._next = dict(self._next)
        return twin

    def push(self, token_id: int) -> Features:
        """Read one token; the features of its position (see the module docstring)."""
        pad = self._pad
        if token_id == pad:
            return (NO_POSITION, pad, pad, 0, 0)
        if token_id == self._bos:
            self.reset()
        # the stream was written under the grammar (dataset, sampler masks): no need to check
        state = self._state = self._advance(self._state, token_id)
        if self._last_key >= 0:
            self._next[self._last_key] = token_id
        one, two = self._predicted
        repeat_1, repeat_2 = int(token_id == one), int(token_id == two)
        spb, step, n_kinds, kind = state.steps_per_bar, state.step, self._n_kinds, \
            self._kinds[token_id]
        self._last_key = step * n_kinds + kind
        if not spb:
            self._predicted = (pad, pad)
            return (NO_POSITION, pad, pad, repeat_1, repeat_2)
        back = self._next.get
        one = back((step - spb) * n_kinds + kind, pad) if step >= spb else pad
        two = back((step - 2 * spb) * n_kinds + kind, pad) if step >= 2 * spb else pad
        self._predicted = (one, two)
        return (step % spb * BAR_POSITIONS // spb, one, two, repeat_1, repeat_2)


def stream_features(tokenizer: Any, ids: Iterable[int]) -> np.ndarray:
    """(N, 5) uint16 features of every position of a stream (BOS ... EOS BOS ... EOS)."""
    push = LookbackTracker(tokenizer).push
    rows = [push(token_id) for token_id in (ids.tolist() if hasattr(ids, "tolist") else ids)]
    return np.array(rows, dtype=np.uint16).reshape(-1, N_FEATURES)  # token ids fit uint16


def batch_features(tokenizer: Any, sequences: Sequence[Sequence[int]], length: int,
                   device: torch.device | str | None = None) -> Tensor:
    """(B, length, 5) features of each sequence from its start, padded with none-features."""
    out = torch.tensor(none_features(tokenizer.pad_id)).repeat(len(sequences), length, 1)
    for row, seq in enumerate(sequences):
        seq = list(seq)[:length]
        if seq:
            out[row, :len(seq)] = torch.from_numpy(stream_features(tokenizer, seq).astype(np.int64))
    return out.to(device)


def uses_lookback(network: Any) -> bool:
    """Whether a network's forward wants lookback features (a `MelodyLSTM` built with them)."""
    config = getattr(network, "config", None)
    return bool(getattr(config, "lookback", False))


class LookbackRows:
    """Trackers of the rows a sampler grows, fed as the rows grow; inert (every feature None)
    for a network without lookback, so the sampler's calls stay as they were."""

    def __init__(self, network: Any, tokenizer: Any, prefix: Sequence[int], rows: int,
                 device: torch.device | str | None = None) -> None:
        self.device = device
        self.trackers: list[LookbackTracker] = []
        self.prefix: Tensor | None = None  # (rows, T0, 5): the features of the prefix
        if not uses_lookback(network):
            return
        tracker = LookbackTracker(tokenizer)
        first = torch.tensor([tracker.push(int(t)) for t in prefix], dtype=torch.long)
        self.prefix = first.expand(rows, -1, -1).to(device)
        self.trackers = [tracker] + [tracker.copy() for _ in range(rows - 1)]

    def push(self, tokens: Tensor) -> Tensor | None:
        """(rows, 1, 5) features of one new token per row (None without lookback)."""
        if not self.trackers:
            return None
        rows = [tracker.push(t) for tracker, t in zip(self.trackers, tokens.tolist(),
                                                      strict=True)]
        return torch.tensor(rows, dtype=torch.long).view(-1, 1, N_FEATURES).to(self.device)

    def reorder(self, parents: Tensor | Sequence[int]) -> None:
        """Row r continues row parents[r] (beam search): trackers copied where rows branch."""
        if not self.trackers:
            return
        taken: set[int] = set()
        reordered = []
        for parent in parents.tolist() if isinstance(parents, Tensor) else parents:
            tracker = self.trackers[parent]
            reordered.append(tracker if parent not in taken else tracker.copy())
            taken.add(parent)
        self.trackers = reordered
