"""Written form through files: ABC -> Melody -> MusicXML / ABC -> Melody keeps form and pickup,
and MIDI plays the tune as played."""

from __future__ import annotations

from pathlib import Path

import pytest

from melodyrnn import Mark, Melody, Note
from melodyrnn.core.form import ENDING, REPEAT_END, REPEAT_START
from melodyrnn.prepare.extract import read_melodies

DATA = Path(__file__).parent.parent / "data"


def _jig() -> Melody:
    """6/8 with an eighth-note pickup: |: A :| |: B |1 ... :|2 ... |"""
    eighth, bar = 2, 12
    start = bar - eighth
    notes = [Note(62, start, eighth)]
    step = bar
    for i in range(8):  # A part: 7 full bars and a last bar that completes the pickup
        length = bar if i < 7 else bar - eighth
        notes.append(Note(67 + (i % 3), step, length))
        step += length
    a_end = step
    notes.append(Note(74, step, eighth))  # B part pickup
    step += eighth
    for i in range(6):
        notes.append(Note(72 + (i % 2), step, bar))
        step += bar
    e1 = step
    notes.append(Note(71, step, bar - eighth))
    step += bar - eighth
    e2 = step
    notes.append(Note(67, step, bar))
    step += bar
    form = [Mark(a_end, REPEAT_END), Mark(a_end, REPEAT_START), Mark(e1, ENDING, 1),
            Mark(e2, REPEAT_END), Mark(e2, ENDING, 2)]
    return Melody(notes, time_signature="6/8", key="G:major", pickup_steps=eighth,
                  form=form, end_step=step)


@pytest.mark.parametrize("suffix", [".abc", ".musicxml"])
def test_written_form_survives_a_round_trip(tmp_path, suffix):
    jig = _jig()
    [back] = read_melodies(jig.write(tmp_path / f"jig{suffix}"))
    assert back.pickup_steps == jig.pickup_steps
    assert back.notes == jig.notes
    assert [m.name for m in back.form] == [m.name for m in jig.form]
    assert back.form == jig.form
    assert back.unfold().notes == jig.unfold().notes


def test_oneills_97_through_musicxml_keeps_both_parts_and_endings(tmp_path):
    [tune] = read_melodies(DATA / "oneills_97.abc")
    assert tune.form
    [back] = read_melodies(tune.write(tmp_path / "97.musicxml"))
    assert back.form == tune.form
    assert back.pickup_steps == tune.pickup_steps
    assert back.unfold().pitches == tune.unfold().pitches


def test_midi_plays_the_tune_as_played(tmp_path):
    jig = _jig()
    [back] = read_melodies(jig.write(tmp_path / "jig.mid"))
    played = jig.unfold()
    assert back.form == ()
    assert back.pitches == played.pitches
    assert [n.duration_steps for n in back.notes] == [n.duration_steps for n in played.notes]
