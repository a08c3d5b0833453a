"""The LSTM rows of benchmarks/pearce.py: per seed and fold, every choice on the inner split.

For each fold, a tenth of its training melodies (drawn with the run's seed) is the inner
validation set; the rest trains. On the inner set: early stopping, the network of `GRID` (or
the fine-tuning rate of `FINETUNE_GRID`), the dynamic-evaluation step of `DYNAMIC_LRS` and the
short-term model's bias of `STM_BIASES`, each by bits per note. The test fold is scored once
with what was chosen, and every choice is written in the row's config.

With several seeds, each row also has an ensemble row: on each test fold, the mean of the
seeds' note distributions (the networks are the ones the seed rows score; no network is
trained for it), and for the rows with the short-term model the median of the seeds' chosen
biases. Each (seed, fold) is a task of its own, so `jobs` processes share them; every task
seeds itself, and the figures do not depend on `jobs`.
"""

from __future__ import annotations

import copy
import multiprocessing
import random
import statistics
import time
import traceback
from collections.abc import Sequence
from typing import Any

import numpy as np
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
# the cap is far above where early stopping ends: at 60 it cut 41 of 120 runs short
TRAINING = {"lr": 3e-3, "batch_size": 16, "max_epochs": 200, "patience": 8}
PRETRAIN_OPTIONS = {"cell": "lstm", "embedding_dim": 64, "hidden_size": 256, "num_layers": 1,
                    "dropout": 0.3}
PRETRAIN_TRAINING = {"lr": 3e-3, "batch_size": 32, "max_epochs": 16, "patience": 2,
                     "valid_share": 0.05}
FINETUNE_GRID = (3e-4, 1e-3)  # Adam rates for fine-tuning, picked per fold
FINETUNE_TRAINING = {"batch_size": 16, "max_epochs": 30, "patience": 4}
VALID_SHARE = 0.1  # of each fold's training melodies: the inner split
DYNAMIC_LRS = (0.001, 0.003, 0.01, 0.03)
STM_BIASES = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0)
KINDS = ("static", "dynamic", "static+stm", "dynamic+stm")


def _per_note(total: list[float], seqs: Sequence[Sequence[int]]) -> float:
    return sum(total) / sum(map(len, seqs))


def score_fold(model: Any, valid: list[list[int]], test: list[list[int]],
               index: dict[int, int], alphabet: list[int]) -> tuple[
                   dict[str, float], dict[str, Any], dict[str, list[np.ndarray]]]:
    """Total bits of the test fold for each of KINDS, the choices the inner split made, and
    the test notes' distributions without the short-term model (static, dynamic)."""
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
    return out, choice, {"static": static, "dynamic": dynamic}


def _inner_split(train: list[list[int]], seed: int) -> tuple[list[list[int]], list[list[int]]]:
    order = random.Random(seed).sample(train, len(train))
    cut = max(1, round(VALID_SHARE * len(order)))
    return order[cut:], order[:cut]


_CONTEXT: dict[str, Any] = {}  # what the tasks read; set before worker processes fork


def _map(function: Any, items: list[Any], jobs: int) -> list[Any]:
    """`function` over `items`, in `jobs` forked processes when more than one. The processes
    inherit `function` and `_CONTEXT` (nothing but items and results is pickled) and take the
    next item as they finish one."""
    if jobs <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    context = multiprocessing.get_context("fork")
    todo, done = context.Queue(), context.Queue()
    for k in range(len(items)):
        todo.put(k)
    workers = [context.Process(target=_worker, args=(function, items, todo, done), daemon=True)
               for _ in range(min(jobs, len(items)))]
    for worker in workers:
        todo.put(None)  # one stop sign each
        worker.start()
    results: dict[int, Any] = {}
    for _ in items:
        k, ok, value = done.get()
        if not ok:
            for worker in workers:
                worker.terminate()
            raise RuntimeError(f"task {items[k]!r} failed:\n{value}")
        results[k] = value
    for worker in workers:
        worker.join()
    return [results[k] for k in range(len(items))]


def _worker(function: Any, items: list[Any], todo: Any, done: Any) -> None:
    while (k := todo.get()) is not None:
        try:
            done.put((k, True, function(items[k])))
        except Exception:  # handed to the parent, which raises it
            done.put((k, False, traceback.format_exc()))


def _fold_task(task: tuple[int, int]) -> tuple[dict[str, float], dict[str, Any],
                                               dict[str, list[np.ndarray]]]:
    """One seed's network for one fold: trained (`fit_fold`), its choices made on the inner
    split, the test fold scored."""
    torch.set_num_threads(1)
    seed, f = task
    seqs, folds, alphabet = _CONTEXT["seqs"], _CONTEXT["folds"], _CONTEXT["alphabet"]
    start = time.perf_counter()
    test = [seqs[i] for i in folds[f]]
    fit, valid = _inner_split(training_set(seqs, folds, f), 1000 * seed + f)
    model, index, choice = _CONTEXT["fit_fold"](fit, valid, seed, f)
    totals, scoring, dists = score_fold(model, valid, test, index, alphabet)
    print(f"  {_CONTEXT['label']} seed {seed} fold {f}: " + ", ".join(
        f"{kind} {_per_note([totals[kind]], test):.4f}" for kind in KINDS)
        + f" ({choice}, {scoring}; {time.perf_counter() - start:.0f} s)", flush=True)
    return totals, {**choice, **scoring}, dists


def _ensemble(members: list[dict[str, list[np.ndarray]]], choices: list[dict[str, Any]],
              test: list[list[int]], alphabet: list[int]) -> dict[str, float]:
    """Total bits of a test fold under the mean of the members' distributions, for each of
    KINDS (with the short-term model at the median of the members' chosen biases)."""
    index = {pitch: i for i, pitch in enumerate(alphabet)}  # the set's pitches come first
    stms = pitch_lstm.stm_distributions(test, alphabet)
    out = {}
    for kind in ("static", "dynamic"):
        mean = [np.mean([member[kind][m] for member in members], axis=0)
                for m in range(len(test))]
        out[kind] = sum(pitch_lstm.bits(mean, test, index))
        bias = statistics.median(choice[f"{kind}_stm_bias"] for choice in choices)
        out[f"{kind}+stm"] = sum(pitch_lstm.bits(pitch_lstm.with_stm(mean, stms, bias), test,
                                                 index))
    return out


Runs = dict[str, list[list[float]]]


def _fold_runs(seqs: list[list[int]], folds: Folds, alphabet: list[int], seeds: list[int],
               n_folds: int | None, label: str, fit_fold: Any, jobs: int) -> tuple[
                   Runs, Runs, list[list[dict[str, Any]]], list[int]]:
    """Per kind, per seed, the bits of each fold; the same for the seeds' ensemble (one run);
    the choices of each seed and fold; the notes of each fold. `fit_fold(fit, valid, seed,
    f)` gives (model, index, choice)."""
    used = list(range(n_folds or len(folds)))
    _CONTEXT.update(seqs=seqs, folds=folds, alphabet=alphabet, fit_fold=fit_fold, label=label)
    results = _map(_fold_task, [(seed, f) for seed in seeds for f in used], jobs)
    by_task = dict(zip([(seed, f) for seed in seeds for f in used], results, strict=True))
    runs: Runs = {kind: [[by_task[seed, f][0][kind] for f in used] for seed in seeds]
                  for kind in KINDS}
    choices = [[by_task[seed, f][1] for f in used] for seed in seeds]
    ensemble: Runs = {kind: [[]] for kind in KINDS}
    for f in used:
        totals = _ensemble([by_task[seed, f][2] for seed in seeds],
                           [by_task[seed, f][1] for seed in seeds],
                           [seqs[i] for i in folds[f]], alphabet)
        for kind in KINDS:
            ensemble[kind][0].append(totals[kind])
    return runs, ensemble, choices, [sum(len(seqs[i]) for i in folds[f]) for f in used]


def _rows(prefix: str, runs: Runs, ensemble: Runs, fold_notes: list[int],
          config: dict[str, Any], seconds: float, both: list[float],
          folds: int) -> list[dict[str, Any]]:
    suffix = {"static": "", "dynamic": " + dynamic evaluation", "static+stm": " + STM",
              "dynamic+stm": " + dynamic evaluation + STM"}
    rows = [make_row(prefix + suffix[kind], runs[kind], fold_notes, config, seconds,
                     both=both[:len(fold_notes)]) for kind in KINDS]
    seeds = len(runs["static"])
    if seeds > 1:
        config = {**config, "ensemble": (
            f"the mean of the {seeds} seeds' note distributions on each test fold; with the "
            "STM, the median of the seeds' chosen biases")}
        rows += [make_row(f"{prefix}, ensemble of {seeds} seeds{suffix[kind]}", ensemble[kind],
                          fold_notes, config, seconds, both=both[:len(fold_notes)])
                 for kind in KINDS]
    if len(fold_notes) < folds:  # a timing run: say which folds the figure covers
        for row in rows:
            row["folds_evaluated"] = len(fold_notes)
    return rows


def lstm_rows(seqs: list[list[int]], folds: Folds, alphabet: list[int], seeds: list[int],
              both: list[float], n_folds: int | None, jobs: int = 1) -> list[dict[str, Any]]:
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

    runs, ensemble, choices, fold_notes = _fold_runs(seqs, folds, alphabet, seeds, n_folds,
                                                     "LSTM", fit_fold, jobs)
    config = {"grid": GRID, **TRAINING, "inner_valid_share": VALID_SHARE,
              "dynamic_lrs": DYNAMIC_LRS, "stm_biases": STM_BIASES, "stm": pitch_lstm.STM_OPTIONS,
              "chosen_on": "each fold's inner split (a tenth of its training melodies)",
              "choices": choices, "seeds": seeds, "tokens": "BOS + pitches + EOS"}
    return _rows("LSTM trained on the nine folds", runs, ensemble, fold_notes, config,
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


def _pretrain(seed: int) -> tuple[dict[str, np.ndarray], int]:
    """(the weights of the network pre-trained on the pool with `seed`, as arrays, its
    epochs). Arrays, not tensors: torch hands tensors between processes through file
    descriptors that close when the worker ends."""
    torch.set_num_threads(1)
    pool = _CONTEXT["pool"]
    order = random.Random(seed).sample(pool, len(pool))
    cut = max(1, round(PRETRAIN_TRAINING["valid_share"] * len(order)))
    model, _, epochs = pitch_lstm.train(order[cut:], order[:cut], _CONTEXT["index"], seed,
                                        PRETRAIN_OPTIONS, PRETRAIN_TRAINING,
                                        log=f"pre-training seed {seed}")
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}, epochs


def pretrain_rows(melodies: list[Melody], source: str, seqs: list[list[int]], folds: Folds,
                  alphabet: list[int], corpus: str, seeds: list[int], both: list[float],
                  n_folds: int | None, jobs: int = 1) -> tuple[list[dict[str, Any]],
                                                               dict[str, Any]]:
    """One network per seed pre-trained on the leak-free pool, fine-tuned per fold."""
    start = time.perf_counter()
    pool, report = pretraining_pool(melodies, source, corpus)
    print(f"pre-training pool {corpus}: {report['kept']} melodies kept, "
          f"{report['dropped_same_file']} of the set's file and {report['dropped']} copies of "
          f"its melodies dropped ({report['dropped_by_rule']})", flush=True)
    # the set's alphabet first: tokens FIRST_PITCH .. FIRST_PITCH + |A| - 1 are the scored ones
    extra = sorted({pitch for seq in pool for pitch in seq} - set(alphabet))
    index = {pitch: i for i, pitch in enumerate([*alphabet, *extra])}
    _CONTEXT.update(pool=pool, index=index)
    trained = dict(zip(seeds, _map(_pretrain, seeds, jobs), strict=True))
    pretrained = {seed: weights for seed, (weights, _) in trained.items()}
    epochs = {seed: n for seed, (_, n) in trained.items()}

    def fit_fold(fit: list[list[int]], valid: list[list[int]], seed: int,
                 f: int) -> tuple[Any, dict[int, int], dict[str, Any]]:
        tried = []
        for lr in FINETUNE_GRID:
            model, loss, epochs = pitch_lstm.train(
                fit, valid, index, 1000 * seed + f, {}, {**FINETUNE_TRAINING, "lr": lr},
                model=pitch_lstm.network(index, PRETRAIN_OPTIONS, pretrained[seed]))
            tried.append((loss, lr, model, epochs))
        loss, lr, model, epochs = min(tried, key=lambda t: t[:2])
        return model, index, {"finetune_lr": lr, "finetune_epochs": epochs}

    runs, ensemble, choices, fold_notes = _fold_runs(seqs, folds, alphabet, seeds, n_folds,
                                                     "fine-tuned", fit_fold, jobs)
    config = {**PRETRAIN_OPTIONS, "pretrain": {**PRETRAIN_TRAINING, "epochs": epochs},
              "finetune": {**FINETUNE_TRAINING, "lr_grid": FINETUNE_GRID},
              "inner_valid_share": VALID_SHARE, "dynamic_lrs": DYNAMIC_LRS,
              "stm_biases": STM_BIASES, "choices": choices, "seeds": seeds,
              "vocabulary_pitches": len(index),
              "scored": f"softmax renormalised over the set's {len(alphabet)} pitches"}
    size = f"{PRETRAIN_OPTIONS['num_layers']}x{PRETRAIN_OPTIONS['hidden_size']}"
    rows = _rows(f"LSTM {size} pre-trained on {corpus} (leak-free), fine-tuned", runs,
                 ensemble, fold_notes, config, time.perf_counter() - start, both, len(folds))
    return rows, report
