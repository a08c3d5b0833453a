"""`melodyrnn render`: a MIDI file rendered to a score image, MusicXML and ABC."""

from __future__ import annotations

from pathlib import Path

import melodyrnn as mr
from melodyrnn.cli import main


def test_cli_render(tmp_path, capsys, c_major_scale):
    c_major_scale.write(tmp_path / "scale.mid")
    assert main(["render", str(tmp_path / "scale.mid"), "--formats", "png,musicxml"]) == 0
    assert (tmp_path / "scale.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = mr.read_melodies(tmp_path / "scale.musicxml")[0]
    assert again.notes == c_major_scale.notes


def test_cli_render_writes_abc(tmp_path, capsys, c_major_scale):
    c_major_scale.write(tmp_path / "scale.mid")
    assert main(["render", str(tmp_path / "scale.mid"), "--formats", "abc"]) == 0
    assert f"wrote {tmp_path / 'scale.abc'}" in capsys.readouterr().out
    text = (tmp_path / "scale.abc").read_text(encoding="utf-8")
    assert "\nK:C\n" in text and "C2 D2 E2 F2 | G2 A2 B2 c2 |]" in text
    assert mr.read_melodies(tmp_path / "scale.abc")[0].pitches == c_major_scale.pitches


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("melodyrnn: error: ") and len(err.splitlines()) == 1
    return err


def test_cli_render_into_a_file_or_a_full_disk_is_one_sentence(tmp_path, capsys, c_major_scale,
                                                                monkeypatch):
    c_major_scale.write(tmp_path / "scale.mid")
    (tmp_path / "afile").write_text("x")
    assert main(["render", str(tmp_path / "scale.mid"), "--formats", "mid",
                 "--out", str(tmp_path / "afile")]) == 1
    assert "afile is a file, not a folder; choose another --out" in \
        _one_error_line(capsys)
    import errno

    from melodyrnn import io

    def full(melody, path, **options):
        Path(path).write_bytes(b"MThd")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setitem(io.WRITERS, ".mid", io.Writer(full, frozenset(), "full disk"))
    assert main(["render", str(tmp_path / "scale.mid"), "--formats", "mid",
                 "--out", str(tmp_path / "out")]) == 1
    assert _one_error_line(capsys).endswith(
        f"{tmp_path / 'out' / 'scale.mid'}: cannot write (No space left on device); "
        "free some space or choose another folder")
    assert list((tmp_path / "out").iterdir()) == []
