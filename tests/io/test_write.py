"""Melody.write: the writer chosen by suffix, atomic writes, --force and writer options."""

from __future__ import annotations

import pytest

from melodyrnn.errors import MelodyRNNError, WriteError


@pytest.mark.parametrize("suffix", [".mid", ".midi", ".musicxml", ".xml", ".mxl"])
def test_write_by_suffix_round_trips(tmp_path, folk_tune, suffix):
    from melodyrnn.prepare.extract import read_melodies

    path = folk_tune.write(tmp_path / "out" / f"tune{suffix}")  # parent folder is created
    assert path == tmp_path / "out" / f"tune{suffix}"
    [back] = read_melodies(path)
    assert back.notes == folk_tune.notes
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left


def test_mxl_is_compressed(tmp_path, c_major_scale):
    assert c_major_scale.write(tmp_path / "scale.mxl").read_bytes()[:2] == b"PK"


def test_write_refuses_unknown_suffix_and_lists_supported(tmp_path, c_major_scale):
    with pytest.raises(WriteError, match=r"'\.foo'.*\.mid.*\.musicxml.*\.abc"):
        c_major_scale.write(tmp_path / "scale.foo")
    assert not list(tmp_path.iterdir())


def test_abc_is_written_by_suffix_and_takes_a_title(tmp_path, c_major_scale):
    text = c_major_scale.write(tmp_path / "scale.abc", title="Scale").read_text(encoding="utf-8")
    assert text.startswith("%abc-2.1\nX:1\nT:Scale\n")
    assert text.rstrip().endswith("C2 D2 E2 F2 | G2 A2 B2 c2 |]")
    with pytest.raises(WriteError, match="program"):
        c_major_scale.write(tmp_path / "x.abc", program=73)


def test_write_without_force_keeps_existing_file(tmp_path, c_major_scale):
    path = tmp_path / "scale.mid"
    path.write_bytes(b"keep me")
    with pytest.raises(WriteError, match="already exists; use --force"):
        c_major_scale.write(path, force=False)
    assert path.read_bytes() == b"keep me"
    c_major_scale.write(path, force=True)
    assert path.read_bytes().startswith(b"MThd")


def test_write_passes_options_and_refuses_unknown_ones(tmp_path, c_major_scale):
    from melodyrnn.io.inputs.midi import read_score

    path = c_major_scale.write(tmp_path / "flute.mid", program=73)
    assert read_score(path).tracks[0].program == 73
    with pytest.raises(WriteError, match="program"):
        c_major_scale.write(tmp_path / "flute.musicxml", program=73)


def test_failed_write_leaves_nothing_behind(tmp_path, c_major_scale, monkeypatch):
    from melodyrnn import io as melody_io

    def broken(melody, path, **options):
        path.write_bytes(b"half a file")
        raise OSError("disk full")

    monkeypatch.setitem(melody_io.WRITERS, ".mid", melody_io.Writer(broken))
    with pytest.raises(WriteError, match="disk full") as info:
        c_major_scale.write(tmp_path / "scale.mid")
    assert isinstance(info.value, MelodyRNNError)
    assert not list(tmp_path.iterdir())
