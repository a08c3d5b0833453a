"""`prepare` over good, bad and mixed inputs: the dataset, its report, the cache, restarts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import melodyrnn as mr
from melodyrnn.errors import CorpusError
from melodyrnn.prepare import build
from melodyrnn.prepare.recipes import recipe_for
from melodyrnn.prepare.shards import read_split
from melodyrnn.prepare.sources import extract_recipe

# cache hits are counted: every test starts from an empty cache
pytestmark = pytest.mark.usefixtures("fresh_melody_cache")


def test_prepare_folder_writes_consistent_dataset(tmp_path, make_tune_folder):
    folder = make_tune_folder(tmp_path)
    out = tmp_path / "ds"
    report = build.prepare([str(folder)], out, progress=False, valid=0.2, test=0.2)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["melodies"] == report.melodies
    assert sum(report.melodies.values()) == 12
    assert sum(report.notes.values()) == 12 * 16
    total = 0
    for split in ("train", "valid", "test"):
        data = read_split(out, split)
        assert len(data) == report.melodies[split]
        total += len(data)
    assert total == 12
    melodies = mr.load_corpus(out)
    assert len(melodies) == 12 and all(len(m) == 16 for m in melodies)
    assert "prepared" in report.summary() and "melodies 12" in report.summary()


def test_prepare_mixed_good_and_bad_files_lists_skips(tmp_path, edge_midi, make_tune_folder):
    folder = make_tune_folder(tmp_path, n=6)
    for name in ("test-empty-file.mid", "test-not-a-midi-file.mid",
                 "test-corrupt-file-missing-byte.mid", "test-all-gm-percussion.mid"):
        shutil.copy(edge_midi(name), folder / name)
    (folder / "notes.mid").write_text("this is not music")
    report = build.prepare([str(folder)], tmp_path / "ds", progress=False)
    assert sum(report.melodies.values()) == 6
    skipped = report.skipped_files
    assert sorted(Path(p).name for p in skipped) == [
        "notes.mid", "test-corrupt-file-missing-byte.mid", "test-empty-file.mid",
        "test-not-a-midi-file.mid"]
    assert report.drops["drum track"] == 1  # the percussion file reads, but holds no melody
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["skipped_files"] == skipped
    assert "skipped files" in report.summary()


def test_prepare_with_nothing_usable_fails_clearly(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.mid").write_bytes(b"")
    (folder / "b.mid").write_text("not midi")
    with pytest.raises(CorpusError, match="no usable melody"):
        build.prepare([str(folder)], tmp_path / "ds", progress=False)
    assert not (tmp_path / "ds").exists()


def test_rerun_is_up_to_date_and_cache_is_used(tmp_path, make_tune_folder, write_tune):
    folder = make_tune_folder(tmp_path, n=4)
    out = tmp_path / "ds"
    first = build.prepare([str(folder)], out, progress=False)
    again = build.prepare([str(folder)], out, progress=False)
    assert again.up_to_date and again.melodies == first.melodies
    forced = build.prepare([str(folder)], out, progress=False, force=True)
    assert forced.cached_files == 4 and forced.melodies == first.melodies
    write_tune(folder / "tune00.mid", [60, 62, 64, 65, 67, 69, 71, 72, 74])  # a changed file
    changed = build.prepare([str(folder)], out, progress=False)
    assert not changed.up_to_date and changed.cached_files == 3


def test_interrupted_write_leaves_previous_dataset_intact(tmp_path, monkeypatch, make_tune_folder):
    folder = make_tune_folder(tmp_path, n=4)
    out = tmp_path / "ds"
    build.prepare([str(folder)], out, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("melodyrnn.prepare.shards.SplitWriter.close", killed)
    with pytest.raises(KeyboardInterrupt):
        build.prepare([str(folder)], out, progress=False, force=True)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    monkeypatch.undo()
    report = build.prepare([str(folder)], out, progress=False, force=True)
    assert sum(report.melodies.values()) == 4
    assert not list(tmp_path.glob(".ds.tmp-*"))  # the killed run's leftovers are cleaned


def test_refuses_to_overwrite_a_folder_that_is_not_a_dataset(tmp_path, make_tune_folder):
    folder = make_tune_folder(tmp_path, n=2)
    out = tmp_path / "mine"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(CorpusError, match="not a melodyrnn dataset"):
        build.prepare([str(folder)], out, progress=False)
    assert (out / "precious.txt").read_text() == "keep me"


def test_grid_tokenizer_and_transposition_augmentation(tmp_path, make_tune_folder):
    folder = make_tune_folder(tmp_path, n=6)
    plain = build.prepare([str(folder)], tmp_path / "a", progress=False, tokenizer="grid")
    assert json.loads((tmp_path / "a" / "tokenizer.json").read_text())["name"] == "grid"
    aug = build.prepare([str(folder)], tmp_path / "b", progress=False, transpose=(-2, 2))
    assert aug.melodies["train"] == 5 * plain.melodies["train"]
    assert aug.melodies["test"] == plain.melodies["test"]


@pytest.mark.slow
def test_prepare_essen_kinder(tmp_path):
    report = build.prepare(["essen-kinder"], tmp_path / "kinder", progress=False)
    assert sum(report.melodies.values()) == 213
    assert sum(report.notes.values()) == 8393
    assert not report.skipped_files
    valid = mr.load_corpus(tmp_path / "kinder", split="valid")
    assert len(valid) == report.melodies["valid"] > 0
    # the corpus name gives the same valid tunes, in the same order, as the prepared dataset
    # (the dataset's tokens do not keep the source, meter or key, so compare the notes)
    named = mr.load_corpus("essen-kinder", split="valid")
    assert [m.notes for m in named] == [m.notes for m in valid]


def test_unreadable_entry_is_skipped_not_a_crash(tmp_path, make_tune_folder):
    folder = make_tune_folder(tmp_path, n=3)
    (folder / "not-a-file.mid").mkdir()  # matched by suffix, but cannot be read as a file
    report = build.prepare([str(folder)], tmp_path / "ds", progress=False)
    assert sum(report.melodies.values()) == 3
    assert any("not-a-file.mid" in p and "unreadable" in r
               for p, r in report.skipped_files.items())


def _dataset_bytes(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.glob("*.npy"))}


def test_copies_share_a_split_however_the_dataset_is_built(tmp_path, make_tune_folder):
    folder = make_tune_folder(tmp_path, n=30)
    shutil.copy(folder / "tune03.mid", folder / "copy-of-03.mid")  # the same bytes
    pm_tune = mr.read_melodies(folder / "tune05.mid")[0].transpose(5)
    pm_tune.write(folder / "tune05-up-a-fourth.mid")
    out = tmp_path / "ds"
    cold = build.prepare([str(folder)], out, progress=False, use_cache=False, valid=0.3,
                         test=0.3)
    manifest = json.loads((out / "manifest.json").read_text())
    groups = manifest["duplicate_groups"]
    names = [sorted(Path(m).name for m in g) for g in groups["members"]]
    assert sorted(names) == [["copy-of-03.mid", "tune03.mid"],
                             ["tune05-up-a-fourth.mid", "tune05.mid"]]
    assert (groups["run_notes"], groups["groups"], groups["tunes"]) == (16, 2, 4)
    assert "2 groups of tunes share a run of 16+ notes (4 tunes)" in cold.summary()
    first = _dataset_bytes(out)
    warm = build.prepare([str(folder)], tmp_path / "warm", progress=False, valid=0.3, test=0.3)
    again = build.prepare([str(folder)], tmp_path / "warm", progress=False, valid=0.3,
                          test=0.3, force=True)
    assert again.cached_files == 32
    assert cold.melodies == warm.melodies == again.melodies
    assert _dataset_bytes(tmp_path / "warm") == first


def test_a_cached_file_is_named_by_its_own_path_not_its_twins(tmp_path, make_tune_folder):
    folder = make_tune_folder(tmp_path, n=2)
    twin = tmp_path / "elsewhere"
    twin.mkdir()
    shutil.copy(folder / "tune01.mid", twin / "other-name.mid")
    build.prepare([str(twin)], tmp_path / "a", progress=False)  # caches the twin's melodies
    melodies, report = extract_recipe(recipe_for([str(folder)]), progress=False)
    assert report.cached_files == 1
    assert sorted(Path(m.source.split(":track")[0]).name for m in melodies) == \
        ["tune00.mid", "tune01.mid"]
