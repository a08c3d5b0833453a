"""A build in memory that does not grow with the corpus: the streaming split writer, the tune
index on disk, the spool, the bounded worker queue and a manifest that lists no file."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

import melodyrnn as mr
from melodyrnn.core.melody import Melody, Note
from melodyrnn.errors import CorpusError
from melodyrnn.prepare import build, manifest, report, sources, tune_index
from melodyrnn.prepare.shards import SplitWriter, read_split, write_split
from melodyrnn.prepare.sources import melody_runs
from melodyrnn.prepare.splits import assign_splits
from melodyrnn.prepare.spool import Spool

pytestmark = pytest.mark.usefixtures("fresh_melody_cache")

# sha1 (first 16 hex digits) of each .npy file that the writer holding every sequence in memory
# (melodyrnn before streaming) wrote for the folder of `_thirty_tunes`, built from "tunes"
OLD_WRITER = {
    "plain": {"test.offsets.npy": "290e7864e47136ed", "test.tokens.npy": "fbed96b25b24b299",
              "train.offsets.npy": "249e0066243a444b", "train.tokens.npy": "46bccbd478a82186",
              "valid.offsets.npy": "32634300de42dcd7", "valid.tokens.npy": "7a38e4184a13dab7"},
    "augmented": {"test.offsets.npy": "0711ee0d20f913a8", "test.tokens.npy": "484338f85ac98b81",
                  "train.offsets.npy": "1f0e3b67223adbc9",
                  "train.tokens.npy": "d5b79c15850e3342",
                  "valid.offsets.npy": "407096f7e33a04ad",
                  "valid.tokens.npy": "06550504b41593f6"},
}
SETTINGS = {"plain": {"valid": 0.3, "test": 0.3},
            "augmented": {"valid": 0.3, "test": 0.3, "transpose": (-2, 2), "normalize_key": True,
                          "tokenizer": "grid"}}


def _thirty_tunes(root: Path, make_tune_folder) -> None:
    """root/tunes: 30 tunes, an exact copy of one and a transposed copy of another."""
    folder = make_tune_folder(root, n=30)
    shutil.copy(folder / "tune03.mid", folder / "copy-of-03.mid")
    mr.read_melodies(folder / "tune05.mid")[0].transpose(5).write(folder / "tune05-up-a-fourth.mid")


@pytest.mark.parametrize("name", list(SETTINGS))
@pytest.mark.parametrize("jobs", [1, 2], ids=["one-process", "pool"])
def test_streamed_dataset_is_byte_identical_to_the_in_memory_writer(
        tmp_path, monkeypatch, make_tune_folder, name, jobs):
    monkeypatch.chdir(tmp_path)  # relative paths: the tune ids, and so the splits, are fixed
    _thirty_tunes(tmp_path, make_tune_folder)
    build.prepare(["tunes"], name, progress=False, jobs=jobs, **SETTINGS[name])
    written = {p.name: hashlib.sha1(p.read_bytes()).hexdigest()[:16]
               for p in sorted((tmp_path / name).glob("*.npy"))}
    assert written == OLD_WRITER[name]
    assert not list((tmp_path / name).glob("*.part")) and not list(tmp_path.glob(".*tmp-*"))


def _old_write_split(directory: Path, split: str, sequences: list[list[int]]) -> None:
    """The writer before streaming: every sequence in memory, then np.save."""
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tokens = np.zeros(int(offsets[-1]), dtype=np.uint16)
    for seq, start, stop in zip(sequences, offsets[:-1], offsets[1:], strict=True):
        tokens[start:stop] = seq
    np.save(directory / f"{split}.tokens.npy", tokens)
    np.save(directory / f"{split}.offsets.npy", offsets)


@pytest.mark.parametrize("count", [0, 1, 7, 300])
def test_write_split_writes_the_bytes_np_save_writes(tmp_path, count):
    rng = random.Random(count)
    sequences = [[rng.randrange(65536) for _ in range(rng.randrange(0, 40))]
                 for _ in range(count)]
    (tmp_path / "old").mkdir()
    (tmp_path / "new").mkdir()
    _old_write_split(tmp_path / "old", "train", sequences)
    write_split(tmp_path / "new", "train", iter(sequences), chunk_tokens=64)
    for name in ("train.tokens.npy", "train.offsets.npy"):
        assert (tmp_path / "new" / name).read_bytes() == (tmp_path / "old" / name).read_bytes()
    data = read_split(tmp_path / "new", "train")
    assert [data[i].tolist() for i in range(len(data))] == sequences
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == [
        "train.offsets.npy", "train.tokens.npy"]


def test_write_split_takes_an_iterator_and_never_holds_it(tmp_path):
    chunk = 100
    writer_part = tmp_path / "train.tokens.part"
    seen_on_disk = []

    def sequences():
        for i in range(50):
            if i:  # everything before the last flush is already on disk, not in memory
                seen_on_disk.append(writer_part.stat().st_size // 2)
            yield [i % 300] * 37

    write_split(tmp_path, "train", sequences(), chunk_tokens=chunk)
    tokens_before = [37 * i for i in range(1, 50)]
    assert all(before - chunk < on_disk <= before
               for before, on_disk in zip(tokens_before, seen_on_disk, strict=True))
    assert len(read_split(tmp_path, "train").tokens) == 50 * 37


def test_split_writer_holds_at_most_one_chunk(tmp_path):
    writer = SplitWriter(tmp_path, "valid", chunk_tokens=50)
    for i in range(40):
        writer.append(list(range(i % 9)))
        assert len(writer.buffer) < 50
    writer.close()
    assert len(read_split(tmp_path, "valid")) == 40


@pytest.mark.parametrize("bad", [[1, 70000], [3, -1]], ids=["over", "negative"])
def test_a_token_outside_uint16_is_refused_and_leaves_no_part_file(tmp_path, bad):
    with pytest.raises(CorpusError, match="token id outside 0-65535 in split 'test'"):
        write_split(tmp_path, "test", iter([[1, 2], bad]))
    assert list(tmp_path.iterdir()) == []


def _melody(pitches: list[int], source: str) -> Melody:
    return Melody([Note(p, 2 * i, 2) for i, p in enumerate(pitches)], source=source)


def _melodies(n: int, seed: int) -> list[Melody]:
    """Random tunes (two tracks of some), with copies and transposed copies of earlier ones."""
    rng = random.Random(seed)
    melodies: list[Melody] = []
    for i in range(n):
        if melodies and rng.random() < 0.3:
            base = rng.choice(melodies)
            shift = rng.choice([0, 2, -3])
            pitches = [note.pitch + shift for note in base.notes]
        else:
            pitches = [rng.randrange(55, 80) for _ in range(rng.randrange(10, 30))]
        melodies.append(_melody(pitches, f"f{rng.randrange(10 ** 6):06d}-{i}.mid:track0"))
        if rng.random() < 0.1:
            melodies.append(_melody(pitches[::-1], f"f{i}.mid:track1"))
    return melodies


@pytest.mark.parametrize("expected_runs", [0, 10 ** 9], ids=["one-bucket", "many-buckets"])
def test_tune_index_gives_the_groups_and_splits_of_assign_splits(tmp_path, expected_runs):
    melodies = _melodies(120, seed=4)
    in_memory = assign_splits(melodies, 0.2, 0.2)
    index = tune_index.TuneIndex(tmp_path, expected_runs=expected_runs)
    arrival = list(range(len(melodies)))
    random.Random(1).shuffle(arrival)  # workers finish files in any order
    for i in arrival:
        data = sources._melody_to_json(melodies[i])
        runs, owner = melody_runs([data])
        index.add([data["source"]], runs, owner.astype(np.int32))
    index.assign(0.2, 0.2)
    assert [index.split_of_melody(m.source) for m in melodies] == in_memory.of_melody
    groups = in_memory.duplicate_groups()
    assert len(groups) > 3
    listed, sizes = index.duplicate_groups(listed=3)
    assert listed == groups[:3]
    assert sizes == {size: sum(len(g) == size for g in groups) for size in {len(g) for g in groups}}
    assert list(tmp_path.iterdir()) == []  # the bucket files are gone


def test_spool_gives_back_each_files_record_by_index(tmp_path):
    spool = Spool(tmp_path, 4)
    spool.put(2, ("melodies", 1), b"blob-two")
    spool.put(0, ("skipped", "corrupt MIDI"))
    assert spool.get(0) == (("skipped", "corrupt MIDI"), b"")
    assert spool.get(1) is None
    assert spool.get(2) == (("melodies", 1), b"blob-two")
    spool.put(3, ("melodies", 2), b"after a read")  # appended, not written over a record
    assert spool.get(0) == (("skipped", "corrupt MIDI"), b"")
    assert spool.get(3) == (("melodies", 2), b"after a read")
    assert spool.get(2) == (("melodies", 1), b"blob-two")
    spool.close()
    assert list(tmp_path.iterdir()) == []


def test_no_more_chunks_are_queued_than_the_workers_can_take(monkeypatch):
    pulled = []

    def chunks():
        for i in range(40):
            pulled.append(i)
            yield [i]

    jobs = 2
    done = 0
    for _result in sources._run_chunks(chunks(), sorted, jobs):
        done += 1
        assert len(pulled) <= done + sources.IN_FLIGHT * jobs
    assert done == 40


def test_manifest_lists_no_file_and_sources_tsv_lists_every_one(tmp_path, make_tune_folder,
                                                                 monkeypatch):
    folder = make_tune_folder(tmp_path, n=8)
    for name in ("bad1.mid", "bad2.mid", "bad3.mid"):
        (folder / name).write_bytes(b"not a midi file")
    monkeypatch.setattr(report, "SKIPPED_LISTED", 2)
    out = tmp_path / "ds"
    result = build.prepare([str(folder)], out, progress=False)
    written = json.loads((out / "manifest.json").read_text())
    assert "source_hashes" not in written
    assert written["source_files"] == {"files": 11, "list": "sources.tsv"}
    assert written["skipped"] == {"files": 3,
                                   "by_reason": {"not a MIDI file (no MThd header)": 3}}
    assert len(written["skipped_files"]) == 2 == len(result.skipped_files)
    assert result.skipped_count == 3 and "files 11 read, 3 skipped" in result.summary()
    lines = (out / "sources.tsv").read_text().splitlines()
    assert lines[0] == "sha1\tmelodies\tsource\tskipped because"
    rows = [line.split("\t") for line in lines[1:]]
    assert [Path(r[2]).name for r in rows] == sorted(p.name for p in folder.iterdir())
    assert {Path(r[2]).name: r[1] for r in rows if r[3]} == {
        "bad1.mid": "0", "bad2.mid": "0", "bad3.mid": "0"}
    assert all(r[0] == hashlib.sha1((folder / Path(r[2]).name).read_bytes()).hexdigest()
               and r[1] == "1" for r in rows if not r[3])
    again = build.prepare([str(folder)], out, progress=False)
    assert again.up_to_date and again.skipped_count == 3


def test_skipped_reasons_are_read_from_new_and_earlier_manifests():
    earlier = {"skipped_files": {"a.mid": "timed out: reading it took over 1 s",
                                 "b.mid": "corrupt MIDI (truncated)"}}
    assert manifest.skipped_reasons(earlier) == {"timed out": 1, "corrupt MIDI (truncated)": 1}
    now = {"skipped": {"files": 300, "by_reason": {"timed out": 300}},
           "skipped_files": {"a.mid": "timed out: reading it took over 1 s"}}
    assert manifest.skipped_reasons(now) == {"timed out": 300}
