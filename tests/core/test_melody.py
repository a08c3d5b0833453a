"""Note, Melody, Key and pitch helpers; Melody.write (export) by suffix, atomic, with --force."""

from __future__ import annotations

from fractions import Fraction

import pytest

from melodyrnn.core.key import Key
from melodyrnn.core.melody import Melody, Note
from melodyrnn.core.meter import parse_time_signature, steps_from_quarters
from melodyrnn.core.pitch import name_to_pitch, name_to_pitch_class, pitch_to_name
from melodyrnn.errors import MelodyError, MelodyRNNError, WriteError

# --- pitch names, keys, meters ----------------------------------------------------------------


@pytest.mark.parametrize(("name", "pitch"), [("C4", 60), ("C#4", 61), ("Eb3", 51), ("F#5", 78),
                                             ("A0", 21), ("G9", 127), ("C-1", 0)])
def test_pitch_names(name, pitch):
    assert name_to_pitch(name) == pitch
    assert name_to_pitch(pitch_to_name(pitch)) == pitch


def test_bad_pitch_names_say_what_was_wrong():
    with pytest.raises(MelodyError, match="'H4' is not a pitch name"):
        name_to_pitch("H4")
    with pytest.raises(MelodyError, match="outside 0-127"):
        name_to_pitch("A9")
    assert name_to_pitch_class("Bb") == 10


@pytest.mark.parametrize(("text", "tonic", "mode"), [
    ("D:dorian", 2, "dorian"), ("D dorian", 2, "dorian"), ("Dm", 2, "minor"), ("Bb", 10, "major"),
    ("F#:minor", 6, "minor"), ("G mix", 7, "mixolydian"), ("E aeolian", 4, "minor")])
def test_key_parse(text, tonic, mode):
    assert Key.parse(text) == Key(tonic, mode)


@pytest.mark.parametrize(("key", "sharps"), [
    ("C:major", 0), ("G:major", 1), ("F:major", -1), ("Bb:major", -2), ("F#:major", 6),
    ("A:minor", 0), ("E:minor", 1), ("D:dorian", 0), ("E:phrygian", 0), ("A:dorian", 1)])
def test_key_signature_sharps(key, sharps):
    assert Key.parse(key).sharps == sharps


def test_key_validation_and_text():
    with pytest.raises(MelodyError, match="mode 'bluesy'"):
        Key(0, "bluesy")
    assert str(Key.parse("Eb:major").transpose(2)) == "F:major"
    assert Key(9, "minor").pitch_classes == frozenset({9, 11, 0, 2, 4, 5, 7})


def test_time_signature_parse():
    assert parse_time_signature("6/8") == (6, 8)
    with pytest.raises(MelodyError, match="4/3"):
        parse_time_signature("4/3")


def test_steps_from_quarters():
    assert steps_from_quarters(Fraction(1, 3), 12) == (4, False)
    assert steps_from_quarters(0.3, 4) == (1, True)
    assert steps_from_quarters(1.5, 4) == (6, False)


# --- notes and melodies -----------------------------------------------------------------------

def test_note_validation_names_the_value():
    with pytest.raises(MelodyError, match="pitch 128"):
        Note(128, 0, 1)
    with pytest.raises(MelodyError, match="duration 0"):
        Note(60, 12, 0)
    with pytest.raises(MelodyError, match="velocity 0"):
        Note(60, 0, 1, velocity=0)
    assert Note(60, 3, 2).end_step == 5


def test_melody_is_monophonic_and_knows_its_length(c_major_scale):
    assert len(c_major_scale) == 8
    assert c_major_scale.end_step == 32
    assert c_major_scale.steps_per_bar == 16
    assert c_major_scale.seconds == pytest.approx(4.0)  # 8 quarters at 120 qpm
    with pytest.raises(MelodyError, match="monophonic"):
        Melody([Note(60, 0, 4), Note(64, 2, 4)])


def test_transpose_moves_key_and_refuses_leaving_midi(c_major_scale):
    up = c_major_scale.transpose(2)
    assert up.pitches == [p + 2 for p in c_major_scale.pitches]
    assert up.key == Key(2, "major")
    with pytest.raises(MelodyError, match="leaves MIDI 0-127"):
        c_major_scale.transpose(60)


def test_replace_validates_again(c_major_scale):
    assert c_major_scale.replace(qpm=90).qpm == 90.0
    with pytest.raises(MelodyError, match="tempo"):
        c_major_scale.replace(qpm=0)


def test_pretty_midi_conversion_round_trip(folk_tune):
    pm = folk_tune.to_pretty_midi(program=73)
    assert pm.instruments[0].program == 73
    back = Melody.from_pretty_midi(pm)
    assert back.notes == folk_tune.notes
    assert (back.qpm, back.time_signature) == (96.0, (6, 8))
    assert back.key == Key(0, "major")  # MIDI stores D dorian as its signature, C major


def test_music21_conversion_round_trip(folk_tune):
    back = Melody.from_music21(folk_tune.to_music21(), source=folk_tune.source)
    assert back == folk_tune


# --- Melody.write (export) --------------------------------------------------------------------

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
    with pytest.raises(WriteError, match=r"'\.foo'.*\.mid.*\.musicxml"):
        c_major_scale.write(tmp_path / "scale.foo")
    assert not list(tmp_path.iterdir())


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
