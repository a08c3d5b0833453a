"""`melodyrnn render`: a MIDI file rendered to a score image, MusicXML and ABC."""

from __future__ import annotations

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
