"""Held-out likelihood of a model and of a smoothed n-gram baseline on the same split.

Every sequence of the split is scored whole, from BOS on (the first token is given), so the
figures do not depend on batching or window length. With N the number of predicted tokens,
the figures (nats per token, perplexity, bits per note, accuracy) are those of
`models.likelihood`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from melodyrnn.errors import ConfigError, CorpusError
from melodyrnn.evaluate.ngram import NGramModel, best_order
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


def evaluate_network(network: Any, sequences: list[list[int]], pitch_ids: set[int],
                     name: str = "model", batch_size: int = 32,
                     tokenizer: Any = None) -> EvalResult:
    """Score sequences with a network whose forward gives (B, T, V) logits; `tokenizer`
    gives the lookback features of a network with lookback."""
    import torch
    lookback = uses_lookback(network)
    if lookback and tokenizer is None:
        raise ConfigError(f"{name} has lookback inputs: pass the tokenizer of its sequences "
                          "so their lookback features can be computed")
    total, tokens, notes, correct = 0.0, 0, 0, 0
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    network.eval()
    device = next(network.parameters()).device
    is_pitch = torch.zeros(max(max(pitch_ids, default=0) + 1, 1), dtype=torch.bool)
    is_pitch[list(pitch_ids)] = True
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            batch = [sequences[i] for i in order[start:start + batch_size]]
            width = max(len(s) for s in batch)
            ids = torch.full((len(batch), width), -1, dtype=torch.long)
            for row, seq in enumerate(batch):
                ids[row, :len(seq)] = torch.tensor(seq)
            inputs, targets = ids[:, :-1].clamp(min=0).to(device), ids[:, 1:].to(device)
            features = batch_features(tokenizer, [s[:-1] for s in batch], width - 1, device) \
                if lookback else None
            logits, _ = network(inputs, None, features)  # (B, T, V)
            logp = torch.log_softmax(logits.float(), dim=-1)
            real = targets >= 0
            safe = targets.clamp(min=0)
            picked = logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1)  # (B, T)
            total += picked[real].sum().item()
            tokens += int(real.sum())
            correct += int(((logp.argmax(-1) == safe) & real).sum())
            lookup = is_pitch.to(device)
            notes += int((lookup[safe.clamp(max=len(is_pitch) - 1)] & real
                          & (safe < len(is_pitch))).sum())
    return EvalResult(name, total, tokens, notes, correct)


def evaluate_ngram(train: list[list[int]], valid: list[list[int]], test: list[list[int]],
                   alphabet_size: int, pitch_ids: set[int],
                   orders: range = range(1, 9)) -> EvalResult:
    """The n-gram of the order best on `valid` (trained on `train`), scored on `test`."""
    order, by_order = best_order(train, valid or train, alphabet_size, orders)
    model = NGramModel(order, alphabet_size).fit(train)
    total, tokens, notes, correct = 0.0, 0, 0, 0
    for seq in test:
        for i in range(1, len(seq)):
            total += math.log(model.prob(seq[:i], seq[i]))
        tokens += len(seq) - 1
        notes += sum(t in pitch_ids for t in seq[1:])
    return EvalResult(f"{order}-gram (escape C)", total, tokens, notes, correct,
                      extra={"order": order,
                             "valid_nats_per_token_by_order": {str(k): round(v, 4)
                                                               for k, v in by_order.items()}})


def evaluate_dataset(model: Any, data_dir: str | Path, split: str = "test",
                     baseline: bool = True) -> dict[str, EvalResult]:
    """The model and (optionally) the n-gram baseline on one split of a prepared dataset."""
    data_dir = Path(data_dir)
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
    results = {"model": evaluate_network(model.network, sequences, pitch_ids,
                                         name=model.path.name, tokenizer=model.tokenizer)}
    if baseline:
        train = read_sequences(data_dir, "train")
        valid = read_sequences(data_dir, "valid")
        results["baseline"] = evaluate_ngram(train, valid, sequences, tokenizer.vocab_size,
                                             pitch_ids)
    return results


def format_table(results: dict[str, EvalResult], title: str) -> str:
    """A one-screen table of the results."""
    lines = [title, f"{'':10}{'name':28}{'bits/note':>10}{'nats/tok':>10}{'ppl':>8}"
                    f"{'acc':>7}{'notes':>9}"]
    for key, r in results.items():
        acc = f"{r.accuracy:7.3f}" if r.correct else f"{'-':>7}"
        lines.append(f"{key:10}{r.name[:27]:28}{r.bits_per_note:10.3f}{r.nats_per_token:10.3f}"
                     f"{r.perplexity:8.2f}{acc}{r.notes:9,}")
    return "\n".join(lines)
