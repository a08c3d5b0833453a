"""Scores and tracks: the skyline rule that makes a monophonic line of a polyphonic track."""

from __future__ import annotations

from melodyrnn.core.melody import Note
from melodyrnn.core.score import is_monophonic, skyline


def test_skyline_rules():
    notes = [Note(60, 0, 8), Note(64, 0, 4), Note(67, 0, 2),  # chord: its top note, 67
             Note(62, 2, 4),  # 67 has ended: kept
             Note(59, 4, 2),  # lower than the sounding 62: masked, dropped
             Note(65, 5, 3),  # higher than the sounding 62: 62 is cut at step 5
             Note(65, 7, 2)]  # same pitch again: a new note, the first 65 is cut
    line = skyline(notes)
    assert [(n.pitch, n.start_step, n.duration_steps) for n in line] == [
        (67, 0, 2), (62, 2, 3), (65, 5, 2), (65, 7, 2)]
    assert is_monophonic(line)
    assert not is_monophonic(notes)
