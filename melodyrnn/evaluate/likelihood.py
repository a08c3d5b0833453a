"""Held-out likelihood of a model, of a smoothed n-gram baseline and of the model combined
with a short-term model of each melody (IDyOM's STM, `evaluate.stm`), on the same split.

Every sequence of the split is scored whole, from BOS on (the first token is given), so the
figures do not depend on batching or window length. With N the number of predicted tokens,
the figures (nats per token, perplexity, bits per note, accuracy) are those of
`models.likelihood`.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from melodyrnn.errors import ConfigError, CorpusError
from melodyrnn.evaluate.ngram import fit_by_order
from melodyrnn.evaluate.stm import CombinedScores, check_bias
from melodyrnn.models.attention import AttentionState
from melodyrnn.models.likelihood import LikelihoodFigures
from melodyrnn.models.lookback import batch_features, uses_lookback
from melodyrnn.prepare.shards import read_split
from melodyrnn.tokenizers import load_tokenizer


@dataclass
class EvalResult(LikelihoodFigures):
    """Totals for one model on one split (figures from `LikelihoodFigures`), and its name."""

    name: str
    log_likelihood: float  # nats, summed over all predicted tokens
    tokens: int
    notes: int
    correct: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        extra = d.pop("extra")
        d.update(nats_per_token=self.nats_per_token, perplexity=self.perplexity,
                 bits_per_note=self.bits_per_note, accuracy=self.accuracy, **extra)
        return d


def read_sequences(data_dir: str | Path, split: str) -> list[list[int]]:
    """Every token sequence of one split of a prepared dataset."""
    data = read_split(data_dir, split)
    return [data[i].astype(np.int64).tolist() for i in range(len(data))]


# A network's log-probabilities of one whole sequence: (index in the sequences, (N, V) array)
SequenceLogProbs = Callable[[int, np.ndarray], None]


def evaluate_network(network: Any, sequences: list[list[int]], pitch_ids: set[int],
                     name: str = "model", batch_size: int = 32, tokenizer: Any = None,
                     step: Callable[[int], None] | None = None,
                     on_sequence: SequenceLogProbs | None = None) -> EvalResult:
    """Score sequences with a network whose forward gives (B, T, V) logits; `tokenizer`
    gives the lookback features of a network with lookback; `step(n)` hears of every n
    tokens scored (a progress bar); `on_sequence(i, log_probs)` gets the (N, V)
    log-probabilities of sequences[i]'s N predicted tokens once they are all scored.

    Sequences go by length, `batch_size` at a time, longest first within a batch; a batch
    runs in time segments with the state carried, and rows that have ended leave it between
    segments, so padding costs little even beside one very long tune.
    """
    import torch
    lookback = uses_lookback(network)
    if lookback and tokenizer is None:
        raise ConfigError(f"{name} has lookback inputs: pass the tokenizer of its sequences "
                          "so their lookback features can be computed")
    result = EvalResult(name, 0.0, 0, 0, 0)
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    network.eval()
    device = next(network.parameters()).device
    is_pitch = torch.zeros(max(max(pitch_ids, default=0) + 1, 1), dtype=torch.bool)
    is_pitch[list(pitch_ids)] = True
    is_pitch = is_pitch.to(device)
    with torch.no_grad(), _threads_for(batch_size, device):
        for start in range(len(order) - 1, -1, -batch_size):
            indices = order[max(0, start - batch_size + 1):start + 1][::-1]
            batch = [sequences[i] for i in indices]  # longest first: rows running are a prefix
            width = len(batch[0])
            ids = torch.full((len(batch), width), -1, dtype=torch.long)
            for row, seq in enumerate(batch):
                ids[row, :len(seq)] = torch.tensor(seq)
            features = batch_features(tokenizer, [s[:-1] for s in batch], width - 1) \
                if lookback else None
            rows = None if on_sequence is None else _RowLogProbs(indices, on_sequence)
            _score_batch(network, ids, features, [len(s) - 1 for s in batch], is_pitch,
                         result, step, rows)
    return result


# A segment of a batch runs at least this many steps, so a batch takes few calls. On the folk
# test split segments cut the CPU time of scoring by a third; 16 to 128 steps measure alike.
MIN_SEGMENT_STEPS = 64


def _score_batch(network: Any, ids: Any, features: Any, targets_per_row: list[int],
                 is_pitch: Any, result: EvalResult, step: Callable[[int], None] | None,
                 row_log_probs: _RowLogProbs | None = None) -> None:
    """Add one batch's totals to `result`: ids (B, T) padded with -1, rows longest first."""
    import torch
    device = is_pitch.device
    rows, t, state = sum(n > 0 for n in targets_per_row), 0, None
    while rows:
        end = max(t + MIN_SEGMENT_STEPS, targets_per_row[rows - 1])
        end = min(end, targets_per_row[0])
        inputs = ids[:rows, t:end].clamp(min=0).to(device)  # (B, S)
        targets = ids[:rows, t + 1:end + 1].to(device)  # (B, S)
        segment = features[:rows, t:end].to(device) if features is not None else None
        logits, state = network(inputs, state, segment)  # (B, S, V)
        logp = torch.log_softmax(logits.float(), dim=-1)
        real = targets >= 0
        safe = targets.clamp(min=0)
        picked = logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1)  # (B, S)
        result.log_likelihood += picked[real].double().sum().item()
        tokens = int(real.sum())
        result.tokens += tokens
        result.correct += int(((logp.argmax(-1) == safe) & real).sum())
        result.notes += int((is_pitch[safe.clamp(max=len(is_pitch) - 1)] & real
                             & (safe < len(is_pitch))).sum())
        if row_log_probs is not None:
            row_log_probs.add(logp, t, end, targets_per_row)
        if step is not None:
            step(tokens)
        t = end
        running = sum(n > t for n in targets_per_row)
        if running < rows and running:
            state = _first_rows(state, running)
        rows = running


class _RowLogProbs:
    """Gathers the rows of a batch segment by segment; hands each row's whole (N, V)
    log-probabilities to `on_sequence` with its index once the row has ended."""

    def __init__(self, indices: list[int], on_sequence: SequenceLogProbs) -> None:
        self.indices, self.on_sequence = indices, on_sequence
        self.kept: list[list[np.ndarray]] = [[] for _ in indices]

    def add(self, logp: Any, t: int, end: int, targets_per_row: list[int]) -> None:
        """Take steps t .. end - 1 of the running rows' (B, S, V) log-probabilities."""
        segment = logp.cpu().numpy()
        for row in range(segment.shape[0]):
            self.kept[row].append(segment[row, :min(end, targets_per_row[row]) - t])
            if targets_per_row[row] <= end:
                self.on_sequence(self.indices[row], np.concatenate(self.kept[row]))
                self.kept[row] = []


# Up to this many rows a step is too small to share among CPU threads: they mostly wait for
# each other, so such segments run on one thread, as the sampler's small batches do. Whole
# batches of 32 gain from threads on an idle machine: the bundled model on folk's test split
# took 1.9-2.0 s wall on two threads against 2.7-3.3 s on one (on a busy machine one thread
# is faster; OMP_NUM_THREADS=1 asks for it).
FEW_ROWS = 4


@contextlib.contextmanager
def _threads_for(rows: int, device: Any) -> Iterator[None]:
    """One CPU thread for the scoring of batches of up to FEW_ROWS rows."""
    import torch
    threads = torch.get_num_threads()
    if rows > FEW_ROWS or device.type != "cpu" or threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _first_rows(state: Any, rows: int) -> Any:
    """The state of the first `rows` rows of a batch ((h, c) or h: (L, B, H); with attention
    an `AttentionState`, its window too)."""
    import torch
    if isinstance(state, AttentionState):
        return state.index_select(torch.arange(rows, device=state.memory.device))
    if isinstance(state, tuple):
        return tuple(s[:, :rows] for s in state)
    return state[:, :rows]


def evaluate_ngram(train: list[list[int]], valid: list[list[int]], test: list[list[int]],
                   alphabet_size: int, pitch_ids: set[int], orders: range = range(1, 9),
                   progress: bool = False) -> EvalResult:
    """The n-gram of the order best on `valid` (trained on `train`), scored on `test`."""
    with _bar(2 * max(orders), "n-gram fit", "order", progress) as bar:
        model, by_order = fit_by_order(train, valid or train, alphabet_size, orders,
                                       step=bar.update)
    order = min(by_order, key=by_order.__getitem__)
    with _bar(order, "n-gram test", "order", progress) as bar:
        probs = model.probs_by_order(test, order, step=bar.update)[:, -1]
    total = 0.0
    for log_p in map(math.log, probs.tolist()):
        total += log_p  # one running sum over the split, as the figures always were
    tokens = sum(max(len(seq) - 1, 0) for seq in test)
    notes = sum(t in pitch_ids for seq in test for t in seq[1:])
    return EvalResult(f"{order}-gram (escape C)", total, tokens, notes, 0,
                      extra={"order": order,
                             "valid_nats_per_token_by_order": {str(k): round(v, 4)
                                                               for k, v in by_order.items()}})


# The biases the STM combination tries on the valid split (IDyOM's own runs use 0.5 to 7)
STM_BIASES = (0.5, 1.0, 2.0, 4.0, 7.0)
STM_KEY = "model + STM"


def evaluate_with_stm(network: Any, sequences: list[list[int]], pitch_ids: set[int],
                      biases: tuple[float, ...], name: str = "model", tokenizer: Any = None,
                      step: Callable[[int], None] | None = None,
                      ) -> tuple[EvalResult, list[EvalResult]]:
    """The network's result, and for each bias the network combined with each melody's STM
    (IDyOM's entropy-weighted geometric mean) on the same tokens, from one pass."""
    scores = CombinedScores(biases)
    model = evaluate_network(network, sequences, pitch_ids, name=name, tokenizer=tokenizer,
                             step=step, on_sequence=lambda i, lp: scores.add(sequences[i], lp))
    combined = [EvalResult(f"{name} + STM (bias {bias:g})", log_likelihood, model.tokens,
                           model.notes, correct, extra={"stm_bias": bias})
                for bias, log_likelihood, correct
                in zip(scores.biases, scores.log_likelihood, scores.correct, strict=True)]
    return model, combined


def choose_stm_bias(model: Any, data_dir: str | Path, pitch_ids: set[int],
                    progress: bool = False) -> tuple[float, dict[str, float]]:
    """The bias of STM_BIASES best on the valid split, and the valid nats per token of each."""
    valid = read_sequences(data_dir, "valid")
    if not valid:
        raise CorpusError(f"{data_dir}: split 'valid' is empty, so no STM bias can be chosen "
                          "on it; give one (--stm-bias)")
    with _bar(sum(len(s) - 1 for s in valid), "STM bias on valid", "token", progress) as bar:
        _, results = evaluate_with_stm(model.network, valid, pitch_ids, STM_BIASES,
                                       tokenizer=model.tokenizer, step=bar.update)
    best = min(results, key=lambda r: r.nats_per_token)
    return best.extra["stm_bias"], {f"{r.extra['stm_bias']:g}": round(r.nats_per_token, 4)
                                    for r in results}


def evaluate_dataset(model: Any, data_dir: str | Path, split: str = "test",
                     baseline: bool = True, progress: bool = False, stm: bool = False,
                     stm_bias: float | None = None) -> dict[str, EvalResult]:
    """The model, (optionally) the n-gram baseline and (with `stm`) the model combined with
    each melody's STM on one split of a prepared dataset; the STM's bias is `stm_bias` (which
    implies `stm`), or else the one of STM_BIASES best on the valid split. `progress` shows a
    bar per phase on stderr when it is a terminal."""
    data_dir = Path(data_dir)
    bias = None if stm_bias is None else check_bias(stm_bias)
    tokenizer = load_tokenizer(data_dir / "tokenizer.json")
    if tokenizer.vocab != model.tokenizer.vocab:
        raise CorpusError(f"{data_dir} was prepared with another tokenizer than the model's "
                          f"({tokenizer.name}, {tokenizer.vocab_size} tokens vs "
                          f"{model.tokenizer.name}, {model.tokenizer.vocab_size}); prepare it "
                          "with the model's tokenizer options")
    pitch_ids = set(tokenizer.pitch_token_ids)
    sequences = read_sequences(data_dir, split)
    if not sequences:
        raise CorpusError(f"{data_dir}: split '{split}' is empty")
    results: dict[str, EvalResult] = {}
    stm_extra: dict[str, Any] = {"stm_bias_from": "given"}
    if stm and bias is None:
        bias, by_bias = choose_stm_bias(model, data_dir, pitch_ids, progress)
        stm_extra = {"stm_bias_from": "valid", "valid_nats_per_token_by_bias": by_bias}
    targets = sum(len(s) - 1 for s in sequences)
    with _bar(targets, "model + STM" if bias is not None else "model", "token",
              progress) as bar:
        if bias is None:
            results["model"] = evaluate_network(model.network, sequences, pitch_ids,
                                                 name=model.path.name,
                                                 tokenizer=model.tokenizer, step=bar.update)
        else:  # the STM row comes from the same pass as the model's
            results["model"], (combined,) = evaluate_with_stm(
                model.network, sequences, pitch_ids, (bias,), name=model.path.name,
                tokenizer=model.tokenizer, step=bar.update)
            combined.extra.update(stm_extra)
            results[STM_KEY] = combined
    if baseline:
        train = read_sequences(data_dir, "train")
        valid = read_sequences(data_dir, "valid")
        results["baseline"] = evaluate_ngram(train, valid, sequences, tokenizer.vocab_size,
                                             pitch_ids, progress=progress)
    return results


def _bar(total: int, desc: str, unit: str, enabled: bool) -> Any:
    """A progress bar on stderr, shown only when enabled and stderr is a terminal."""
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, leave=False,
                disable=not enabled or not sys.stderr.isatty())


def format_table(results: dict[str, EvalResult], title: str) -> str:
    """A one-screen table of the results."""
    width = max(10, *(len(key) + 1 for key in results))
    lines = [title, f"{'':{width}}{'name':28}{'bits/note':>10}{'nats/tok':>10}{'ppl':>8}"
                    f"{'acc':>7}{'notes':>9}"]
    for key, r in results.items():
        acc = f"{r.accuracy:7.3f}" if r.correct else f"{'-':>7}"
        lines.append(f"{key:{width}}{r.name[:27]:28}{r.bits_per_note:10.3f}"
                     f"{r.nats_per_token:10.3f}{r.perplexity:8.2f}{acc}{r.notes:9,}")
    if STM_KEY in results:
        lines += _stm_note(results[STM_KEY].extra)
    return "\n".join(lines)


def _stm_note(extra: dict[str, Any]) -> list[str]:
    """What the STM row is, and which bias it used and why."""
    bias = f"{extra['stm_bias']:g}"
    if extra["stm_bias_from"] == "given":
        how = f"bias {bias}, given"
    else:
        tried = ", ".join(f"{b}: {v:.4f}" for b, v in
                          extra["valid_nats_per_token_by_bias"].items())
        how = f"bias {bias}, the lowest valid nats/token of {tried}"
    return [f"{STM_KEY}: the model combined with a short-term model of each melody (PPM*, "
            "learnt as it is read)", f"  {how}"]
