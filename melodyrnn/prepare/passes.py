"""The two passes of a build, in memory that does not grow with the corpus.

1. `read_pass`: every file is extracted by the workers (`sources.extract_stream`); what it
   gave goes to the spool on disk, its tunes and note runs to the tune index, its counts to
   the report. Nothing of a melody stays in memory.
2. `write_pass`: once the tune index has put every tune's group in a split, the files are
   read back from the spool in file order, each melody (key-normalised and transposed if
   asked) is tokenized and appended to its split's `SplitWriter`, and each file gets its line
   in sources.tsv.

What stays in memory is the index: per file its name, sha1, size and spool place; per tune
its id, group and split; per sequence its length. Everything else is on disk in chunks.
"""

from __future__ import annotations

import pickle
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from melodyrnn.errors import MelodyRNNError
from melodyrnn.prepare.manifest import SOURCES_HEADER, SOURCES_LIST, write_source_line
from melodyrnn.prepare.recipes import Recipe
from melodyrnn.prepare.report import PrepareReport
from melodyrnn.prepare.shards import SPLITS, SplitWriter
from melodyrnn.prepare.sources import (
    SourceFiles,
    _melody_from_json,
    count_result,
    extract_stream,
    skip_reason,
)
from melodyrnn.prepare.spool import Spool
from melodyrnn.prepare.transpose import augment_transpositions, normalize_key
from melodyrnn.prepare.tune_index import TuneIndex

RUNS_PER_FILE = 32  # a first guess at the note runs a file gives, to size the index's buckets
GROUPS_LISTED = 100  # duplicate groups named in the report and manifest (the largest)


def read_pass(recipe: Recipe, sources: SourceFiles, folder: Path, report: PrepareReport,
              **extract: Any) -> tuple[Spool, TuneIndex]:
    """Extract every file into a spool and a tune index under `folder`; count into `report`.
    `extract` goes to `extract_stream` (jobs, progress, use_cache, file_seconds)."""
    spool = Spool(folder, len(sources))
    index = TuneIndex(folder, expected_runs=RUNS_PER_FILE * len(sources))
    try:
        for result in extract_stream(recipe, sources, **extract):
            count_result(report, recipe, sources, result)
            if result.error is not None:
                spool.put(result.index, ("skipped", skip_reason(result)))
                continue
            spool.put(result.index, ("melodies", len(result.melody_sources)), result.blob)
            runs = result.runs if result.runs is not None else np.zeros(0, dtype=np.uint64)
            melody = (result.run_melody if result.run_melody is not None
                      else np.zeros(0, dtype=np.int32))
            index.add(result.melody_sources, runs, melody, sources.sids[result.index])
    except BaseException:
        spool.close()
        index.close()
        raise
    return spool, index


def write_pass(recipe: Recipe, sources: SourceFiles, spool: Spool, index: TuneIndex,
               tokenizer: Any, folder: Path, report: PrepareReport) -> None:
    """Split, encode and write every melody in file order; list every file in sources.tsv."""
    index.assign(recipe.valid, recipe.test)
    listed, sizes = index.duplicate_groups(GROUPS_LISTED)
    report.set_duplicates(listed, sizes)
    writers = {split: SplitWriter(folder, split) for split in SPLITS}
    melodies: Counter[str] = Counter()
    notes: Counter[str] = Counter()
    tokens: Counter[str] = Counter()
    for name, reason in sources.unreadable.items():  # listed first, as they were found first
        report.skip(name, reason)
    try:
        with open(folder / SOURCES_LIST, "w", encoding="utf-8") as listing:
            listing.write(SOURCES_HEADER)
            for i, name in enumerate(sources.names):
                stored = spool.get(i)
                sid = sources.sids[i]
                if stored is None:  # unreadable: never extracted
                    write_source_line(listing, None, 0, sid, sources.unreadable.get(name, ""))
                    continue
                (kind, value), blob = stored
                if kind == "skipped":
                    report.skip(name, value)
                    write_source_line(listing, sources.sha1(i), 0, sid, value)
                    continue
                for data in pickle.loads(blob) if blob else []:
                    split = index.split_of_melody(data["source"])
                    for ids, length in _encode(_melody_from_json(data), split, recipe,
                                               tokenizer, report):
                        writers[split].append(ids)
                        melodies[split] += 1
                        notes[split] += length
                        tokens[split] += len(ids)
                write_source_line(listing, sources.sha1(i), value, sid)
        for writer in writers.values():
            writer.close()
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    finally:
        spool.close()
    report.melodies = {split: melodies[split] for split in SPLITS}
    report.notes = {split: notes[split] for split in SPLITS if notes[split]}
    report.tokens = {split: tokens[split] for split in SPLITS}


def _encode(melody: Any, split: str, recipe: Recipe, tokenizer: Any,
            report: PrepareReport) -> list[tuple[list[int], int]]:
    """The token ids (and note count) of a melody's versions: key-normalised if asked, and in
    the training split transposed if asked; a version the tokenizer cannot hold is counted."""
    if recipe.normalize_key:
        melody = normalize_key(melody)
    versions = [melody]
    if recipe.transpose and split == "train":
        low, high = recipe.transpose
        versions = augment_transpositions(melody, semitones=range(low, high + 1))
    encoded = []
    for version in versions:
        try:
            encoded.append((tokenizer.encode(version), len(version)))
        except MelodyRNNError:
            report.drops["outside the tokenizer's range"] += 1
    return encoded
