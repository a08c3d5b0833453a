"""Linear read-outs of a recurrent network's state (`lab memory`): the states of every step of
a set of melodies, a multinomial logistic regression fitted on them, and the recall of the
melody's meter or key token from the state some tokens after it."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from melodyrnn.lab.data import LabData
from melodyrnn.models.network import MelodyLSTM

PREFIXES = ("TimeSig_", "Key_")  # prefix tokens the probe recalls, where the vocabulary has them
PREFIX_STEPS = (1, 2, 4, 8, 16, 32, 64)  # tokens after the meter or key token
PREFIX_WINDOW = 4  # the prefix tokens stand among the first tokens after BOS


@torch.no_grad()
def states(net: MelodyLSTM, melodies: list[np.ndarray], pad_id: int, h_only: bool = False
           ) -> Tensor:
    """(M, T, S) the top layer's state after each token of each melody, each run from a zero
    state at its BOS: h, or h and c together for an LSTM (h alone with `h_only`)."""
    net.eval()
    length = max(len(m) for m in melodies)
    ids = torch.full((len(melodies), length), pad_id, dtype=torch.long)
    for i, m in enumerate(melodies):
        ids[i, :len(m)] = torch.from_numpy(m)  # padding after EOS cannot reach earlier states
    x = net.encoder(ids) if net.encoder is not None \
        else F.one_hot(ids, net.config.vocab_size).float()  # (M, T, E)
    if net.config.cell != "lstm" or h_only:
        output, _ = net.rnn(x)  # (M, T, H): the top layer's h at every step
        return output
    state, out = None, []
    for t in range(length):  # nn.LSTM hands back c only for the last step, so step by step
        _, state = net.rnn(x[:, t:t + 1], state)
        out.append(torch.cat([state[0][-1], state[1][-1]], dim=-1))  # (M, 2H)
    return torch.stack(out, dim=1)


def fit_probe(features: Tensor, labels: Tensor, classes: int, steps: int, l2: float
              ) -> tuple[Tensor, Tensor]:
    """Weights (S, D, C) and bias (D, C) of D multinomial logistic regressions, one for each
    column of `labels` (P, D) (class indices, -1 where a position has none), fitted together
    by full-batch L-BFGS from zeros (deterministic); their losses are separate, so fitting them
    at once finds each one's own optimum, in one pass over the features."""
    heads = labels.size(1)
    weight = torch.zeros(features.size(1), heads * classes, requires_grad=True)
    bias = torch.zeros(heads * classes, requires_grad=True)
    known = labels >= 0
    counts = known.sum(0).clamp_min(1)  # (D,)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1, max_iter=steps,
                                  line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        optimizer.zero_grad()
        logits = (features @ weight + bias).view(-1, classes)  # (P D, C)
        losses = F.cross_entropy(logits, labels.clamp_min(0).reshape(-1), reduction="none")
        per_head = (losses.view_as(labels) * known).sum(0) / counts  # (D,) mean of each
        loss = per_head.sum() + l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return weight.detach().view(-1, heads, classes), bias.detach().view(heads, classes)


def probe_accuracy(train_x: Tensor, train_y: Tensor, valid_x: Tensor, valid_y: Tensor,
                   steps: int, l2: float) -> list[float]:
    """Valid accuracy of each column's probe, fitted on train: features (P, S), token ids
    (P, D) with -1 where there is none; a valid token unseen in train counts wrong."""
    classes = torch.unique(train_y[train_y >= 0])
    labels = torch.where(train_y >= 0, torch.searchsorted(classes, train_y.contiguous()), -1)
    mean, std = train_x.mean(0), train_x.std(0).clamp_min(1e-6)  # standardised features
    weight, bias = fit_probe((train_x - mean) / std, labels, len(classes), steps, l2)
    logits = torch.einsum("ps,sdc->pdc", (valid_x - mean) / std, weight) + bias  # (P, D, C)
    right = (classes[logits.argmax(-1)] == valid_y).float()
    known = valid_y >= 0
    return [float(right[:, i][known[:, i]].mean()) for i in range(valid_y.size(1))]


def prefix_recall(data: LabData, nets: dict[str, MelodyLSTM],
                  melodies: dict[str, list[np.ndarray]], steps: int, l2: float
                  ) -> dict[str, Any]:
    """Valid accuracy of recalling each melody's TimeSig_/Key_ token from the trained state t
    tokens after it, for t in PREFIX_STEPS, with the majority baseline; skipped (and said so)
    where the vocabulary has no such tokens."""
    kinds = [k for k in PREFIXES if any(t.startswith(k) for t in data.vocab)]
    if not kinds:
        return {"skipped": f"the vocabulary has no {' or '.join(PREFIXES)} tokens to recall"}
    out: dict[str, Any] = {"steps": list(PREFIX_STEPS)}
    feats = {c: {s: states(n, melodies[s], data.pad_id) for s in melodies} for c, n in nets.items()}
    for kind in kinds:
        where = {s: _prefix_tokens(data, melodies[s], kind) for s in melodies}
        entry: dict[str, Any] = {"majority": [], **{c: [] for c in nets}, "positions": []}
        for t in PREFIX_STEPS:
            pick = {s: [(m, q + t, y) for m, q, y in where[s] if q + t < len(melodies[s][m])]
                    for s in where}
            entry["positions"].append(len(pick["valid"]))
            if not pick["train"] or not pick["valid"]:
                for name in ("majority", *nets):
                    entry[name].append(None)
                continue
            rows = {s: torch.tensor(pick[s], dtype=torch.long) for s in pick}  # (P, 3)
            top = Counter(rows["train"][:, 2].tolist()).most_common(1)[0][0]
            entry["majority"].append(float((rows["valid"][:, 2] == top).float().mean()))
            for cell in nets:
                x = {s: feats[cell][s][rows[s][:, 0], rows[s][:, 1]] for s in rows}  # (P, S)
                entry[cell].append(probe_accuracy(
                    x["train"], rows["train"][:, 2:], x["valid"], rows["valid"][:, 2:],
                    steps, l2)[0])
        out[kind.rstrip("_")] = entry
    return out


def _prefix_tokens(data: LabData, melodies: list[np.ndarray], kind: str
                   ) -> list[tuple[int, int, int]]:
    """(melody, position, token) of the first `kind` token among each melody's first tokens."""
    found = []
    for m, ids in enumerate(melodies):
        for q, token in enumerate(ids[:PREFIX_WINDOW].tolist()):
            if data.vocab[token].startswith(kind):
                found.append((m, q, token))
                break
    return found
