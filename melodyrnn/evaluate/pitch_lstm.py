"""Pitch-only LSTMs for melody-prediction protocols (Pearce's cross-validation and the like).

A melody is BOS, its pitches, EOS; pitch i of an alphabet is token `FIRST_PITCH + i`. A network
is a `MelodyLSTM` trained with Adam and stopped early on validation melodies (`train`), and it
scores each note of a test melody by a distribution over the first `scored` pitch tokens
(`note_distributions`): the softmax renormalised over them, as an IDyOM model predicts over
its alphabet. With dynamic evaluation the network takes an SGD step on each note after
predicting it, and keeps the adapted weights from one test melody to the next (as LTM+ keeps
its counts).

Each note's distribution is kept, so a short-term model of the melody can be combined with it
afterwards (`stm_distributions`: a PPM model that learns only the melody being read; `with_stm`:
IDyOM's entropy-weighted geometric mean), at several biases, without running either again.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from melodyrnn.evaluate.ppm import PPMModel, combine_geometric
from melodyrnn.models.network import MelodyLSTM, detach_state, sequence_loss

PAD, BOS, EOS, FIRST_PITCH = 0, 1, 2, 3
# IDyOM's default short-term model: PPM* with escape X and update exclusion
STM_OPTIONS: dict[str, Any] = {
    "order_bound": None, "escape": "X", "interpolated": True, "exclusion": True,
    "update_exclusion": True, "selection": "deterministic", "order_minus1": "idyom"}


def batch(seqs: Sequence[Sequence[int]], index: dict[int, int]) -> tuple[Any, Any]:
    """(inputs, targets), each (B, T): BOS + pitches in, pitches + EOS out, PAD-padded."""
    tokens = [[BOS, *(FIRST_PITCH + index[p] for p in seq), EOS] for seq in seqs]
    width = max(map(len, tokens)) - 1
    ids = torch.full((len(tokens), width + 1), PAD, dtype=torch.long)
    for row, toks in enumerate(tokens):
        ids[row, :len(toks)] = torch.tensor(toks)
    return ids[:, :-1], ids[:, 1:]


def mean_loss(model: Any, seqs: Sequence[Sequence[int]], index: dict[int, int]) -> float:
    """Mean nats per target token (EOS included) of `seqs`, dropout off."""
    model.eval()
    with torch.no_grad():
        inputs, targets = batch(seqs, index)
        return float(sequence_loss(model(inputs)[0], targets, PAD))


def network(index: dict[int, int], options: dict[str, Any],
            weights: dict[str, np.ndarray] | None = None) -> Any:
    """A network over `index`'s pitches, with `weights` (arrays named as in its `state_dict`)
    when given."""
    model = MelodyLSTM(FIRST_PITCH + len(index), pad_id=PAD, **options)
    if weights is not None:
        model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    return model


def train(fit: Sequence[Sequence[int]], valid: Sequence[Sequence[int]], index: dict[int, int],
          seed: int, options: dict[str, Any], training: dict[str, Any], model: Any = None,
          log: str = "") -> tuple[Any, float, int]:
    """(network at its best validation epoch, its validation nats per token, epochs run).

    Adam at `training["lr"]`, batches of `training["batch_size"]`, at most `max_epochs`,
    stopped after `patience` epochs without a better validation loss. With `model` (a network
    to fine-tune, changed in place) its own validation loss is the one to beat, so
    fine-tuning that never helps gives it back unchanged.
    """
    torch.manual_seed(seed)
    rng = random.Random(seed)
    best, best_state, stale, epochs = math.inf, None, 0, 0
    if model is None:
        model = network(index, options)
    else:
        best = mean_loss(model, valid, index)
        best_state = copy.deepcopy(model.state_dict())
    optimizer = torch.optim.Adam(model.parameters(), lr=training["lr"],
                                 weight_decay=training.get("weight_decay", 0.0))
    for epoch in range(training["max_epochs"]):
        model.train()
        order = rng.sample(list(fit), len(fit))
        start = time.perf_counter()
        for b in range(0, len(order), training["batch_size"]):
            inputs, targets = batch(order[b:b + training["batch_size"]], index)
            loss = sequence_loss(model(inputs)[0], targets, PAD)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        epochs = epoch + 1
        loss_value = mean_loss(model, valid, index)
        if log:
            print(f"  {log} epoch {epoch}: {loss_value / math.log(2):.4f} bits per validation "
                  f"token, {time.perf_counter() - start:.0f} s", flush=True)
        if loss_value < best - 1e-4:
            best, stale = loss_value, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
            if stale >= training["patience"]:
                break
    model.load_state_dict(best_state)
    return model, best, epochs


def note_distributions(model: Any, seqs: Sequence[Sequence[int]], index: dict[int, int],
                       scored: int, dynamic_lr: float | None = None) -> list[np.ndarray]:
    """Per melody, an (n_notes, scored) array: each note's distribution over the first
    `scored` pitches, renormalised; with `dynamic_lr`, an SGD step after each note (pass a
    copy: the weights change)."""
    model.eval()  # no dropout while scoring, also while adapting
    out = []
    if dynamic_lr is None:
        with torch.no_grad():
            inputs, _ = batch(seqs, index)
            logits = model(inputs)[0][..., FIRST_PITCH:FIRST_PITCH + scored]
            probs = logits.float().softmax(-1).double().numpy()
        return [probs[row, :len(seq)] for row, seq in enumerate(seqs)]
    optimizer = torch.optim.SGD(model.parameters(), lr=dynamic_lr)
    for seq in seqs:
        inputs, targets = batch([seq], index)
        state, rows = None, []
        for t in range(len(seq)):
            logits, state = model(inputs[:, t:t + 1], state)  # one note: (1, 1, V)
            log_probs = logits[0, 0, FIRST_PITCH:FIRST_PITCH + scored].float().log_softmax(-1)
            rows.append(log_probs.detach().double().exp().numpy())
            loss = -log_probs[int(targets[0, t]) - FIRST_PITCH]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            state = detach_state(state)
        out.append(np.stack(rows))
    return out


def bits(distributions: Sequence[np.ndarray], seqs: Sequence[Sequence[int]],
         index: dict[int, int]) -> list[float]:
    """Total bits of each melody's notes under its distributions."""
    totals = []
    for dist, seq in zip(distributions, seqs, strict=True):
        picked = dist[np.arange(len(seq)), [index[p] for p in seq]]
        totals.append(float(-np.log2(picked).sum()))
    return totals


def stm_distributions(seqs: Sequence[Sequence[int]],
                      alphabet: Sequence[int]) -> list[np.ndarray]:
    """Per melody, an (n_notes, |A|) array: the distributions of a short-term PPM model of the
    melody alone (`STM_OPTIONS`, empty at its first note, learning each note after predicting
    it). They do not depend on the combination's bias, so `with_stm` takes them ready."""
    out = []
    for seq in seqs:
        stm = PPMModel(alphabet, **STM_OPTIONS)
        rows = []
        for j, pitch in enumerate(seq):
            rows.append(stm.distribution(seq[:j]))
            stm.observe(seq[:j], pitch)
        out.append(np.array(rows))
    return out


def with_stm(distributions: Sequence[np.ndarray], stms: Sequence[np.ndarray],
             bias: float) -> list[np.ndarray]:
    """The distributions combined, note by note, with the short-term model's
    (`stm_distributions`), by IDyOM's entropy-weighted geometric mean with `bias`."""
    return [np.array([combine_geometric([d.tolist(), s.tolist()], bias)
                      for d, s in zip(dist, stm, strict=True)])
            for dist, stm in zip(distributions, stms, strict=True)]
