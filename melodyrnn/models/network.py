"""The network: `MelodyLSTM`, a recurrent language model over melody tokens, its options
(`NetworkConfig`) and its loss.

A plain `nn.Module` in the manner of pytorch/examples `word_language_model`: tokens go in
through an embedding (or as one-hot vectors), through a stack of LSTM, GRU or tanh-RNN layers,
and out through a linear decoder to logits over the vocabulary. `forward(ids, state)` returns
the logits and the new recurrent state, so generation can feed one token at a time.
Nothing here knows about Lightning; `fit/module.py` wraps it.

Two options from Magenta's Melody RNN family: `lookback` (Lookback RNN) adds to each input the
features of `models/lookback.py` (position in the bar, the tokens that came next one and two
bars earlier, and whether the tune repeats them), given as `forward(ids, state, lookback)`;
`attention` (Attention RNN) lets the top layer's output attend over its last `attention`
outputs (`models/attention.py`), which the state then carries as an `AttentionState`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from melodyrnn.core.limits import LIMITS, limit
from melodyrnn.errors import ConfigError
from melodyrnn.models.attention import AttentionState, WindowAttention
from melodyrnn.models.lookback import (
    BACK_1,
    BACK_2,
    BAR_POSITIONS,
    N_FEATURES,
    POSITION,
    REPEAT_1,
)

Cell = Literal["lstm", "gru", "rnn"]
Input = Literal["embedding", "onehot"]
CELLS: tuple[str, ...] = get_args(Cell)
INPUTS: tuple[str, ...] = get_args(Input)

# An LSTM carries (h, c); a GRU or tanh RNN carries h alone. Both are (num_layers, B, H).
# With attention the state is an AttentionState: that, and the window of past outputs.
State = Tensor | tuple[Tensor, Tensor] | AttentionState
MAX_ATTENTION = 512  # a window in tokens; Magenta's Attention RNN uses 40
# On the CPU, torch's oneDNN (mkldnn) LSTM kernel costs about 4 ms a call whatever the batch,
# where the native one costs about 0.5 ms for a single row: for the short calls of sampling
# (one token, a few rows) the native kernel is 2-8x faster; from about 256 rows (or a long
# call, training's 128 tokens) oneDNN is faster (torch 2.13, a 2-layer LSTM 170 -> 256, one
# thread). So calls of at most NATIVE_STEP_TOKENS tokens and NATIVE_STEP_ROWS rows x tokens
# run natively. A GRU or tanh RNN runs the same either way.
NATIVE_STEP_TOKENS = 4
NATIVE_STEP_ROWS = 128
# Sizes of the lookback inputs: each lookback token id, and the position in the bar.
LOOKBACK_EMBEDDING_DIM = 16
POSITION_EMBEDDING_DIM = 8
# Integer options and their ranges; the sizes together are bounded by `max_parameters`. A
# stack deeper than MAX_NUM_LAYERS is no melody model, and would build thousands of modules.
MAX_NUM_LAYERS = 64
MAX_SIZE = 2**31 - 1  # a tensor dimension torch indexes with 32 bits on every device
_SIZE_RANGES: tuple[tuple[str, int, int], ...] = (
    ("vocab_size", 2, MAX_SIZE), ("embedding_dim", 1, MAX_SIZE), ("hidden_size", 1, MAX_SIZE),
    ("num_layers", 1, MAX_NUM_LAYERS), ("pad_id", 0, MAX_SIZE), ("attention", 0, MAX_ATTENTION))
_GATES = {"lstm": 4, "gru": 3, "rnn": 1}


@dataclass(frozen=True)
class NetworkConfig:
    """The options that build a `MelodyLSTM`, checked when made (bundle.json's "network")."""

    vocab_size: int
    cell: Cell = "lstm"
    input: Input = "embedding"  # shadows a builtin to match the flag --model.input
    embedding_dim: int = 64
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.2
    tie_weights: bool = False
    pad_id: int = 0
    lookback: bool = False
    attention: int = 0

    def __post_init__(self) -> None:
        """Refuse option values that cannot build a network, with a sentence naming the value.

        Sizes are checked by type and range, and the parameter count against the
        `max_parameters` limit, before anything is allocated.
        """
        for name, choices in (("cell", CELLS), ("input", INPUTS)):
            value = getattr(self, name)
            if not isinstance(value, str) or value not in choices:
                raise ConfigError(f"{name} {short_value(value)} is not one of {', '.join(choices)}")
        for name, low, high in _SIZE_RANGES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(_size_error(name, value, low, high))
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, int | float) \
                or not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout has to be in [0, 1), got {short_value(self.dropout)}")
        if not 0 <= self.pad_id < self.vocab_size:
            raise ConfigError(f"pad_id {self.pad_id} is not a token id of a vocabulary of "
                              f"{self.vocab_size}")
        for name in ("tie_weights", "lookback"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} has to be true or false, got "
                                  f"{short_value(getattr(self, name))}")
        if self.tie_weights and self.input != "embedding":
            raise ConfigError("tie_weights needs input 'embedding'; one-hot input has no "
                              "embedding to tie to the decoder")
        if self.tie_weights and self.embedding_dim != self.hidden_size:
            raise ConfigError(f"tie_weights needs embedding_dim equal to hidden_size, got "
                              f"embedding_dim {self.embedding_dim} and hidden_size "
                              f"{self.hidden_size}")
        self._check_parameter_count()

    def _check_parameter_count(self) -> None:
        """ConfigError naming the size that makes the network larger than `max_parameters`."""
        count, most = self.parameter_count(), limit("max_parameters")
        if count <= most:
            return
        # the culprit: the size whose reduction to 1 shrinks the network most
        sizes = [name for name, _, _ in _SIZE_RANGES if name not in ("pad_id", "attention")]
        options = dataclasses.asdict(self)
        culprit = min(sizes, key=lambda name: _parameters({**options, name: 1}))
        raise ConfigError(f"{culprit}={getattr(self, culprit):,} makes a network of "
                          f"{count:,} parameters, over the limit of {most:,}; lower it, or set "
                          f"{LIMITS['max_parameters'].env} to allow more")

    def parameter_count(self) -> int:
        """How many parameters a `MelodyLSTM` of these options has (computed, not built)."""
        return _parameters(dataclasses.asdict(self))

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The option names, in the order of `to_dict` (and of bundle.json)."""
        return tuple(field.name for field in dataclasses.fields(cls))

    def to_dict(self) -> dict[str, Any]:
        """The options as plain values, enough to build the same network again; `lookback`
        and `attention` only when on, so a network without them is saved as it always was."""
        options = dataclasses.asdict(self)
        for name in ("lookback", "attention"):
            if not options[name]:
                del options[name]
        return options


def _embedding(num: int, dim: int) -> nn.Embedding:
    """nn.Embedding(num, dim), drawn as nn.Embedding draws it (one normal_, the same random
    numbers), except on the meta device, where drawing would import torch's compiler (about
    2 s) just to learn the shapes (`models.weights.expected_shapes`)."""
    weight = torch.empty(num, dim)
    if not weight.is_meta:
        nn.init.normal_(weight)
    return nn.Embedding(num, dim, _weight=weight)


class MelodyLSTM(nn.Module):
    """Recurrent language model over token ids: (B, T) ids -> (B, T, V) logits and a state.

    Despite the name, `cell` picks an LSTM (default), a GRU or a plain tanh RNN, so the three
    can be compared on the same corpus. Built from a `NetworkConfig`, or from its options as
    arguments: `MelodyLSTM(NetworkConfig(V, cell="gru"))` or `MelodyLSTM(V, cell="gru")`.
    The options are `net.config`, and each also reads as an attribute (`net.hidden_size`).
    """

    def __init__(self, config: NetworkConfig | int | None = None, /, **options: Any) -> None:
        super().__init__()
        if isinstance(config, NetworkConfig):
            config = dataclasses.replace(config, **options)
        elif config is None:
            config = NetworkConfig(**options)
        else:
            config = NetworkConfig(config, **options)
        self.config = config
        for name, value in dataclasses.asdict(config).items():
            setattr(self, name, value)

        self.drop = nn.Dropout(config.dropout)
        embedded = config.input == "embedding"
        self.encoder = _embedding(config.vocab_size, config.embedding_dim) if embedded else None
        input_size = config.embedding_dim if embedded else config.vocab_size
        self.lookback_encoder = self.position_encoder = None
        if config.lookback:
            # a small table of their own (the PAD row means "none"), for either kind of input
            self.lookback_encoder = _embedding(config.vocab_size, LOOKBACK_EMBEDDING_DIM)
            self.position_encoder = _embedding(BAR_POSITIONS + 1, POSITION_EMBEDDING_DIM)
            input_size += 2 * LOOKBACK_EMBEDDING_DIM + POSITION_EMBEDDING_DIM + 2  # + 2 flags
        rnn_class = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[config.cell]
        # nn.RNN* applies dropout between layers only; with one layer it would just warn.
        self.rnn = rnn_class(input_size, config.hidden_size, config.num_layers, batch_first=True,
                             dropout=config.dropout if config.num_layers > 1 else 0.0)
        self.attention = WindowAttention(config.hidden_size, config.attention) \
            if config.attention else None
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.init_weights()
        if config.tie_weights:
            # "Using the Output Embedding to Improve Language Models" (Press & Wolf, 2016)
            assert self.encoder is not None
            self.decoder.weight = self.encoder.weight

    def init_weights(self) -> None:
        """Small uniform embedding and decoder weights, zero decoder bias (word_language_model)."""
        for encoder in (self.encoder, self.lookback_encoder, self.position_encoder):
            if encoder is not None:
                nn.init.uniform_(encoder.weight, -0.1, 0.1)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    def options(self) -> dict[str, Any]:
        """The options as a dict, enough to build the same network again."""
        return self.config.to_dict()

    def init_state(self, batch_size: int, device: torch.device | str | None = None) -> State:
        """A zero state for `batch_size` sequences (what `forward` uses when given None)."""
        weight = self.decoder.weight
        shape = (self.config.num_layers, batch_size, self.config.hidden_size)
        h = weight.new_zeros(shape, device=device)
        rnn_state = (h, torch.zeros_like(h)) if self.config.cell == "lstm" else h
        if self.attention is None:
            return rnn_state
        memory, filled = self.attention.empty(batch_size, h)
        return AttentionState(rnn_state, memory, filled)

    def forward(self, ids: Tensor, state: State | None = None,
                lookback: Tensor | None = None) -> tuple[Tensor, State]:
        """Logits for the next token at every position, and the state after the last one.

        ids (B, T); `lookback` (B, T, 5), the features of `models/lookback.py` for those
        positions, when the network was built with `lookback` (else None).
        """
        x = self._inputs(ids, lookback)  # (B, T, input_size)
        rnn_state = state.rnn if isinstance(state, AttentionState) else state
        output, rnn_state = self._recur(x, rnn_state)  # (B, T, H)
        if self.attention is None:
            return self.decoder(self.drop(output)), rnn_state  # (B, T, V)
        memory, filled = (state.memory, state.filled) if isinstance(state, AttentionState) \
            else self.attention.empty(ids.size(0), output)
        output, memory, filled = self.attention(output, memory, filled)  # (B, T, H)
        return self.decoder(self.drop(output)), AttentionState(rnn_state, memory, filled)

    def _recur(self, x: Tensor, state: Any) -> tuple[Tensor, Any]:
        """The recurrent layers over x (B, T, in), on the faster CPU kernel for its shape
        (see NATIVE_STEP_ROWS): the native one for a short LSTM call, else torch's choice."""
        batch, tokens = x.shape[0], x.shape[1]
        if self.config.cell != "lstm" or x.device.type != "cpu" or tokens > NATIVE_STEP_TOKENS \
                or batch * tokens > NATIVE_STEP_ROWS or not torch.backends.mkldnn.enabled:
            return self.rnn(x, state)
        # the flag that torch's RNN dispatch reads per call (typed as its descriptor)
        torch.backends.mkldnn.enabled = False  # type: ignore[assignment]
        try:
            return self.rnn(x, state)
        finally:
            torch.backends.mkldnn.enabled = True  # type: ignore[assignment]

    def _inputs(self, ids: Tensor, lookback: Tensor | None) -> Tensor:
        """The recurrent input of each position: the token, and its lookback features."""
        if self.encoder is not None:
            x = self.drop(self.encoder(ids))  # (B, T, E)
        else:
            # One-hot input: the first layer's input weights play the embedding's part.
            x = F.one_hot(ids, self.config.vocab_size).to(self.decoder.weight.dtype)  # (B, T, V)
        if self.lookback_encoder is None or self.position_encoder is None:
            if lookback is not None:
                raise ConfigError("lookback features were given to a network built without "
                                  "lookback; build it with lookback=True or pass None")
            return x
        if lookback is None or lookback.shape != (*ids.shape, N_FEATURES):
            got = "none" if lookback is None else f"shape {tuple(lookback.shape)}"
            raise ConfigError(f"this network was built with lookback, so forward needs the "
                              f"(B, T, 5) lookback features of its ids (models/lookback.py); "
                              f"got {got} for ids of shape {tuple(ids.shape)}")
        lookback = lookback.long()
        extra = torch.cat([self.position_encoder(lookback[..., POSITION]),
                           self.lookback_encoder(lookback[..., BACK_1]),
                           self.lookback_encoder(lookback[..., BACK_2])], dim=-1)
        flags = lookback[..., REPEAT_1:].to(x.dtype)  # (B, T, 2)
        return torch.cat([x, self.drop(extra), flags], dim=-1)


def _parameters(options: dict[str, Any]) -> int:
    """The parameter count of a `MelodyLSTM` of these options, by the sizes of its layers."""
    vocab, hidden, gates = options["vocab_size"], options["hidden_size"], _GATES[options["cell"]]
    embedded = options["input"] == "embedding"
    count = vocab * options["embedding_dim"] if embedded else 0
    input_size = options["embedding_dim"] if embedded else vocab
    if options["lookback"]:
        count += vocab * LOOKBACK_EMBEDDING_DIM + (BAR_POSITIONS + 1) * POSITION_EMBEDDING_DIM
        input_size += 2 * LOOKBACK_EMBEDDING_DIM + POSITION_EMBEDDING_DIM + 2
    for layer in range(options["num_layers"]):
        # weight_ih, weight_hh and their two biases, for each gate
        count += gates * hidden * ((input_size if layer == 0 else hidden) + hidden + 2)
    if options["attention"]:
        count += hidden * hidden + 2 * hidden * hidden + hidden  # query, combine
    count += vocab  # the decoder's bias; its weight is the embedding's when tied
    return count + (0 if options["tie_weights"] else hidden * vocab)


def _size_error(name: str, value: Any, low: int, high: int) -> str:
    """The sentence for an integer option `name` that is not an integer in low..high."""
    shown = short_value(value)
    if name == "attention":
        return f"attention has to be a window of 0 (off) to {MAX_ATTENTION} tokens, got {shown}"
    if name == "pad_id":
        return f"pad_id has to be a token id (an integer from 0), got {shown}"
    if isinstance(value, int) and not isinstance(value, bool) and value > high:
        return f"{name} has to be at most {high:,}, got {shown}"
    if name == "vocab_size" and isinstance(value, int) and value == 1:
        return "vocab_size has to be at least 2, got 1"
    return f"{name} has to be a positive integer, got {shown}"


def short_value(value: Any) -> str:
    """`value` for a message: its repr, cut short (a tampered file may hold a huge one)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        # str() of an int over 4,300 digits raises; its bit length gives the size
        return f"an integer of about {int(abs(value).bit_length() * 0.30103) + 1:,} digits"
    if isinstance(value, dict | list | tuple):
        return f"a {'JSON object' if isinstance(value, dict) else 'list'} of {len(value)} items"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def detach_state(state: State | None) -> State | None:
    """The same state cut from the graph, so backpropagation stops there (truncated BPTT)."""
    if state is None:
        return None
    if isinstance(state, AttentionState):
        return state.detach()
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)  # type: ignore[return-value]
    return state.detach()


def token_losses(logits: Tensor, targets: Tensor, pad_id: int) -> Tensor:
    """Cross-entropy in nats of each target under the logits; 0 where the target is padding.

    logits (B, T, V), targets (B, T) -> (B, T). `F.cross_entropy` takes a log-softmax inside,
    which is stable where the log of a softmax is not.
    """
    losses = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                             ignore_index=pad_id, reduction="none")
    return losses.view_as(targets)


def sequence_loss(logits: Tensor, targets: Tensor, pad_id: int) -> Tensor:
    """Mean cross-entropy in nats per real (non-padding) target token."""
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                           ignore_index=pad_id)
