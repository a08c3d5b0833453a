"""What each step grid does to the written notes of the named corpora, and what a finer one costs.

    python benchmarks/grid_loss.py                          # every corpus, grids 4 6 8 12 24
    python benchmarks/grid_loss.py folk --grids 4 12
    python benchmarks/grid_loss.py essen --max-tunes 300 --verify

Every file is read once through melodyrnn's readers (`io.read_scores`) on a reference grid of
5,040 steps a quarter, which holds every note value down to 64th notes and tuplets of 3, 5, 7
and 9 exactly (an onset it cannot hold is counted as `inexact`). Each onset is then rounded to
each grid with the readers' own rounding (`core.meter.steps_from_quarters`), so the notes and
counts are those `read_scores` gives on that grid; `--verify` also reads every file directly
on each grid and checks that they are. Per corpus and grid it prints:

- moved: onsets off their written time, and the tunes with any; merged: notes put on the onset
  of another note of their part (the skyline keeps one of them); grace: grace notes the
  readers leave out (they take no time, on any grid);
- the melodies the recipe extracts, its tokenizer's vocabulary (and how many tokens the corpus
  uses), note-encoding tokens per tune, and grid-encoding (one event a step) tokens per tune.
  A recipe's `max_duration_steps` is kept in quarters on every grid; --max-duration-quarters
  sets it for every recipe.

A corpus with more than --max-tunes tunes is read as a deterministic sample: the tunes whose
sha1 of "file id#X" (of the file id, for a file of one tune) falls in the first share; the
table says so. Writes
benchmarks/results/grid_loss.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import Any

from melodyrnn.core.meter import steps_from_quarters
from melodyrnn.core.score import Score, Track
from melodyrnn.errors import MelodyRNNError
from melodyrnn.io import read_scores
from melodyrnn.io.inputs.abc import split_abc_tunes
from melodyrnn.prepare.extract import extract_melodies
from melodyrnn.prepare.recipes import Recipe, corpus_names, recipe_for, source_id
from melodyrnn.prepare.sources import _extract_kwargs
from melodyrnn.tokenizers import ENCODINGS, get_tokenizer

REFERENCE = 5040  # 2^4 * 3^2 * 5 * 7 steps a quarter
GRIDS = (4, 6, 8, 12, 24)
COUNTS = ("tunes", "tunes_moved", "onsets", "moved", "merged", "grace", "inexact", "melodies",
          "tokens", "grid_tokens", "unreadable")


def on_grid(step: int, grid: int) -> tuple[int, bool]:
    """A reference step on `grid`, rounded as the readers round: (step, whether it moved)."""
    return steps_from_quarters(Fraction(step, REFERENCE), grid)


def score_on_grid(score: Score, grid: int) -> tuple[Score, list[int], list[int]]:
    """A reference-grid score as the readers would give it on `grid`, and per track the onsets
    moved and the notes merged into another onset of their part."""
    tracks, moved, merged = [], [], []
    for track in score.tracks:
        notes, moved_here = [], 0
        for n in track.notes:
            start, was_moved = on_grid(n.start_step, grid)
            end, _ = on_grid(n.end_step, grid)
            moved_here += was_moved
            notes.append(dataclasses.replace(n, start_step=start,
                                             duration_steps=max(end - start, 1)))
        notes.sort(key=lambda n: (n.start_step, -n.pitch))
        moved.append(moved_here)
        merged.append(len({n.start_step for n in track.notes})
                      - len({n.start_step for n in notes}))
        tracks.append(Track(notes, track.name, track.program, track.is_drum))
    form = tuple(m._replace(step=on_grid(m.step, grid)[0]) for m in score.form)
    rounded = dataclasses.replace(score, tracks=tracks, steps_per_quarter=grid,
                                  moved_onsets=sum(moved), merged_notes=sum(merged), form=form,
                                  pickup_steps=on_grid(score.pickup_steps, grid)[0])
    return rounded, moved, merged


_TOKENIZERS: dict[tuple[str, int], tuple[Any, Any]] = {}


def tokenizers_for(recipe: Recipe, grid: int) -> tuple[Any, Any]:
    """The recipe's tokenizer on `grid`, and the grid encoding with the options it shares."""
    if (recipe.name, grid) not in _TOKENIZERS:
        _TOKENIZERS[recipe.name, grid] = _make_tokenizers(recipe, grid)
    return _TOKENIZERS[recipe.name, grid]


def _make_tokenizers(recipe: Recipe, grid: int) -> tuple[Any, Any]:
    options = {k: v for k, v in recipe.tokenizer.items() if k != "name"}
    if "max_duration_steps" in options:  # the same longest duration in quarters on every grid
        options["max_duration_steps"] = options["max_duration_steps"] * grid \
            // recipe.steps_per_quarter
    note = get_tokenizer(recipe.tokenizer["name"], **{**options, "steps_per_quarter": grid})
    shared = {k: v for k, v in options.items() if k in ENCODINGS["grid"].option_names()}
    return note, get_tokenizer("grid", **{**shared, "steps_per_quarter": grid})


def sampled(path: Path, share: float, folder: Path) -> Path:
    """`path`, or when `share` < 1 an ABC file in `folder` holding the share of its tunes whose
    sha1 of "file id#X" is smallest (the same tunes on every run)."""
    if share >= 1:
        return path
    header, tunes = split_abc_tunes(path.read_bytes().decode("latin-1"))
    sid = source_id(path)
    kept = [text for label, text in tunes if _fraction(f"{sid}#{label}") < share]
    out = folder / path.name
    out.write_text(header + "".join(kept), encoding="utf-8")
    return out


def _fraction(text: str) -> float:
    return int(hashlib.sha1(text.encode()).hexdigest(), 16) / 2 ** 160


def measure_file(path: str, share: float, recipes: list[Recipe], grids: tuple[int, ...],
                 verify: bool) -> dict[str, dict[int, dict[str, Any]]]:
    """Per recipe and grid: the counts of COUNTS, the token ids used and the drop reasons."""
    stats: dict[str, dict[int, dict[str, Any]]] = {
        r.name: {g: {**dict.fromkeys(COUNTS, 0), "used": set(), "drops": Counter()}
                      for g in grids} for r in recipes}
    with tempfile.TemporaryDirectory() as folder:
        source = sampled(Path(path), share, Path(folder))
        if share < 1 and not split_abc_tunes(source.read_text(encoding="utf-8"))[1]:
            return stats  # no tune of this book in the sample
        try:
            scores = read_scores(source, REFERENCE)
        except MelodyRNNError:
            for r in recipes:
                for g in grids:
                    stats[r.name][g]["unreadable"] += 1
            return stats
        if verify:
            check_direct_reads(source, scores, grids)
    for score in scores:
        for g in grids:
            on = score_on_grid(score, g)
            for recipe in recipes:
                add_tune(stats[recipe.name][g], recipe, score, *on)
    return stats


def add_tune(row: dict[str, Any], recipe: Recipe, reference: Score, score: Score,
             moved: list[int], merged: list[int]) -> None:
    """Count one tune (the tracks the recipe keeps) on one grid into `row`."""
    kept = [i for i in range(len(score.tracks)) if recipe.tracks is None or i in recipe.tracks]
    tracks = [score.tracks[i] for i in kept]
    row["tunes"] += 1
    row["tunes_moved"] += any(moved[i] for i in kept)
    row["onsets"] += sum(len(t.notes) for t in tracks)
    row["moved"] += sum(moved[i] for i in kept)
    row["merged"] += sum(merged[i] for i in kept)
    row["grace"] += reference.grace_notes
    row["inexact"] += reference.moved_onsets
    score = dataclasses.replace(score, tracks=tracks)
    try:
        melodies = extract_melodies(score, drops=row["drops"],
                                    **_extract_kwargs(recipe.extract, score))
    except MelodyRNNError as exc:
        row["drops"][f"unusable tune ({type(exc).__name__})"] += 1
        return
    note, grid = tokenizers_for(recipe, score.steps_per_quarter)
    for melody in melodies:
        try:
            ids = note.encode(melody)
            grid_ids = grid.encode(melody.unfold())
        except MelodyRNNError:
            row["drops"]["outside the tokenizer's range"] += 1
            continue
        row["melodies"] += 1
        row["tokens"] += len(ids)
        row["grid_tokens"] += len(grid_ids)
        row["used"].update(ids)


def check_direct_reads(path: Path, reference: list[Score], grids: tuple[int, ...]) -> None:
    """Raise if reading `path` directly on a grid gives other notes or counts than rounding
    the reference reading does."""
    for g in grids:
        direct = read_scores(path, g)
        for ref, score in zip(reference, direct, strict=True):
            rounded, _, _ = score_on_grid(ref, g)
            if [_ordered(t.notes) for t in rounded.tracks] != \
                    [_ordered(t.notes) for t in score.tracks] or \
                    (rounded.moved_onsets, rounded.total_onsets) != \
                    (score.moved_onsets, score.total_onsets):
                raise SystemExit(f"{score.source}: on the {g}-step grid the direct read differs "
                                 "from the rounded reference read")


def _ordered(notes: list[Any]) -> list[tuple[int, int, int, int]]:
    return sorted((n.start_step, n.pitch, n.duration_steps, n.velocity) for n in notes)


def corpus_plan(names: list[str], max_tunes: int) -> tuple[dict[str, Recipe], dict[str, Any]]:
    """The recipes, and per corpus its files, tune count and the share of tunes read."""
    recipes, plan = {}, {}
    for name in names:
        recipe = recipe_for([name])
        files = recipe.files()
        tunes = sum(len(split_abc_tunes(p.read_bytes().decode("latin-1"))[1])
                    if p.suffix.lower() == ".abc" else 1 for p in files)
        recipes[name] = recipe
        plan[name] = {"files": files, "tunes": tunes, "share": min(1.0, max_tunes / tunes)}
    return recipes, plan


def run(names: list[str], grids: tuple[int, ...], max_tunes: int, jobs: int, verify: bool,
        max_duration_quarters: int | None = None) -> dict[str, Any]:
    """Every corpus measured on every grid; each file read once per share it is sampled at."""
    recipes, plan = corpus_plan(names, max_tunes)
    if max_duration_quarters:
        for recipe in recipes.values():
            recipe.tokenizer["max_duration_steps"] = max_duration_quarters * \
                recipe.steps_per_quarter
    work: dict[tuple[str, float], list[str]] = {}  # (file, share) -> corpora that read it so
    for name, p in plan.items():
        for path in p["files"]:
            share = p["share"]
            if path.suffix.lower() != ".abc":  # one tune a file: sample the files
                if _fraction(source_id(path)) >= share:
                    continue
                share = 1.0
            work.setdefault((str(path), share), []).append(name)
    totals: dict[str, dict[int, dict[str, Any]]] = {
        n: {g: {**dict.fromkeys(COUNTS, 0), "used": set(), "drops": Counter()}
                  for g in grids} for n in names}
    # the largest files first, so that no worker is left with one big book at the end
    items = sorted(work.items(), key=lambda kv: -os.path.getsize(kv[0][0]))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(measure_file, path, share, [recipes[n] for n in corpora], grids,
                               verify) for (path, share), corpora in items]
        for future in futures:
            for name, by_grid in future.result().items():
                for g, row in by_grid.items():
                    total = totals[name][g]
                    for key in COUNTS:
                        total[key] += row[key]
                    total["used"] |= row["used"]
                    total["drops"].update(row["drops"])
    return {name: summarize(name, recipes[name], plan[name], totals[name]) for name in names}


def summarize(name: str, recipe: Recipe, plan: dict[str, Any],
              by_grid: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """One corpus's figures, as the JSON file keeps them."""
    rows = {}
    for g, row in by_grid.items():
        note, grid = tokenizers_for(recipe, g)
        melodies = max(row["melodies"], 1)
        rows[str(g)] = {**{k: row[k] for k in COUNTS}, "vocab_size": note.vocab_size,
                        "vocab_used": len(row["used"]), "grid_vocab_size": grid.vocab_size,
                        "tokens_per_tune": round(row["tokens"] / melodies, 1),
                        "grid_tokens_per_tune": round(row["grid_tokens"] / melodies, 1),
                        "drops": dict(row["drops"].most_common())}
    return {"corpus": name, "recipe_grid": recipe.steps_per_quarter,
            "tokenizer": recipe.tokenizer,
            "tunes_in_corpus": plan["tunes"], "share_read": round(plan["share"], 4),
            "grids": rows}


def print_table(result: dict[str, Any]) -> None:
    first = next(iter(result["grids"].values()))
    sample = "all" if result["share_read"] >= 1 else \
        f"a deterministic sample of {100 * result['share_read']:.0f}%"
    print(f"\n{result['corpus']} (recipe grid {result['recipe_grid']}): {first['tunes']:,} of "
          f"{result['tunes_in_corpus']:,} tunes read ({sample}), {first['onsets']:,} onsets, "
          f"{first['grace']:,} grace notes left out, {first['inexact']:,} onsets off the "
          f"reference grid, {first['unreadable']:,} files unreadable")
    print(f"{'grid':>5}{'moved':>16}{'tunes hit':>11}{'merged':>8}{'melodies':>10}"
          f"{'vocab (used)':>14}{'tokens/tune':>13}{'grid-enc tok/tune':>19}")
    for g, row in result["grids"].items():
        share = 100 * row["moved"] / row["onsets"] if row["onsets"] else 0.0
        print(f"{g:>5}{row['moved']:>9,} ({share:4.1f}%){row['tunes_moved']:>11,}"
              f"{row['merged']:>8,}{row['melodies']:>10,}"
              f"{row['vocab_size']:>7,} ({row['vocab_used']:>4,})"
              f"{row['tokens_per_tune']:>13.1f}{row['grid_tokens_per_tune']:>19.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpora", nargs="*", help="corpus names (default: all named corpora)")
    parser.add_argument("--grids", type=int, nargs="+", default=list(GRIDS),
                        help="steps per quarter to measure")
    parser.add_argument("--max-tunes", type=int, default=3200,
                        help="read a deterministic sample of a corpus with more tunes")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--max-duration-quarters", type=int,
                        help="the note tokenizer's longest Duration/Rest token, in quarters "
                             "(default: the recipe's, else 16)")
    parser.add_argument("--verify", action="store_true",
                        help="also read every file directly on each grid and compare")
    parser.add_argument("--out", default="benchmarks/results/grid_loss.json")
    args = parser.parse_args()
    names = args.corpora or corpus_names()
    start = time.perf_counter()
    results = run(names, tuple(args.grids), args.max_tunes, args.jobs, args.verify,
                  args.max_duration_quarters)
    for result in results.values():
        print_table(result)
    seconds = time.perf_counter() - start
    print(f"\n{seconds:.0f} s" + (", direct reads on every grid agree" if args.verify else ""))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"reference_steps_per_quarter": REFERENCE,
                                          "max_tunes": args.max_tunes, "corpora": results},
                                         indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
