"""MusicXML reading through music21: parts, upbeats, the top line of a score, refusals."""

from __future__ import annotations

import pytest

from melodyrnn.core.key import Key
from melodyrnn.errors import ReadError
from melodyrnn.io import read_scores
from melodyrnn.io.inputs.music21 import from_music21


def test_bach_chorale_reads_four_voices_with_the_upbeat_in_place(music21_corpus_file):
    [score] = read_scores(music21_corpus_file("bach/bwv66.6.mxl"))
    assert [t.name for t in score.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert (score.time_signature, score.key) == ((4, 4), Key(6, "minor"))
    soprano = score.tracks[0].notes
    assert soprano[0].start_step == 12  # a one-beat upbeat ends the first 16-step bar
    assert [n.pitch for n in soprano[:6]] == [73, 71, 69, 71, 73, 76]


def test_from_music21_takes_the_top_line_of_all_parts(music21_corpus_file):
    import music21

    chorale = music21.converter.parse(music21_corpus_file("bach/bwv66.6.mxl"))
    melody = from_music21(chorale, source="bwv66.6")
    assert melody.pitches[:6] == [73, 71, 69, 71, 73, 76]
    assert melody.key == Key(6, "minor") and melody.source == "bwv66.6"


def test_unreadable_musicxml_raises_read_error_naming_it(tmp_path):
    path = tmp_path / "broken.musicxml"
    path.write_text("<score-partwise><part id='P1'><measure>")
    with pytest.raises(ReadError, match=r"broken\.musicxml: not readable as MusicXML"):
        read_scores(path)
    with pytest.raises(ReadError, match="no such file"):
        read_scores(tmp_path / "gone.musicxml")
