"""Which melodies of a pre-training pool copy a held-out melody, so a test sees nothing twice.

A model pre-trained on a large collection and tested on a set drawn from the same tradition
(Essen's kinder songs against the rest of Essen) has seen a test tune in advance whenever the
collection holds it again: filed twice, a fifth lower, or as a variant a few notes apart. Every
rule here is transposition-invariant (it reads intervals, never pitches), and a pool melody
is dropped by the first rule that links it to any held-out melody:

- `copy`: the same interval sequence (an exact copy, in any key);
- `fingerprint`: the rule `prepare` splits by (`prepare.splits`): the two share a run of
  `run` notes with the same intervals, rests and durations, directly or through other pool
  tunes that do;
- `pitch run`: the two share `run` consecutive intervals, rhythm aside (for models that
  predict pitch only, the rhythm of a copy does not hide it);
- `similar`: their interval sequences are at least `similarity` alike by edit distance
  (`edit_similarity`: 0.75 where a quarter of the intervals differ), which finds variants
  with changes scattered through them that share no long run.

Melodies shorter than `gram` + 1 notes have no interval grams and are linked by the other rules
only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from melodyrnn.core.melody import Melody
from melodyrnn.errors import ConfigError
from melodyrnn.prepare.splits import DUPLICATE_RUN, group_tunes

RULES = ("copy", "fingerprint", "pitch run", "similar")
SIMILARITY = 0.75  # edit similarity of two interval sequences that makes them one tune
GRAM = 3  # the interval n-grams that pick the pairs worth an edit distance
CANDIDATE_DICE = 0.2


@dataclass(frozen=True)
class Leak:
    """Pool melody `index` copies held-out melody `held_out`, by `rule` (one of RULES)."""

    index: int
    held_out: int
    rule: str


def intervals(pitches: Sequence[int]) -> tuple[int, ...]:
    """The intervals between consecutive pitches, in semitones."""
    return tuple(b - a for a, b in pairwise(pitches))


def find_leaks(pool: Sequence[Melody], held_out: Sequence[Melody], run: int = DUPLICATE_RUN,
               similarity: float = SIMILARITY, gram: int = GRAM) -> list[Leak]:
    """Every pool melody that copies a held-out one, by the first rule that says so, in pool
    order (see the module docstring)."""
    if not isinstance(run, int) or run < 2:
        raise ConfigError(f"the duplicate run {run!r} must be a whole number of at least 2")
    if not 0.0 < similarity <= 1.0:
        raise ConfigError(f"the similarity {similarity!r} must be above 0 and at most 1")
    pool_steps = [intervals([n.pitch for n in m.notes]) for m in pool]
    held_steps = [intervals([n.pitch for n in m.notes]) for m in held_out]
    found: dict[int, Leak] = {}

    def add(index: int, other: int, rule: str) -> None:
        if index not in found:
            found[index] = Leak(index, other, rule)

    exact = {steps: j for j, steps in reversed(list(enumerate(held_steps)))}
    for i, steps in enumerate(pool_steps):
        if steps and steps in exact:
            add(i, exact[steps], "copy")
    for i, j in _fingerprint_links(pool, held_out, run):
        add(i, j, "fingerprint")
    for i, j in _run_links(pool_steps, held_steps, run):
        add(i, j, "pitch run")
    for i, j in _similar_links(pool_steps, held_steps, similarity, gram):
        add(i, j, "similar")
    return [found[i] for i in sorted(found)]


def _fingerprint_links(pool: Sequence[Melody], held_out: Sequence[Melody],
                       run: int) -> list[tuple[int, int]]:
    """(pool index, held-out index) of pool melodies in a held-out melody's split group."""
    width = len(str(max(len(pool), len(held_out), 1)))
    names = [f"h{j:0{width}d}" for j in range(len(held_out))] + \
        [f"p{i:0{width}d}" for i in range(len(pool))]
    group = group_tunes([*held_out, *pool], names, run)
    # groups are named by their smallest member, and "h..." sorts before "p...": a group
    # with a held-out melody in it is named by one
    return [(i, int(group[name][1:])) for i, name in enumerate(names[len(held_out):])
            if group[name].startswith("h")]


def _windows(steps: tuple[int, ...], size: int) -> set[tuple[int, ...]]:
    return {steps[k:k + size] for k in range(len(steps) - size + 1)}


def _run_links(pool: list[tuple[int, ...]], held: list[tuple[int, ...]],
               run: int) -> list[tuple[int, int]]:
    """Pairs sharing `run` consecutive intervals (a run of `run` + 1 notes)."""
    owner: dict[tuple[int, ...], int] = {}
    for j, steps in enumerate(held):
        for window in _windows(steps, run):
            owner.setdefault(window, j)
    links = []
    for i, steps in enumerate(pool):
        hit = next((owner[w] for w in _windows(steps, run) if w in owner), None)
        if hit is not None:
            links.append((i, hit))
    return links


def _similar_links(pool: list[tuple[int, ...]], held: list[tuple[int, ...]],
                   similarity: float, gram: int) -> list[tuple[int, int]]:
    """Pairs whose interval sequences are `similarity` alike or more (`edit_similarity`).

    Edit distance over every pair would cost minutes for thousands of tunes, so it runs on
    candidates only: pairs of lengths that allow the similarity, sharing at least a fifth of
    their distinct interval `gram`-grams (Dice), counted through an index of which pool
    melodies hold each gram. A variant with every fourth interval changed still shares about
    a quarter of its trigrams."""
    pool_grams = [_windows(steps, gram) for steps in pool]
    holders: dict[tuple[int, ...], list[int]] = {}
    for i, grams in enumerate(pool_grams):
        for g in grams:
            holders.setdefault(g, []).append(i)
    best: dict[int, tuple[float, int]] = {}
    for j, steps in enumerate(held):
        grams = _windows(steps, gram)
        if not grams:
            continue
        shared = Counter(i for g in grams for i in holders.get(g, ()))
        for i, count in shared.items():
            longer = max(len(steps), len(pool[i]))
            if 2 * count < CANDIDATE_DICE * (len(grams) + len(pool_grams[i])) or \
                    abs(len(steps) - len(pool[i])) > (1 - similarity) * longer:
                continue
            alike = edit_similarity(steps, pool[i])
            if alike >= similarity and alike > best.get(i, (0.0, -1))[0]:
                best[i] = (alike, j)
    return sorted((i, j) for i, (_, j) in best.items())


def edit_similarity(a: Sequence[int], b: Sequence[int]) -> float:
    """1 - (Levenshtein distance of a and b) / (the longer length): 1 for equal sequences,
    0.75 where a quarter of the longer one must change (insert, delete or replace)."""
    if not a and not b:
        return 1.0
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, start=1):
        current = [i]
        for k, y in enumerate(b, start=1):
            current.append(min(previous[k] + 1, current[k - 1] + 1,
                               previous[k - 1] + (x != y)))
        previous = current
    return 1.0 - previous[-1] / max(len(a), len(b))


def leak_report(leaks: Sequence[Leak], pool_size: int) -> dict[str, object]:
    """Counts for a results file: pool melodies dropped by each rule, the held-out melodies
    they copy, and what is left."""
    by_rule = Counter(leak.rule for leak in leaks)
    return {"pool": pool_size, "dropped": len(leaks), "kept": pool_size - len(leaks),
            "dropped_by_rule": {rule: by_rule.get(rule, 0) for rule in RULES},
            "held_out_copied": len({leak.held_out for leak in leaks})}
