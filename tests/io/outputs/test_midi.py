"""MIDI writing (key numbers, resolution, program, the playing order from the pickup) and
Melody -> MIDI file -> Melody round trips."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from melodyrnn.core.key import Key
from melodyrnn.core.melody import Melody, Note
from melodyrnn.io.inputs.midi import read_score
from melodyrnn.io.outputs.midi import as_played, to_pretty_midi, write_midi
from melodyrnn.prepare.extract import extract_melodies


@pytest.mark.parametrize(("key", "number"), [
    ("C:major", 0), ("Eb:major", 3), ("A:minor", 21), ("B:minor", 23), ("D:dorian", 0),
    ("E:phrygian", 0), ("A:mixolydian", 2)])
def test_key_numbers_written(key, number):
    pm = to_pretty_midi(Melody([Note(60, 0, 4)], key=key))
    assert pm.key_signature_changes[0].key_number == number


@pytest.mark.parametrize("steps_per_quarter", [1, 3, 4, 7, 12, 96])
def test_resolution_is_a_multiple_of_steps_per_quarter(steps_per_quarter):
    pm = to_pretty_midi(Melody([Note(60, 1, 1)], steps_per_quarter=steps_per_quarter))
    assert pm.resolution % steps_per_quarter == 0
    assert pm.time_to_tick(pm.instruments[0].notes[0].start) == pm.resolution // steps_per_quarter


@st.composite
def melodies(draw) -> Melody:
    """Random melodies whose first note lies in the first bar (extraction keeps bars)."""
    spq = draw(st.sampled_from([4, 12]))
    num, den = draw(st.sampled_from([(4, 4), (3, 4), (2, 4), (6, 8), (2, 2), (5, 8), (12, 8)]))
    step = draw(st.integers(0, num * spq * 4 // den - 1))
    notes = []
    for _ in range(draw(st.integers(1, 20))):
        duration = draw(st.integers(1, 8 * spq))
        notes.append(Note(draw(st.integers(0, 127)), step, duration, draw(st.integers(1, 127))))
        step += duration + draw(st.integers(0, 2 * spq))
    qpm = draw(st.one_of(st.integers(20, 400).map(float),
                         st.integers(200, 2000).map(lambda tenths: tenths / 10)))
    key = draw(st.none() | st.builds(Key, st.integers(0, 11), st.sampled_from(["major",
                                                                                "minor"])))
    return Melody(notes, steps_per_quarter=spq, qpm=qpm, time_signature=(num, den), key=key)


@settings(max_examples=60, deadline=None)
@given(melody=melodies())
def test_melody_midi_file_melody_round_trip(tmp_path_factory, melody):
    path = write_midi(melody, tmp_path_factory.mktemp("rt") / "melody.mid")
    score = read_score(path, steps_per_quarter=melody.steps_per_quarter)
    [back] = extract_melodies(score, min_notes=1, min_pitch_classes=1, split_gap_bars=None)
    assert back == melody.replace(source=f"{path}:track0")
    assert score.moved_onsets == 0


def test_written_file_is_standard_midi(tmp_path, c_major_scale):
    path = write_midi(c_major_scale, tmp_path / "scale.mid", program=40)
    assert path.read_bytes()[:4] == b"MThd"
    score = read_score(path)
    assert score.tracks[0].program == 40
    assert [n.pitch for n in score.tracks[0].notes] == list(c_major_scale.pitches)


def test_pretty_midi_conversion_round_trip(folk_tune):
    pm = folk_tune.to_pretty_midi(program=73)
    assert pm.instruments[0].program == 73
    back = Melody.from_pretty_midi(pm)
    assert back.notes == folk_tune.notes
    assert (back.qpm, back.time_signature) == (96.0, (6, 8))
    assert back.key == Key(0, "major")  # MIDI stores D dorian as its signature, C major


# --- the playing order ------------------------------------------------------------------------

def test_midi_plays_the_repeats_and_endings_from_the_pickup(tmp_path, jig, playing_order):
    score = read_score(write_midi(jig, tmp_path / "jig.mid"))
    played = [(n.pitch, n.start_step, n.duration_steps) for n in score.tracks[0].notes]
    assert (played, score.time_signature) == (playing_order(jig)[0], (6, 8))
    assert played[0][1] == 0  # the pickup sounds at once: no bar of silence before it
    assert len(played) == 112  # A twice (26 notes each), B with ending 1, then ending 2


def test_as_played_moves_the_pickup_to_step_zero(jig):
    played = as_played(jig)
    assert (played.form, played.pickup_steps, played.start_step) == ((), 0, 0)
    assert played.end_step == jig.unfold().end_step - 10
    assert [n.pitch for n in played.notes] == [n.pitch for n in jig.unfold().notes]


def test_melody_without_form_or_pickup_plays_as_written(folk_tune):
    assert as_played(folk_tune) is folk_tune  # its rests before the upbeat stay
    first = to_pretty_midi(folk_tune).instruments[0].notes[0]
    assert first.start == pytest.approx(10 * folk_tune.step_seconds)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_midi_file_holds_the_playing_order(tmp_path_factory, form_melodies, playing_order,
                                           data):
    melody = data.draw(form_melodies)
    path = write_midi(melody, tmp_path_factory.mktemp("form") / "tune.mid")
    score = read_score(path, steps_per_quarter=melody.steps_per_quarter)
    notes = score.tracks[0].notes if score.tracks else []  # a file of no notes has no track
    assert [(n.pitch, n.start_step, n.duration_steps) for n in notes] == playing_order(melody)[0]
    assert score.moved_onsets == 0


# --- the file's own bytes ---------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(melody=melodies())
def test_written_file_holds_what_pretty_midi_would_write(tmp_path_factory, melody):
    import pretty_midi

    folder = tmp_path_factory.mktemp("same")
    ours = pretty_midi.PrettyMIDI(str(write_midi(melody, folder / "ours.mid", program=12)))
    theirs = to_pretty_midi(melody, program=12)
    theirs.write(str(folder / "theirs.mid"))
    theirs = pretty_midi.PrettyMIDI(str(folder / "theirs.mid"))
    assert ours.resolution == theirs.resolution
    assert [i.program for i in ours.instruments] == [12]
    assert [(n.pitch, n.start, n.end, n.velocity) for n in ours.instruments[0].notes] == \
        [(n.pitch, n.start, n.end, n.velocity) for n in theirs.instruments[0].notes]
    assert ours.get_tempo_changes()[1].tolist() == theirs.get_tempo_changes()[1].tolist()
    assert [(t.numerator, t.denominator) for t in ours.time_signature_changes] == \
        [melody.time_signature]
    assert [k.key_number for k in ours.key_signature_changes] == \
        [k.key_number for k in theirs.key_signature_changes]


def test_slowest_tempo_is_written_as_midi_slowest(tmp_path):
    import mido

    path = write_midi(Melody([Note(60, 0, 4)], qpm=1.0), tmp_path / "slow.mid")
    tempos = [m.tempo for m in mido.MidiFile(str(path)).tracks[0] if m.type == "set_tempo"]
    assert tempos == [0xFFFFFF]


def test_writing_a_midi_file_imports_no_pretty_midi(tmp_path):
    import subprocess
    import sys

    code = ("import sys\nfrom melodyrnn.core.melody import Melody, Note\n"
            "from melodyrnn.io import write_melody\n"
            f"write_melody(Melody([Note(60, 0, 4)]), {str(tmp_path / 'a.mid')!r})\n"
            "print(sorted({'pretty_midi', 'mido', 'fluidsynth', 'music21'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
    assert (tmp_path / "a.mid").read_bytes()[:4] == b"MThd"
