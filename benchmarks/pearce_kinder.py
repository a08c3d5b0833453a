"""Pearce's melody-prediction protocol on Essen kinder, beside the published figures.

The protocol of Pearce & Wiggins (2004, JNMR, "Improved methods for statistical modelling of
monophonic music") and Pearce (2005, PhD thesis): the 213 melodies (8,393 notes) of Essen
kinder0.abc, 10-fold cross-validation, and the cross-entropy of each note's chromatic pitch in
bits per note, averaged over every note (the first note of a melody included: its context is
empty, so order 0 and the uniform order -1 model predict it). The alphabet is every pitch in
the whole set (IDyOM's viewpoint domain; 27 for kinder). Folds: the melody indices are shuffled
with `random.Random(seed)` and fold f takes positions f, f + k, f + 2k, ... of that order
(IDyOM draws its own random partition, which cannot be rebuilt here).

PPM rows use melodyrnn.evaluate.ppm.PPMModel with IDyOM's mixture (exclusion in the interpolation,
renormalised; order -1 = 1 / (|A| + 1 - q)); variant rows show what each detail is worth.
The published PPM* figure is matched by IDyOM's default long-term model, which has no update
exclusion (with it, PPM* scores about 2.70 here); LTM+ comes out about 0.026 bits below its
published figure on every partition tried. About a minute on one CPU core.

LSTM rows (`--lstm`, not in the default run) train a small MelodyLSTM per fold in plain
PyTorch on pitch tokens and score the same notes, without and with dynamic evaluation (an SGD
step after each note, its size picked on held-out training melodies). About 6 s a fold on 2
idle CPU cores (the whole run with --lstm: under 2 minutes); `--lstm-folds 1` runs one fold.

`--pretrain essen` (with --lstm) adds two rows: one network pre-trained once on the rest of
Essen (every melody of kinder0.abc dropped, and any other melody with the same pitch sequence
as a kinder melody), then, per fold, a copy fine-tuned on the nine training folds at a smaller
learning rate, scored static and with dynamic evaluation. Its vocabulary holds every pitch of
Essen and kinder; each kinder note is scored with the softmax renormalised over the kinder
alphabet (the 27 pitches the other rows predict over), as the other LSTM rows renormalise over
their pitch tokens. Pre-training takes about 16 epochs of 15 s on 2 CPU cores and each fold
about 7 s: the whole run with --lstm --pretrain essen takes about 7 minutes.

    python benchmarks/pearce_kinder.py
    python benchmarks/pearce_kinder.py --corpus essen-kinder --folds 10 --seed 0 --lstm
    python benchmarks/pearce_kinder.py --lstm --pretrain essen
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from melodyrnn.evaluate.ppm import PPMModel, combine_geometric, cross_entropy
from melodyrnn.prepare.corpus import load_corpus

RESULTS = Path(__file__).resolve().parent / "results" / "pearce_kinder.json"

PPM_STAR = {"order_bound": None, "escape": "C", "interpolated": True, "exclusion": True,
            "update_exclusion": False, "selection": "deterministic", "order_minus1": "idyom"}
ORDER_2 = {**PPM_STAR, "order_bound": 2}
STM = {**PPM_STAR, "escape": "X", "update_exclusion": True}  # IDyOM's default STM
LTM_STM_BIAS = 7.0  # IDyOM's default *ltm-stm-bias*, geometric combination

# name, PPMModel options, learn from test melodies (LTM+), published bits/note or None, note
ROWS: list[tuple[str, dict[str, Any], bool, float | None, str]] = [
    ("n-gram order 2, interpolated, escape C", ORDER_2, False, 2.613, ""),
    ("PPM* (escape C, interpolated, unbounded order, no update exclusion)", PPM_STAR, False,
     2.428, "IDyOM's default LTM; with update exclusion see the variant rows"),
    ("LTM+ (the PPM* row, also learning each test melody as it is read)", PPM_STAR, True,
     2.237, ""),
]
BOTH_ROW = ("BOTH+ (LTM+ with a per-melody STM: PPM* escape X, update exclusion; "
            "geometric combination, bias 7)", 2.106)
VARIANTS: list[tuple[str, dict[str, Any], bool]] = [
    ("variant: order 2, Witten-Bell (no exclusion, uniform order -1)",
     {**ORDER_2, "exclusion": False, "order_minus1": "uniform"}, False),
    ("variant: order 2, no exclusion", {**ORDER_2, "exclusion": False}, False),
    ("variant: order 2, uniform order -1", {**ORDER_2, "order_minus1": "uniform"}, False),
    ("variant: order 2, update exclusion", {**ORDER_2, "update_exclusion": True}, False),
    ("variant: order 2, backoff", {**ORDER_2, "interpolated": False}, False),
    ("variant: order 1", {**ORDER_2, "order_bound": 1}, False),
    ("variant: order 3", {**ORDER_2, "order_bound": 3}, False),
    ("variant: order 3, update exclusion",
     {**ORDER_2, "order_bound": 3, "update_exclusion": True}, False),
    ("variant: order 4", {**ORDER_2, "order_bound": 4}, False),
    ("variant: PPM*, update exclusion", {**PPM_STAR, "update_exclusion": True}, False),
    ("variant: PPM*, Witten-Bell (no exclusion, uniform order -1)",
     {**PPM_STAR, "exclusion": False, "order_minus1": "uniform"}, False),
    ("variant: PPM*, Witten-Bell, update exclusion",
     {**PPM_STAR, "exclusion": False, "order_minus1": "uniform", "update_exclusion": True},
     False),
    ("variant: PPM*, longest matching context", {**PPM_STAR, "selection": "longest"}, False),
    ("variant: PPM*, backoff, update exclusion (classic PPM*)",
     {**PPM_STAR, "interpolated": False, "update_exclusion": True}, False),
    *((f"variant: PPM*, escape {e}", {**PPM_STAR, "escape": e}, False) for e in "ABDX"),
    ("variant: LTM+, update exclusion", {**PPM_STAR, "update_exclusion": True}, True),
]


def pitch_sequences(corpus: str) -> list[list[int]]:
    """The MIDI pitch of every note of every melody of a corpus or prepared dataset."""
    return [[note.pitch for note in melody.notes] for melody in load_corpus(corpus)]


def make_folds(n_items: int, k: int, seed: int) -> list[list[int]]:
    """k disjoint, sorted lists of item indices from a seeded shuffle (sizes differ by <= 1)."""
    order = list(range(n_items))
    random.Random(seed).shuffle(order)
    return [sorted(order[f::k]) for f in range(k)]


def training_set(seqs: list[list[int]], folds: list[list[int]], f: int) -> list[list[int]]:
    """Every melody outside fold f, in index order."""
    return [seqs[i] for g, fold in enumerate(folds) if g != f for i in fold]


def evaluate_ppm(seqs: list[list[int]], folds: list[list[int]], alphabet: list[int],
                 options: dict[str, Any], learn: bool) -> tuple[float, int]:
    """(bits per note, notes) of a PPM model trained on the other folds, fold by fold."""
    total, notes = 0.0, 0
    for f, fold in enumerate(folds):
        model = PPMModel(alphabet, **options).fit(training_set(seqs, folds, f))
        bits, count = cross_entropy(model, [seqs[i] for i in fold], learn=learn)
        total, notes = total + bits, notes + count
    return total / notes, notes


def evaluate_both(seqs: list[list[int]], folds: list[list[int]], alphabet: list[int],
                  bias: float) -> tuple[float, int]:
    """(bits per note, notes) of LTM+ combined with a short-term model of each melody alone."""
    index = {pitch: i for i, pitch in enumerate(alphabet)}
    total, notes = 0.0, 0
    for f, fold in enumerate(folds):
        ltm = PPMModel(alphabet, **PPM_STAR).fit(training_set(seqs, folds, f))
        for i in fold:
            seq, stm = seqs[i], PPMModel(alphabet, **STM)
            for j, pitch in enumerate(seq):
                dist = combine_geometric([ltm.distribution(seq[:j]), stm.distribution(seq[:j])],
                                         bias)
                total -= math.log2(dist[index[pitch]])
                ltm.observe(seq[:j], pitch)
                stm.observe(seq[:j], pitch)
            notes += len(seq)
    return total / notes, notes


def _row(name: str, bits: float, notes: int, k: int, config: dict[str, Any],
         published: float | None, seconds: float, note: str = "") -> dict[str, Any]:
    row: dict[str, Any] = {"name": name, "bits_per_note": round(bits, 4), "notes": notes,
                           "folds": k}
    if published is not None:
        row["published"] = published
    row["config"] = config
    row["seconds"] = round(seconds, 1)
    if note:
        row["note"] = note
    print(f"{name[:78]:<78} {bits:7.4f}  "
          + (f"{published:6.3f} {bits - published:+7.4f}" if published is not None else ""),
          flush=True)
    return row


def ppm_rows(seqs: list[list[int]], folds: list[list[int]], alphabet: list[int],
             variants: bool) -> list[dict[str, Any]]:
    """The published PPM rows, BOTH+, and (with `variants`) what each model detail is worth."""
    rows = []
    for name, options, learn, published, note in ROWS:
        start = time.perf_counter()
        bits, notes = evaluate_ppm(seqs, folds, alphabet, options, learn)
        rows.append(_row(name, bits, notes, len(folds), {**options, "learn": learn}, published,
                         time.perf_counter() - start, note))
    start = time.perf_counter()
    bits, notes = evaluate_both(seqs, folds, alphabet, LTM_STM_BIAS)
    config = {"ltm": PPM_STAR, "stm": STM, "combination": "geometric", "bias": LTM_STM_BIAS,
              "learn": True}
    rows.append(_row(BOTH_ROW[0], bits, notes, len(folds), config, BOTH_ROW[1],
                     time.perf_counter() - start))
    for name, options, learn in VARIANTS if variants else []:
        start = time.perf_counter()
        bits, notes = evaluate_ppm(seqs, folds, alphabet, options, learn)
        rows.append(_row(name, bits, notes, len(folds), {**options, "learn": learn}, None,
                         time.perf_counter() - start))
    return rows


# ---- LSTM rows (--lstm): torch is imported only here --------------------------------------

LSTM_OPTIONS = {"cell": "lstm", "embedding_dim": 32, "hidden_size": 128, "num_layers": 1,
                "dropout": 0.3}
LSTM_TRAINING = {"lr": 3e-3, "batch_size": 16, "max_epochs": 60, "patience": 8,
                 "valid_share": 0.1}
PRETRAIN_OPTIONS = {"cell": "lstm", "embedding_dim": 64, "hidden_size": 256, "num_layers": 1,
                    "dropout": 0.3}
PRETRAIN_TRAINING = {"lr": 3e-3, "batch_size": 32, "max_epochs": 16, "patience": 2,
                     "valid_share": 0.05}
FINETUNE_TRAINING = {"lr": 5e-4, "batch_size": 16, "max_epochs": 30, "patience": 4,
                     "valid_share": 0.1}
KINDER_SOURCE = "music21:essenFolksong/kinder0.abc"  # prefix of every kinder melody's source
DYNAMIC_LRS = (0.001, 0.003, 0.01, 0.03)  # SGD step sizes tried on each fold's validation melodies
PAD, BOS, EOS, FIRST_PITCH = 0, 1, 2, 3  # token ids; pitch i of the alphabet is 3 + i


def _batch(seqs: list[list[int]], index: dict[int, int]) -> tuple[Any, Any]:
    """(inputs, targets), each (B, T): BOS + pitches in, pitches + EOS out, PAD-padded."""
    import torch

    tokens = [[BOS, *(FIRST_PITCH + index[p] for p in seq), EOS] for seq in seqs]
    width = max(map(len, tokens)) - 1
    ids = torch.full((len(tokens), width + 1), PAD, dtype=torch.long)
    for row, toks in enumerate(tokens):
        ids[row, :len(toks)] = torch.tensor(toks)
    return ids[:, :-1], ids[:, 1:]


def _pitch_log_probs(logits: Any, scored: int | None = None) -> Any:
    """log p over pitch tokens only (B, T, |A|): the pitch cross-entropy ignores BOS/EOS/PAD.

    With `scored`, only the first `scored` pitch tokens (the kinder alphabet, which a
    pre-training vocabulary puts first) share the probability mass.
    """
    return logits[..., FIRST_PITCH:FIRST_PITCH + scored if scored else None].log_softmax(-1)


def _mean_loss(model: Any, seqs: list[list[int]], index: dict[int, int]) -> float:
    """Mean nats per target token (EOS included) of `seqs`, dropout off."""
    import torch

    from melodyrnn.models.network import sequence_loss

    model.eval()
    with torch.no_grad():
        inputs, targets = _batch(seqs, index)
        return float(sequence_loss(model(inputs)[0], targets, PAD))


def train_lstm(train: list[list[int]], valid: list[list[int]], index: dict[int, int],
               seed: int, options: dict[str, Any] = LSTM_OPTIONS,
               training: dict[str, Any] = LSTM_TRAINING, model: Any = None,
               log: str = "") -> Any:
    """A MelodyLSTM fitted with Adam, stopped early on `valid`, at its best validation epoch.

    With `model` (a network to fine-tune, changed in place) its own validation loss is the one
    to beat, so fine-tuning that never helps gives the model back unchanged.
    """
    import torch

    from melodyrnn.models.network import MelodyLSTM, sequence_loss

    torch.manual_seed(seed)
    rng = random.Random(seed)
    best, best_state, stale = math.inf, None, 0
    if model is None:
        model = MelodyLSTM(FIRST_PITCH + len(index), pad_id=PAD, **options)
    else:
        best = _mean_loss(model, valid, index)
        best_state = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.Adam(model.parameters(), lr=training["lr"])
    for epoch in range(training["max_epochs"]):
        model.train()
        order = rng.sample(train, len(train))
        epoch_start = time.perf_counter()
        for b in range(0, len(order), training["batch_size"]):
            inputs, targets = _batch(order[b:b + training["batch_size"]], index)
            loss = sequence_loss(model(inputs)[0], targets, PAD)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        loss = _mean_loss(model, valid, index)
        if log:
            print(f"  {log} epoch {epoch}: {loss / math.log(2):.4f} bits per validation token, "
                  f"{time.perf_counter() - epoch_start:.0f} s", flush=True)
        if loss < best - 1e-4:
            best, stale = loss, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= training["patience"]:
                break
    model.load_state_dict(best_state)
    return model


def lstm_bits(model: Any, seqs: list[list[int]], index: dict[int, int],
              dynamic_lr: float | None, scored: int | None = None) -> float:
    """Total bits of every pitch of `seqs`; with `dynamic_lr`, an SGD step after each note.

    `scored`: renormalise over the first `scored` pitch tokens only (see `_pitch_log_probs`).

    Dynamic evaluation carries the state through each melody and keeps the adapted weights
    from one test melody to the next (as LTM+ keeps its counts); the caller passes a copy.
    """
    import torch

    from melodyrnn.models.network import detach_state

    model.eval()  # no dropout while scoring, also while adapting
    if dynamic_lr is None:
        with torch.no_grad():
            inputs, targets = _batch(seqs, index)
            log_probs = _pitch_log_probs(model(inputs)[0], scored)  # (B, T, |A|)
            pitch = targets >= FIRST_PITCH
            picked = log_probs.gather(-1, (targets - FIRST_PITCH).clamp(min=0).unsqueeze(-1))
            return float(-picked.squeeze(-1)[pitch].sum()) / math.log(2)
    optimizer = torch.optim.SGD(model.parameters(), lr=dynamic_lr)
    total = 0.0
    for seq in seqs:
        inputs, targets = _batch([seq], index)
        state = None
        for t in range(len(seq)):
            logits, state = model(inputs[:, t:t + 1], state)  # one note: (1, 1, V)
            loss = -_pitch_log_probs(logits, scored)[0, 0, int(targets[0, t]) - FIRST_PITCH]
            total += float(loss.detach()) / math.log(2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            state = detach_state(state)
    return total


def evaluate_lstm_fold(train: list[list[int]], test: list[list[int]], alphabet: list[int],
                       seed: int, pretrained: Any = None,
                       index: dict[int, int] | None = None) -> tuple[float, float, float]:
    """(static bits, dynamic bits, dynamic step size) of one fold's test melodies.

    With `pretrained` (and its vocabulary `index`), a copy of it is fine-tuned instead of a
    fresh network trained, and notes are scored over the `alphabet` pitches only.
    """
    import copy

    scored = len(alphabet) if pretrained is not None else None
    index = index or {pitch: i for i, pitch in enumerate(alphabet)}
    training = FINETUNE_TRAINING if pretrained is not None else LSTM_TRAINING
    order = random.Random(seed).sample(train, len(train))
    cut = max(1, round(training["valid_share"] * len(order)))
    valid, fit = order[:cut], order[cut:]
    model = train_lstm(fit, valid, index, seed, training=training,
                       model=copy.deepcopy(pretrained) if pretrained is not None else None)
    best_lr = min(DYNAMIC_LRS,
                  key=lambda lr: lstm_bits(copy.deepcopy(model), valid, index, lr, scored))
    static = lstm_bits(model, test, index, None, scored)
    dynamic = lstm_bits(copy.deepcopy(model), test, index, best_lr, scored)
    return static, dynamic, best_lr


def _fold_loop(seqs: list[list[int]], folds: list[list[int]], alphabet: list[int],
               n_folds: int | None, seed: int, label: str,
               **pretrained: Any) -> tuple[float, float, int, list[float], int]:
    """(static bits, dynamic bits, notes, step sizes, folds used) over the first `n_folds`."""
    static = dynamic = 0.0
    notes, lrs = 0, []
    used = folds[:n_folds] if n_folds else folds
    for f, fold in enumerate(used):
        fold_start = time.perf_counter()
        test = [seqs[i] for i in fold]
        s, d, lr = evaluate_lstm_fold(training_set(seqs, folds, f), test, alphabet, seed + f,
                                      **pretrained)
        static, dynamic, notes = static + s, dynamic + d, notes + sum(map(len, test))
        lrs.append(lr)
        print(f"  {label} fold {f}: {s / sum(map(len, test)):.4f} static, "
              f"{d / sum(map(len, test)):.4f} dynamic (lr {lr}), "
              f"{time.perf_counter() - fold_start:.0f} s", flush=True)
    return static, dynamic, notes, lrs, len(used)


def lstm_rows(seqs: list[list[int]], folds: list[list[int]], alphabet: list[int],
              n_folds: int | None, seed: int) -> list[dict[str, Any]]:
    """LSTM rows, static and with dynamic evaluation, over the first `n_folds` folds."""
    start = time.perf_counter()
    static, dynamic, notes, lrs, used = _fold_loop(seqs, folds, alphabet, n_folds, seed, "LSTM")
    seconds = time.perf_counter() - start
    config = {**LSTM_OPTIONS, **LSTM_TRAINING, "tokens": "BOS + pitches + EOS",
              "scored": "log-softmax over pitch tokens only"}
    rows = [
        _row(f"LSTM {LSTM_OPTIONS['num_layers']}x{LSTM_OPTIONS['hidden_size']}, trained per fold",
             static / notes, notes, len(folds), config, None, seconds),
        _row("LSTM + dynamic evaluation (SGD step after each note)", dynamic / notes, notes,
             len(folds), {**config, "dynamic_lr_per_fold": lrs}, None, seconds),
    ]
    if used < len(folds):  # a timing run: say which folds the figure covers
        for row in rows:
            row["folds_evaluated"] = used
    return rows


def pretraining_set(corpus: str, kinder: list[list[int]]) -> tuple[list[list[int]], int, int]:
    """(pitch sequences, kinder melodies dropped, duplicates dropped) of `corpus` less kinder.

    Every melody from kinder0.abc goes, and so does any other melody whose pitch sequence is
    that of a kinder melody (the same song filed twice), so no test melody is seen in advance.
    """
    melodies = load_corpus(corpus)
    rest = [m for m in melodies if not str(m.source).startswith(KINDER_SOURCE)]
    seen = {tuple(seq) for seq in kinder}
    seqs = [s for s in ([note.pitch for note in m.notes] for m in rest) if s]
    kept = [s for s in seqs if tuple(s) not in seen]
    return kept, len(melodies) - len(rest), len(seqs) - len(kept)


def pretrain_rows(seqs: list[list[int]], folds: list[list[int]], alphabet: list[int],
                  corpus: str, n_folds: int | None, seed: int) -> list[dict[str, Any]]:
    """Pre-train one network on `corpus` less kinder; fine-tune a copy per fold; score it."""
    start = time.perf_counter()
    essen, kinder_dropped, duplicates = pretraining_set(corpus, seqs)
    # kinder's alphabet first, so tokens FIRST_PITCH .. FIRST_PITCH + |A| - 1 are the scored ones
    extra = sorted({pitch for seq in essen for pitch in seq} - set(alphabet))
    index = {pitch: i for i, pitch in enumerate([*alphabet, *extra])}
    order = random.Random(seed).sample(essen, len(essen))
    cut = max(1, round(PRETRAIN_TRAINING["valid_share"] * len(order)))
    print(f"pre-training on {corpus}: {len(essen)} melodies, {sum(map(len, essen))} notes "
          f"({kinder_dropped} kinder melodies and {duplicates} duplicates of them dropped), "
          f"{len(index)} pitches", flush=True)
    pretrained = train_lstm(order[cut:], order[:cut], index, seed, options=PRETRAIN_OPTIONS,
                            training=PRETRAIN_TRAINING, log="pre-training")
    pretrain_seconds = time.perf_counter() - start
    static, dynamic, notes, lrs, used = _fold_loop(
        seqs, folds, alphabet, n_folds, seed, "fine-tuned", pretrained=pretrained, index=index)
    seconds = time.perf_counter() - start
    size = f"{PRETRAIN_OPTIONS['num_layers']}x{PRETRAIN_OPTIONS['hidden_size']}"
    config = {**PRETRAIN_OPTIONS, "pretrain": {
                  "corpus": corpus, "melodies": len(essen), "notes": sum(map(len, essen)),
                  "dropped_kinder": kinder_dropped, "dropped_duplicates": duplicates,
                  **PRETRAIN_TRAINING, "seconds": round(pretrain_seconds, 1)},
              "finetune": FINETUNE_TRAINING, "vocabulary_pitches": len(index),
              "tokens": "BOS + pitches + EOS",
              "scored": f"log-softmax renormalised over the {len(alphabet)} kinder pitches"}
    rows = [
        _row(f"LSTM {size} pre-trained on Essen (kinder excluded), fine-tuned per fold",
             static / notes, notes, len(folds), config, None, seconds),
        _row("LSTM pre-trained on Essen, fine-tuned + dynamic evaluation", dynamic / notes,
             notes, len(folds), {**config, "dynamic_lr_per_fold": lrs}, None, seconds),
    ]
    if used < len(folds):
        for row in rows:
            row["folds_evaluated"] = used
    return rows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python benchmarks/pearce_kinder.py --folds 10 --seed 0 --lstm",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="essen-kinder",
                        help="a corpus name, recipe, folder of music or prepared dataset")
    parser.add_argument("--folds", type=int, default=10, help="cross-validation folds")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fold shuffle")
    parser.add_argument("--no-variants", action="store_true",
                        help="only the rows with a published figure")
    parser.add_argument("--lstm", action="store_true",
                        help="also train a small LSTM per fold (static and dynamic evaluation)")
    parser.add_argument("--lstm-folds", type=int, default=None,
                        help="evaluate the LSTM on the first N folds only (a timing run)")
    parser.add_argument("--pretrain", metavar="CORPUS", default=None,
                        help="with --lstm: also pre-train one LSTM on CORPUS (e.g. essen) with "
                             "kinder0.abc left out, and fine-tune it per fold")
    parser.add_argument("--out", type=Path, default=RESULTS, help="JSON file to write")
    args = parser.parse_args(argv)
    if args.folds < 2:
        parser.error(f"--folds has to be at least 2, got {args.folds}")
    if args.lstm_folds is not None and not 1 <= args.lstm_folds <= args.folds:
        parser.error(f"--lstm-folds has to be between 1 and --folds, got {args.lstm_folds}")
    if args.pretrain and not args.lstm:
        parser.error("--pretrain needs --lstm")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    seqs = [s for s in pitch_sequences(args.corpus) if s]
    if len(seqs) < args.folds:
        print(f"{args.corpus}: {len(seqs)} melodies cannot fill {args.folds} folds",
              file=sys.stderr)
        return 2
    alphabet = sorted({pitch for seq in seqs for pitch in seq})
    folds = make_folds(len(seqs), args.folds, args.seed)
    print(f"{args.corpus}: {len(seqs)} melodies, {sum(map(len, seqs))} notes, "
          f"{len(alphabet)} pitches ({alphabet[0]}-{alphabet[-1]}), {args.folds} folds, "
          f"seed {args.seed}")
    print(f"{'model':<78} {'bits':>7}  {'publ.':>6} {'diff':>7}")
    rows = ppm_rows(seqs, folds, alphabet, variants=not args.no_variants)
    if args.lstm:
        rows += lstm_rows(seqs, folds, alphabet, args.lstm_folds, args.seed)
    if args.pretrain:
        rows += pretrain_rows(seqs, folds, alphabet, args.pretrain, args.lstm_folds, args.seed)
    for row in rows:
        row.update(corpus=args.corpus, seed=args.seed, alphabet_size=len(alphabet))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {len(rows)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
