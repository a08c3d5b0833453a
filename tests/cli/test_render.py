"""`melodyrnn render`: a MIDI file rendered to a score image and MusicXML."""

from __future__ import annotations

import melodyrnn as mr
from melodyrnn.cli import main


def test_cli_render(tmp_path, capsys, c_major_scale):
    c_major_scale.write(tmp_path / "scale.mid")
    assert main(["render", str(tmp_path / "scale.mid"), "--formats", "png,musicxml"]) == 0
    assert (tmp_path / "scale.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = mr.read_melodies(tmp_path / "scale.musicxml")[0]
    assert again.notes == c_major_scale.notes
