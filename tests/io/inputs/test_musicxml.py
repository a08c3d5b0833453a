"""MusicXML reading through music21: parts, upbeats, the top line of a score, refusals, and the
written form (repeat barlines, endings, an implicit pickup measure)."""

from __future__ import annotations

from collections import Counter

import pytest

from melodyrnn.core.key import Key
from melodyrnn.errors import ReadError
from melodyrnn.io import read_scores
from melodyrnn.io.inputs.music21 import from_music21, melody_from_score


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


# --- written form: <repeat>, <ending> and an implicit pickup measure ---------------------------

STEPS = {"C": ("C", 4), "D": ("D", 4), "E": ("E", 4), "F": ("F", 4), "G": ("G", 4),
         "A": ("A", 4), "B": ("B", 4), "c": ("C", 5)}
ATTRIBUTES = ("<attributes><divisions>1</divisions><key><fifths>0</fifths></key>"
              "<time><beats>4</beats><beat-type>4</beat-type></time></attributes>")


def xml_note(name: str, quarters: int, tie: str = "") -> str:
    step, octave = STEPS[name]
    kind = {1: "quarter", 2: "half", 3: "half", 4: "whole"}[quarters]
    return (f"<note><pitch><step>{step}</step><octave>{octave}</octave></pitch>"
            f"<duration>{quarters}</duration>" + (f'<tie type="{tie}"/>' if tie else "")
            + f"<type>{kind}</type>" + ("<dot/>" if quarters == 3 else "") + "</note>")


def barline(location: str, repeat: str = "", ending: tuple[str, str] | None = None,
            times: int | None = None) -> str:
    inner = f'<ending number="{ending[0]}" type="{ending[1]}"/>' if ending else ""
    if repeat:
        inner += f'<repeat direction="{repeat}"' + (f' times="{times}"' if times else "") + "/>"
    return f'<barline location="{location}">{inner}</barline>'


def measure(number: int, notes: str, left: str = "", right: str = "") -> str:
    implicit = ' implicit="yes"' if number == 0 else ""  # the pickup bar
    return (f'<measure number="{number}"{implicit}>' + (ATTRIBUTES if number == 0 else "")
            + left + notes + right + "</measure>")


def write_score(path, measures: list[str]):
    path.write_text('<?xml version="1.0" encoding="UTF-8"?><score-partwise version="3.1">'
                    '<part-list><score-part id="P1"><part-name>Tune</part-name></score-part>'
                    '</part-list><part id="P1">' + "".join(measures) + "</part></score-partwise>")
    return path


def notes(text: str) -> str:
    """'C D E F' -> four quarter notes; 'c3' is a dotted half."""
    return "".join(xml_note(n[0], int(n[1:] or 1)) for n in text.split())


def test_musicxml_repeats_endings_and_pickup_become_the_written_form(tmp_path):
    path = write_score(tmp_path / "repeats.musicxml", [
        measure(0, notes("G")),
        measure(1, notes("C D E F"), left=barline("left", "forward")),
        measure(2, notes("G A B c"), left=barline("left", ending=("1", "start")),
                right=barline("right", "backward", ("1", "stop"))),
        measure(3, notes("c B A G"), left=barline("left", ending=("2", "start")),
                right=barline("right", ending=("2", "discontinue"))),
        measure(4, notes("D E F G"), left=barline("left", "forward")),
        measure(5, notes("c3"), right=barline("right", "backward")),
    ])
    drops: Counter[str] = Counter()
    [score] = read_scores(path, drops=drops)
    assert not drops and score.pickup_steps == 4
    assert [str(m) for m in score.form] == ["RepeatStart@16", "Ending_1@32", "RepeatEnd@48",
                                            "Ending_2@48", "RepeatStart@64", "RepeatEnd@92"]
    played = melody_from_score(score).unfold()
    assert played.pitches == ([67, 60, 62, 64, 65, 67, 69, 71, 72]  # pickup, A, ending 1
                              + [60, 62, 64, 65, 72, 71, 69, 67]  # A again, ending 2
                              + [62, 64, 65, 67, 72] * 2)  # B twice
    assert played.start_step == 12 and played.notes[0].start_step == 12


@pytest.mark.parametrize(("ending", "times", "reason"), [
    ("1, 2", None, "an ending played on several passes"),
    ("1", 3, "a repeat played 3 times"),
], ids=["ending 1, 2", "times 3"])
def test_musicxml_form_core_cannot_hold_is_dropped_and_counted(tmp_path, ending, times,
                                                               reason):
    path = write_score(tmp_path / "odd.musicxml", [
        measure(1, notes("C D E F"), left=ATTRIBUTES),
        measure(2, notes("G A B c"), left=barline("left", ending=(ending, "start")),
                right=barline("right", "backward", (ending, "stop"), times)),
        measure(3, notes("c B A G"), left=barline("left", ending=("3", "start"))),
    ])
    drops: Counter[str] = Counter()
    [score] = read_scores(path, drops=drops)
    assert score.form == () and len(score.tracks[0].notes) == 12
    assert drops == Counter({f"written form ({reason})": 1})


def test_musicxml_note_tied_across_a_repeat_barline_is_split_there(tmp_path):
    path = write_score(tmp_path / "tied.musicxml", [
        measure(1, notes("C D E") + xml_note("F", 1, "start"), left=ATTRIBUTES,
                right=barline("right", "backward")),
        measure(2, xml_note("F", 2, "stop") + notes("G2")),
        measure(3, notes("c4")),
    ])
    [score] = read_scores(path)
    assert [str(m) for m in score.form] == ["RepeatEnd@16"]
    assert [(n.pitch, n.start_step, n.duration_steps) for n in score.tracks[0].notes][3:5] == \
        [(65, 12, 4), (65, 16, 8)]
