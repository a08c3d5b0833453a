"""ABC writing: the header fields, the written form, accidentals by bar, and music21 reading
the text back as the melody's playing order."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from melodyrnn.core.form import ENDING, REPEAT_END, REPEAT_START, Mark
from melodyrnn.core.melody import Melody, Note
from melodyrnn.io.outputs.abc import to_abc, write_abc

JIG_ABC = """\
%abc-2.1
X:1
T:jig #1
M:6/8
L:1/8
Q:1/4=120
K:G
D | G2B d2B | c2A F2D | G2B d2g | f2d A3 |
G2B d2B | c2e d2c | B2G A2F | G3 G2 :|
d |: e2f g2e | d2B G2B | c2e d2B | A3 g2f |
e2c d2B | c2A F2A |1 G3 G2d :|2 G3 G2 |]
"""


def body(melody: Melody) -> str:
    """The music lines of the melody's ABC, without the header."""
    return "\n".join(line for line in to_abc(melody).splitlines()
                     if not line.startswith(("%", "X:", "T:", "M:", "L:", "Q:", "K:")))


@pytest.fixture(scope="session")
def heard(heard_in):
    """What music21 plays from ABC text (see `heard_in`)."""
    from music21 import converter

    return lambda text, steps_per_quarter=4: heard_in(converter.parse(text, format="abc"),
                                                      steps_per_quarter)


# --- written form -----------------------------------------------------------------------------

def test_jig_is_written_with_its_pickup_repeats_and_endings(jig):
    assert to_abc(jig) == JIG_ABC


def test_jig_reads_back_in_music21_as_its_playing_order(jig, heard, playing_order):
    assert heard(to_abc(jig), 4) == playing_order(jig)


def test_repeat_start_and_end_at_one_bar_line_are_written_double(heard, playing_order):
    notes = [Note(p, 4 * i, 4) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72])]
    melody = Melody(notes, time_signature="2/4", key="C:major",
                    form=[Mark(0, REPEAT_START), Mark(16, REPEAT_END), Mark(16, REPEAT_START),
                          Mark(32, REPEAT_END)])
    assert body(melody) == "|: C2 D2 | E2 F2 :: G2 A2 | B2 c2 :|"
    assert heard(to_abc(melody), 4) == playing_order(melody)


def test_part_repeated_from_a_repeat_end_gets_its_start_sign(heard, playing_order):
    notes = [Note(p, 4 * i, 4) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72])]
    melody = Melody(notes, time_signature="2/4", key="C:major",
                    form=[Mark(16, REPEAT_END), Mark(24, ENDING, 1), Mark(28, REPEAT_END),
                          Mark(28, ENDING, 2)])  # A :| B |1 C :|2 D: the :| goes back to B
    assert body(melody) == "C2 D2 | E2 F2 :: G2 A2 |1 B2 :|2 c2 |]"
    assert heard(to_abc(melody), 4) == playing_order(melody)
    assert [p for p, _, _ in playing_order(melody)[0]] == \
        [60, 62, 64, 65, 60, 62, 64, 65, 67, 69, 71, 67, 69, 72]


def test_third_ending_follows_the_repeat_that_closes_the_second():
    notes = [Note(67, 6 * i, 6) for i in range(8)]  # dotted quarters, two a bar of 3/4
    form = [Mark(12, ENDING, 1), Mark(24, REPEAT_END), Mark(24, ENDING, 2),
            Mark(36, REPEAT_END), Mark(36, ENDING, 3)]
    melody = Melody(notes, time_signature="3/4", key="G:major", form=form)
    assert body(melody) == "G3 G3 |1 G3 G3 :|2 G3 G3 :|3 G3 G3 |]"


def test_last_ending_is_closed_by_a_double_bar_mid_tune(heard, playing_order):
    notes = [Note(62, 4 * i, 4) for i in range(12)]  # 2/4 crotchets, 6 bars
    form = [Mark(8, ENDING, 1), Mark(16, REPEAT_END), Mark(16, ENDING, 2)]
    melody = Melody(notes, time_signature="2/4", form=form)
    assert body(melody) == "D2 D2 |1 D2 D2 :|2 D2 D2 || D2 D2 |\nD2 D2 | D2 D2 |]"
    assert heard(to_abc(melody), 4) == playing_order(melody)


def test_pickup_is_a_short_first_bar_and_notes_tie_across_bar_lines():
    notes = [Note(67, 12, 4), Note(72, 16, 24), Note(71, 40, 4)]  # G | c4- | c2 B
    melody = Melody(notes, time_signature="4/4", key="C:major", pickup_steps=4)
    assert body(melody) == "G2 | c8- | c4 B2 |]"  # the last bar completes the pickup


# --- accidentals and spelling -----------------------------------------------------------------

def pitches(*names: str) -> list[Note]:
    from melodyrnn.core.pitch import name_to_pitch

    return [Note(name_to_pitch(n), 4 * i, 4) for i, n in enumerate(names)]


@pytest.mark.parametrize(("key", "names", "expected"), [
    ("C:major", ("F#4", "F4", "F#4", "F#4"), "^F2 =F2 ^F2 F2"),
    ("C:major", ("F#4", "F5", "F#5", "F4"), "^F2 =f2 ^f2 =F2"),  # other octaves agree or not
    ("G:major", ("F4", "F#4", "F#5", "C#5"), "=F2 ^F2 f2 ^c2"),
    ("F:major", ("B4", "Bb4", "Eb4", "E4"), "=B2 _B2 _E2 =E2"),
    ("D:dorian", ("C#5", "Bb4", "B4", "C5"), "^c2 _B2 =B2 =c2"),
    ("Bb:major", ("Bb3", "Eb6", "A2", "F#4"), "B,2 e'2 A,,2 _G2"),  # a lowered 6th
    ("E:major", ("G#4", "D#4", "A#4", "D4"), "G2 D2 ^A2 =D2"),
])
def test_accidentals_follow_the_key_and_the_bar(key, names, expected, heard):
    melody = Melody(pitches(*names), key=key)
    assert body(melody) == f"{expected} |]"
    notes, _ = heard(to_abc(melody), 4)
    assert [p for p, _, _ in notes] == melody.pitches


def test_accidentals_start_afresh_in_each_bar_and_on_a_tied_note(heard, playing_order):
    notes = [Note(66, 0, 4), Note(66, 4, 4), Note(65, 8, 4), Note(66, 12, 16), Note(65, 28, 4)]
    melody = Melody(notes, time_signature="3/4", key="C:major")
    assert body(melody) == "^F2 F2 =F2 | ^F6- | ^F2 =F2 |]"
    assert heard(to_abc(melody), 4) == playing_order(melody)


# --- the header -------------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "field"), [
    ("G:major", "K:G"), ("E:minor", "K:Em"), ("D:dorian", "K:Ddor"), ("A:mixolydian", "K:Amix"),
    ("E:phrygian", "K:Ephr"), ("F:lydian", "K:Flyd"), ("B:locrian", "K:Bloc"),
    ("Bb:major", "K:Bb"), ("F#:minor", "K:F#m"), ("C#:dorian", "K:C#dor"),
    ("Db:major", "K:Db"), ("Eb:mixolydian", "K:Ebmix"), (None, "K:C")])
def test_key_field_names_tonic_and_mode(key, field):
    assert f"\n{field}\n" in to_abc(Melody([Note(60, 0, 4)], key=key))


@pytest.mark.parametrize(("qpm", "field"), [(120, "Q:1/4=120"), (72.5, "Q:1/8=145"),
                                            (100.25, "Q:1/16=401"), (99.9, "Q:1/4=100")])
def test_tempo_is_a_whole_number_of_beats(qpm, field):
    assert f"\n{field}\n" in to_abc(Melody([Note(60, 0, 4)], qpm=qpm))


def test_unit_note_is_a_sixteenth_when_most_notes_are_shorter_than_an_eighth():
    reel = Melody([Note((60, 62, 64, 65)[i % 4], i, 1) for i in range(16)] + [Note(67, 16, 16)])
    assert "\nL:1/16\n" in to_abc(reel)
    assert body(reel) == "CDEF CDEF CDEF CDEF | G16 |]"
    assert "\nL:1/8\n" in to_abc(Melody([Note(60, 0, 1), Note(62, 1, 2), Note(64, 3, 2)]))
    assert "\nM:3/16\nL:1/16\n" in to_abc(Melody([Note(60, 0, 3)], time_signature="3/16"))


@pytest.mark.parametrize(("source", "title"), [("tunes/kesh.abc#12", "kesh #12"),
                                               ("out/melody-7.mid:track0", "melody-7 track 0"),
                                               ("folk-tune", "folk-tune"), ("", "Untitled")])
def test_title_comes_from_the_source(source, title):
    assert f"\nT:{title}\n" in to_abc(Melody([Note(60, 0, 4)], source=source))


def test_title_can_be_given_and_loses_comment_signs():
    assert "\nT:Tune in 100 time\n" in to_abc(Melody([Note(60, 0, 4)]),
                                              title="Tune in 100% time")


def test_lengths_are_multiples_and_fractions_of_the_unit():
    notes = [Note(60, 0, 6), Note(62, 6, 1), Note(64, 7, 3), Note(65, 10, 6)]
    assert body(Melody(notes, time_signature="4/4")) == "C3 D/2E3/2 F3 |]"


def test_empty_melody_is_a_header_and_music21_reads_it(heard):
    text = to_abc(Melody([]))
    assert text.splitlines()[-1] == "K:C"
    assert heard(text, 4) == ([], 0)


def test_line_breaks_every_four_bars():
    melody = Melody([Note((60, 62, 64, 67)[i % 4], 2 * i, 2) for i in range(112)])  # 14 bars
    line = "CD EG CD EG | CD EG CD EG | CD EG CD EG | CD EG CD EG |"
    assert body(melody).splitlines() == [line] * 3 + ["CD EG CD EG | CD EG CD EG |]"]


# --- music21 reads what was written -----------------------------------------------------------

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_music21_plays_the_abc_as_the_playing_order(form_melodies, data, heard, playing_order):
    melody = data.draw(form_melodies)
    # music21 (10.5) reads a locrian K: field as the major key on the tonic (K:Bloc as B)
    assume(melody.key is None or melody.key.mode != "locrian")
    text = to_abc(melody)
    # music21 makes measures (and can repeat) only where a tune has two plain bar lines
    assume(sum(token == "|" or (token[:1] == "|" and token[1:].isdigit())
               for token in text.split()) >= 2)
    assert heard(text, melody.steps_per_quarter) == playing_order(melody), text


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_more_endings_are_numbered_after_their_repeat(many_ending_melodies, data):
    """music21 reads endings 1 and 2 only; endings 3 and 4 are checked as text."""
    melody = data.draw(many_ending_melodies)
    text = body(melody)
    for mark in melody.form:
        if mark.kind == ENDING and mark.number > 1:
            assert f":|{mark.number} " in text
    assert text.count(":|") + text.count("::") == sum(m.kind == REPEAT_END for m in melody.form)
    # every |: is written, and a part repeated from a :| gets one there too (:: in the text)
    assert text.count("|:") + text.count("::") >= sum(m.kind == REPEAT_START
                                                      for m in melody.form)


def test_write_abc_and_melody_write(tmp_path, jig):
    assert write_abc(jig, tmp_path / "a.abc").read_text(encoding="utf-8") == JIG_ABC
    assert jig.write(tmp_path / "b.abc").read_text(encoding="utf-8") == JIG_ABC
    assert "T:Kesh" in jig.write(tmp_path / "c.abc", title="Kesh").read_text(encoding="utf-8")


def test_package_reader_reads_the_written_notes(tmp_path, folk_tune):
    from melodyrnn.prepare.extract import read_melodies

    [back] = read_melodies(write_abc(folk_tune, tmp_path / "folk.abc"))
    # ABC has no velocities: the notes come back at the default one
    assert back.notes == tuple(Note(n.pitch, n.start_step, n.duration_steps) for n in folk_tune)
    assert back.time_signature == (6, 8) and back.key == folk_tune.key
