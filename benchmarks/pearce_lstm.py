"""The LSTM rows of benchmarks/pearce.py: per seed and fold, every choice on the inner split.

For each fold, a tenth of its training melodies (drawn with the run's seed) is the inner
validation set; the rest trains. On the inner set: early stopping, the network of `GRID` (or
the fine-tuning rate of `FINETUNE_GRID`), the dynamic-evaluation step of `DYNAMIC_LRS` and the
short-term model's bias of `STM_BIASES`, each by bits per note. The test fold is scored once
with what was chosen, and every choice is written in the row's config.
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Sequence
from typing import Any

import torch
from pearce import Folds, make_row, training_set

from melodyrnn.core.melody import Melody
from melodyrnn.evaluate import pitch_lstm
from melodyrnn.evaluate.leakage import find_leaks, leak_report
from melodyrnn.prepare.corpus import load_corpus

GRID = [  # networks trained on the nine folds alone: the inner split picks one per fold
    {"cell": "lstm", "embedding_dim": 32, "hidden_size": 128, "num_layers": 1, "dropout": 0.3},
    {"cell": "lstm", "embedding_dim": 32, "hidden_size": 256, "num_layers": 1, "dropout": 0.5},
]
TRAINING = {"lr": 3e-3, "batch_size": 16, "max_epochs": 60, "patience": 8}
PRETRAIN_OPTIONS = {"cell": "lstm", "embedding_dim": 64, "hidden_size": 256, "num_layers": 1,
                    "dropout": 0.3}
PRETRAIN_TRAINING = {"lr": 3e-3, "batch_size": 32, "max_epochs": 16, "patience": 2,
                     "valid_share": 0.05}
FINETUNE_GRID = (3e-4, 1e-3)  # Adam rates for fine-tuning, picked per fold
FINETUNE_TRAINING = {"batch_size": 16, "max_epochs": 30, "patience": 4}
VALID_SHARE = 0.1  # of each fold's training melodies: the inner split
DYNAMIC_LRS = (0.001, 0.003, 0.01, 0.03)
STM_BIASES = (1.0, 2.0, 4.0, 7.0)
KINDS = ("static", "dynamic", "static+stm", "dynamic+stm")


def _per_note(total: list[float], seqs: Sequence[Sequence[int]]) -> float:
    return sum(total) / sum(map(len, seqs))


def score_fold(model: Any, valid: list[list[int]], test: list[list[int]],
               index: dict[int, int], alphabet: list[int]) -> tuple[dict[str, float],
                                                                   dict[str, Any]]:
    """Total bits of the test fold for each of KINDS, and the choices the inner split made."""
    scored = len(alphabet)
    bits, dists = pitch_lstm.bits, pitch_lstm.note_distributions
    static_valid = dists(model, valid, index, scored)
    by_lr = {lr: dists(copy.deepcopy(model), valid, index, scored, lr) for lr in DYNAMIC_LRS}
    lr = min(DYNAMIC_LRS, key=lambda r: sum(bits(by_lr[r], valid, index)))
    choice: dict[str, Any] = {"dynamic_lr": lr}
    stm_valid = pitch_lstm.stm_distributions(valid, alphabet)  # the same for every bias
    for kind, base in (("static", static_valid), ("dynamic", by_lr[lr])):
        choice[f"{kind}_stm_bias"] = min(STM_BIASES, key=lambda b: sum(bits(
            pitch_lstm.with_stm(base, stm_valid, b), valid, index)))
    static = dists(model, test, index, scored)
    dynamic = dists(copy.deepcopy(model), test, index, scored, lr)
    out = {"static": sum(bits(static, test, index)), "dynamic": sum(bits(dynamic, test, index))}
    stm_test = pitch_lstm.stm_distributions(test, alphabet)
    for kind, base in (("static", static), ("dynamic", dynamic)):
        combined = pitch_lstm.with_stm(base, stm_test, choice[f"{kind}_stm_bias"])
        out[f"{kind}+stm"] = sum(bits(combined, test, index))
    return out, choice


def _inner_split(train: list[list[int]], seed: int) -> tuple[list[list[int]], list[list[int]]]:
    order = random.Random(seed).sample(train, len(train))
    cut = max(1, round(VALID_SHARE * len(order)))
    return order[cut:], order[:cut]


def _fold_runs(seqs: list[list[int]], folds: Folds, alphabet: list[int], seeds: list[int],
               n_folds: int | None, label: str, fit_fold: Any) -> tuple[
                   dict[str, list[list[float]]], list[list[dict[str, Any]]], list[int]]:
    """Per kind, per seed, the bits of each fold; the choices of each seed and fold; the
    notes of each fold. `fit_fold(fit, valid, seed, f)` gives (model, index, choice)."""
    used = folds[:n_folds] if n_folds else folds
    runs: dict[str, list[list[float]]] = {kind: [] for kind in KINDS}
    choices = []
    for seed in seeds:
        for kind in KINDS:
            runs[kind].append([])
        seed_choices = []
        for f, fold in enumerate(used):
            start = time.perf_counter()
            test = [seqs[i] for i in fold]
            fit, valid = _inner_split(training_set(seqs, folds, f), 1000 * seed + f)
            model, index, choice = fit_fold(fit, valid, seed, f)
            totals, scoring = score_fold(model, valid, test, index, alphabet)
            for kind in KINDS:
                runs[kind][-1].append(totals[kind])
            seed_choices.append({**choice, **scoring})
            print(f"  {label} seed {seed} fold {f}: " + ", ".join(
                f"{kind} {_per_note([totals[kind]], test):.4f}" for kind in KINDS)
                + f" ({choice}, {scoring}; {time.perf_counter() - start:.0f} s)", flush=True)
        choices.append(seed_choices)
    return runs, choices, [sum(len(seqs[i]) for i in fold) for fold in used]


def _rows(prefix: str, runs: dict[str, list[list[float]]], fold_notes: list[int],
          config: dict[str, Any], seconds: float, both: list[float],
          folds: int) -> list[dict[str, Any]]:
    names = {"static": prefix, "dynamic": f"{prefix} + dynamic evaluation",
             "static+stm": f"{prefix} + STM", "dynamic+stm": f"{prefix} + dynamic evaluation + STM"}
    rows = [make_row(names[kind], runs[kind], fold_notes, config, seconds,
                     both=both[:len(fold_notes)]) for kind in KINDS]
    if len(fold_notes) < folds:  # a timing run: say which folds the figure covers
        for row in rows:
            row["folds_evaluated"] = len(fold_notes)
    return rows


def lstm_rows(seqs: list[list[int]], folds: Folds, alphabet: list[int], seeds: list[int],
              both: list[float], n_folds: int | None) -> list[dict[str, Any]]:
    """LSTMs trained on each fold's nine training folds alone."""
    # one thread: networks this small gain nothing from more, and the figures then do not
    # depend on how many cores the machine has
    torch.set_num_threads(1)
    start = time.perf_counter()
    index = {pitch: i for i, pitch in enumerate(alphabet)}

    def fit_fold(fit: list[list[int]], valid: list[list[int]], seed: int,
                 f: int) -> tuple[Any, dict[int, int], dict[str, Any]]:
        tried = []
        for k, options in enumerate(GRID):
            model, _, epochs = pitch_lstm.train(fit, valid, index, 1000 * seed + f, options,
                                                TRAINING)
            valid_bits = sum(pitch_lstm.bits(pitch_lstm.note_distributions(
                model, valid, index, len(alphabet)), valid, index))
            tried.append((valid_bits, k, model, epochs))
        valid_bits, k, model, epochs = min(tried, key=lambda t: t[:2])
        return model, index, {"network": k, "epochs": epochs}

    runs, choices, fold_notes = _fold_runs(seqs, folds, alphabet, seeds, n_folds, "LSTM",
                                           fit_fold)
    config = {"grid": GRID, **TRAINING, "inner_valid_share": VALID_SHARE,
              "dynamic_lrs": DYNAMIC_LRS, "stm_biases": STM_BIASES, "stm": pitch_lstm.STM_OPTIONS,
              "chosen_on": "each fold's inner split (a tenth of its training melodies)",
              "choices": choices, "seeds": seeds, "tokens": "BOS + pitches + EOS"}
    return _rows("LSTM trained on the nine folds", runs, fold_notes, config,
                 time.perf_counter() - start, both, len(folds))


def pretraining_pool(melodies: list[Melody], source: str,
                     corpus: str) -> tuple[list[list[int]], dict[str, Any]]:
    """The pitch sequences of `corpus` less the set's own file and every melody that copies a
    melody of the set, and the counts of what was dropped and why."""
    pool = [m for m in load_corpus(corpus) if m.notes]
    others = [m for m in pool if not str(m.source).startswith(source)]
    leaks = find_leaks(others, melodies)
    dropped = {leak.index for leak in leaks}
    kept = [[n.pitch for n in m.notes] for i, m in enumerate(others) if i not in dropped]
    report = {"corpus": corpus, "melodies": len(pool), "dropped_same_file": len(pool) - len(others),
              **leak_report(leaks, len(others)),
              "copies": [{"pool": str(others[leak.index].source),
                          "set": str(melodies[leak.held_out].source), "rule": leak.rule}
                         for leak in leaks]}
    return kept, report


def pretrain_rows(melodies: list[Melody], source: str, seqs: list[list[int]], folds: Folds,
                  alphabet: list[int], corpus: str, seeds: list[int], both: list[float],
                  n_folds: int | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One network per seed pre-trained on the leak-free pool, fine-tuned per fold."""
    start = time.perf_counter()
    pool, report = pretraining_pool(melodies, source, corpus)
    print(f"pre-training pool {corpus}: {report['kept']} melodies kept, "
          f"{report['dropped_same_file']} of the set's file and {report['dropped']} copies of "
          f"its melodies dropped ({report['dropped_by_rule']})", flush=True)
    # the set's alphabet first: tokens FIRST_PITCH .. FIRST_PITCH + |A| - 1 are the scored ones
    extra = sorted({pitch for seq in pool for pitch in seq} - set(alphabet))
    index = {pitch: i for i, pitch in enumerate([*alphabet, *extra])}
    pretrained: dict[int, Any] = {}
    epochs: dict[int, int] = {}
    for seed in seeds:
        order = random.Random(seed).sample(pool, len(pool))
        cut = max(1, round(PRETRAIN_TRAINING["valid_share"] * len(order)))
        pretrained[seed], _, epochs[seed] = pitch_lstm.train(
            order[cut:], order[:cut], index, seed, PRETRAIN_OPTIONS, PRETRAIN_TRAINING,
            log=f"pre-training seed {seed}")

    def fit_fold(fit: list[list[int]], valid: list[list[int]], seed: int,
                 f: int) -> tuple[Any, dict[int, int], dict[str, Any]]:
        tried = []
        for lr in FINETUNE_GRID:
            model, loss, _ = pitch_lstm.train(fit, valid, index, 1000 * seed + f, {},
                                              {**FINETUNE_TRAINING, "lr": lr},
                                              model=copy.deepcopy(pretrained[seed]))
            tried.append((loss, lr, model))
        loss, lr, model = min(tried, key=lambda t: t[:2])
        return model, index, {"finetune_lr": lr}

    runs, choices, fold_notes = _fold_runs(seqs, folds, alphabet, seeds, n_folds, "fine-tuned",
                                           fit_fold)
    config = {**PRETRAIN_OPTIONS, "pretrain": {**PRETRAIN_TRAINING, "epochs": epochs},
              "finetune": {**FINETUNE_TRAINING, "lr_grid": FINETUNE_GRID},
              "inner_valid_share": VALID_SHARE, "dynamic_lrs": DYNAMIC_LRS,
              "stm_biases": STM_BIASES, "choices": choices, "seeds": seeds,
              "vocabulary_pitches": len(index),
              "scored": f"softmax renormalised over the set's {len(alphabet)} pitches"}
    size = f"{PRETRAIN_OPTIONS['num_layers']}x{PRETRAIN_OPTIONS['hidden_size']}"
    rows = _rows(f"LSTM {size} pre-trained on {corpus} (leak-free), fine-tuned", runs,
                 fold_notes, config, time.perf_counter() - start, both, len(folds))
    return rows, report
