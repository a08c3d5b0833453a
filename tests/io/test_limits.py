"""What a file may ask for: each reader refuses a file, track or tune over a limit of
`core.limits` with one sentence naming it, before it builds anything of that size."""

from __future__ import annotations

import io
import struct
import zipfile
from collections import Counter

import pytest

from melodyrnn.core.melody import Melody, Note
from melodyrnn.errors import MelodyError, ReadError
from melodyrnn.io import read_scores
from melodyrnn.io.inputs.abc import count_abc_notes
from melodyrnn.prepare.extract import read_melodies


def vlq(value: int) -> bytes:
    """A MIDI variable-length quantity."""
    out = [value & 0x7F]
    while value := value >> 7:
        out.append(0x80 | (value & 0x7F))
    return bytes(reversed(out))


def midi_bytes(notes: list[tuple[int, int]], ticks_per_quarter: int = 1) -> bytes:
    """A format-0 MIDI file of (pitch, length in ticks) notes, one after another."""
    events = b"".join(b"\x00\x90" + bytes([pitch, 64]) + vlq(ticks) + b"\x80" +
                      bytes([pitch, 64]) for pitch, ticks in notes) + b"\x00\xff\x2f\x00"
    return (b"MThd" + struct.pack(">IHHH", 6, 0, 1, ticks_per_quarter) +
            b"MTrk" + struct.pack(">I", len(events)) + events)


def test_a_tiny_midi_file_asking_a_billion_steps_is_refused_naming_it(tmp_path):
    path = tmp_path / "tiny.mid"
    path.write_bytes(midi_bytes([(60, 2**28 - 1)]))  # 1 tick a quarter, one note 2**28 long
    assert len(path.read_bytes()) < 48
    with pytest.raises(ReadError) as info:
        read_melodies(path)
    assert str(info.value) == (
        f"{path}: track 0 has 1,073,741,820 steps, over the limit of 2,000,000 (length of one "
        "melody, in quantized steps); set MELODYRNN_MAX_MELODY_STEPS to allow more")


def test_raising_the_step_limit_lets_a_long_track_through(tmp_path, monkeypatch):
    path = tmp_path / "long.mid"
    path.write_bytes(midi_bytes([(60, 1000)]))  # 4,000 steps
    monkeypatch.setenv("MELODYRNN_MAX_MELODY_STEPS", "3999")
    with pytest.raises(ReadError, match="track 0 has 4,000 steps"):
        read_scores(path)
    monkeypatch.setenv("MELODYRNN_MAX_MELODY_STEPS", "4000")
    [score] = read_scores(path)
    assert score.tracks[0].notes == [Note(60, 0, 4000, 64)]


def test_a_midi_track_with_too_many_notes_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "busy.mid"
    path.write_bytes(midi_bytes([(60 + i, 1) for i in range(12)]))
    monkeypatch.setenv("MELODYRNN_MAX_MELODY_NOTES", "11")
    with pytest.raises(ReadError, match=r"busy\.mid: track 0 has 12 notes, over the limit of "
                                        r"11 .*MELODYRNN_MAX_MELODY_NOTES"):
        read_scores(path)


def multi_track_midi(tracks: int, notes_each: int) -> bytes:
    """A format-1 MIDI file of `tracks` tracks of `notes_each` one-tick notes each."""
    events = b"".join(b"\x00\x90\x3c\x40\x01\x80\x3c\x40" for _ in range(notes_each))
    chunk = b"MTrk" + struct.pack(">I", len(events) + 4) + events + b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 1, tracks, 1) + chunk * tracks


def test_many_tracks_each_under_the_limit_are_refused_by_the_file_limit(tmp_path, monkeypatch):
    path = tmp_path / "many.mid"
    path.write_bytes(multi_track_midi(tracks=5, notes_each=10))
    monkeypatch.setenv("MELODYRNN_MAX_MELODY_NOTES", "10")  # every track is within it
    monkeypatch.setenv("MELODYRNN_MAX_FILE_NOTES", "49")
    with pytest.raises(ReadError, match=r"many\.mid has 50 notes, over the limit of 49 "
                                        r"\(notes in all the tracks of one file\)"):
        read_scores(path)
    monkeypatch.setenv("MELODYRNN_MAX_FILE_NOTES", "50")
    assert [len(track.notes) for track in read_scores(path)[0].tracks] == [10] * 5


def musicxml(notes: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?><score-partwise version="3.1"><part-list>'
            '<score-part id="P1"><part-name>M</part-name></score-part></part-list>'
            '<part id="P1"><measure number="1"><attributes><divisions>1</divisions>'
            '<time><beats>4</beats><beat-type>4</beat-type></time></attributes>'
            f"{notes}</measure></part></score-partwise>")


def xml_note(duration: int, rest: bool = False) -> str:
    what = "<rest/>" if rest else "<pitch><step>C</step><octave>4</octave></pitch>"
    return f"<note>{what}<duration>{duration}</duration><type>whole</type></note>"


def test_a_musicxml_note_of_huge_duration_is_refused_as_parsed(tmp_path):
    path = tmp_path / "huge.musicxml"
    path.write_text(musicxml(xml_note(10**14)))
    with pytest.raises(ReadError) as info:
        read_melodies(path)
    assert str(info.value).startswith(
        f"{path}: part 1 has 400,000,000,000,000 steps, over the limit of 2,000,000")


def test_a_musicxml_rest_of_huge_duration_after_the_notes_is_refused(tmp_path):
    path = tmp_path / "rest.musicxml"
    path.write_text(musicxml(xml_note(4) + xml_note(10**12, rest=True)))
    with pytest.raises(ReadError, match=r"rest\.musicxml has 4,000,000,000,016 steps"):
        read_scores(path)


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_compressed_musicxml_bomb_is_refused_from_its_declared_size(tmp_path, monkeypatch):
    monkeypatch.setenv("MELODYRNN_MAX_UNZIPPED_BYTES", "100000")
    score = musicxml(xml_note(4)).replace("</part>", " " * 1_000_000 + "</part>")
    path = tmp_path / "bomb.mxl"
    path.write_bytes(zipped({"score.musicxml": score.encode()}))
    assert path.stat().st_size < 10_000  # a thousand times smaller than what it unzips to
    with pytest.raises(ReadError, match=r"bomb\.mxl \(unzipped\) has 1,000,\d{3} bytes, over "
                                        r"the limit of 100,000 .*MELODYRNN_MAX_UNZIPPED_BYTES"):
        read_scores(path)


def test_a_compressed_musicxml_that_lies_about_its_size_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("MELODYRNN_MAX_UNZIPPED_BYTES", "100000")
    score = musicxml(xml_note(4)).replace("</part>", " " * 1_000_000 + "</part>")
    data = bytearray(zipped({"score.musicxml": score.encode()}))
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, 22, 1000)  # uncompressed size, local header
    struct.pack_into("<I", data, central + 24, 1000)  # and central directory
    path = tmp_path / "liar.mxl"
    path.write_bytes(bytes(data))
    with pytest.raises(ReadError, match=r"liar\.mxl"):
        read_scores(path)


def test_a_compressed_musicxml_reads_its_container_root_file(tmp_path):
    container = (b'<?xml version="1.0"?><container><rootfiles><rootfile full-path="b/tune.xml"'
                 b' media-type="application/vnd.recordare.musicxml+xml"/></rootfiles>'
                 b"</container>")
    path = tmp_path / "tune.mxl"
    path.write_bytes(zipped({"META-INF/container.xml": container, "a.xml": b"<notes/>",
                             "b/tune.xml": musicxml(xml_note(4)).encode()}))
    [score] = read_scores(path)
    assert score.tracks[0].notes == [Note(60, 0, 16)]


@pytest.mark.parametrize("name", ["big.mid", "big.musicxml", "big.mxl", "big.abc"])
def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path, monkeypatch, name):
    path = tmp_path / name
    path.write_bytes(b"MThd" + b"\0" * 196)
    monkeypatch.setenv("MELODYRNN_MAX_FILE_BYTES", "199")
    with pytest.raises(ReadError) as info:
        read_scores(path)
    assert str(info.value) == (f"{path} has 200 bytes, over the limit of 199 (size of one "
                               "input file); set MELODYRNN_MAX_FILE_BYTES to allow more")


def abc_tune(number: int, bars: int) -> str:
    return f"X:{number}\nT:Tune {number}\nM:4/4\nL:1/8\nK:D\n" + "DEFG ABcd|" * bars + "\n"


def test_notes_of_an_abc_tune_are_counted_without_its_fields_and_markup():
    tune = ('X:1\nT:A Big Gig\nM:6/8\nK:G\n"Gm"G2 !trill!A B/2 [K:D] +fermata+c|'
            " [CEG] % a comment: ABC\nw: la la\n")
    assert count_abc_notes(tune) == 7  # G A B c, and a chord of three


def test_an_abc_tune_over_the_note_limit_is_skipped_and_the_book_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("MELODYRNN_MAX_ABC_TUNE_NOTES", "80")
    path = tmp_path / "book.abc"
    path.write_text(abc_tune(1, 2) + "\n" + abc_tune(2, 11) + "\n" + abc_tune(3, 10))
    drops: Counter[str] = Counter()
    scores = read_scores(path, drops=drops)
    assert [s.source for s in scores] == [f"{path}#1", f"{path}#3"]
    assert drops == Counter({"tune over a limit (MELODYRNN_MAX_ABC_TUNE_NOTES)": 1})


def test_a_lone_abc_tune_over_the_note_limit_is_a_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("MELODYRNN_MAX_ABC_TUNE_NOTES", "80")
    path = tmp_path / "long.abc"
    path.write_text(abc_tune(7, 11))
    with pytest.raises(ReadError) as info:
        read_scores(path)
    assert str(info.value) == (f"{path}#7 has 88 notes, over the limit of 80 (notes in one "
                               "ABC tune); set MELODYRNN_MAX_ABC_TUNE_NOTES to allow more")


def test_an_abc_note_of_huge_length_is_refused_like_a_long_track(tmp_path):
    path = tmp_path / "held.abc"
    path.write_text("X:1\nM:4/4\nL:1/8\nK:C\nC2 D999999999|\n")
    with pytest.raises(ReadError, match=r"held\.abc#1: part 1 has [\d,]+ steps, over the limit"):
        read_scores(path)


def test_a_melody_longer_than_the_step_limit_is_refused():
    with pytest.raises(MelodyError) as info:
        Melody([Note(60, 0, 4)], end_step=2_000_001)
    assert str(info.value).startswith("the melody has 2,000,001 steps, over the limit of "
                                      "2,000,000")
    with pytest.raises(MelodyError, match=r"tune\.mid has 3,000,000 steps"):
        Melody([Note(60, 0, 3_000_000)], source="tune.mid")
    assert Melody([Note(60, 0, 4)], end_step=2_000_000).end_step == 2_000_000


def test_a_melody_with_more_notes_than_the_limit_is_refused(monkeypatch):
    monkeypatch.setenv("MELODYRNN_MAX_MELODY_NOTES", "3")
    notes = [Note(60, i, 1) for i in range(4)]
    assert len(Melody(notes[:3])) == 3
    with pytest.raises(MelodyError, match=r"the melody has 4 notes, over the limit of 3 .*"
                                          r"MELODYRNN_MAX_MELODY_NOTES"):
        Melody(notes)


@pytest.mark.parametrize("meter", ["9994/4", "33+32/8"])
def test_an_abc_meter_music21_would_take_hours_over_is_refused(tmp_path, meter):
    path = tmp_path / "meter.abc"
    path.write_text(abc_tune(1, 2) + f"\nX:2\nM:{meter}\nL:1/8\nK:C\nABcd|\n")
    drops: Counter[str] = Counter()
    assert [s.source for s in read_scores(path, drops=drops)] == [f"{path}#1"]
    assert drops == Counter({"unreadable tune (a bar of more than 64 beats)": 1})


def test_an_abc_note_that_overfills_its_bar_many_times_is_refused(tmp_path):
    path = tmp_path / "held.abc"
    # music21 would give the bar of the long note a time signature of about 1000/8
    path.write_text("X:1\nM:6/8\nL:1/8\nK:D\nA|:d2f ede|[1 B2c d1000-|d2A :|[2 B2c dBG||\n")
    with pytest.raises(ReadError) as info:
        read_scores(path)
    assert str(info.value) == (f"{path}#1: a bar of 498.5 quarter notes (a note that long) is "
                               "more than melodyrnn reads; keep notes under 64 quarters")


def test_a_musicxml_meter_of_too_many_beats_is_refused(tmp_path):
    path = tmp_path / "meter.musicxml"
    path.write_text(musicxml(xml_note(4)).replace("<beats>4</beats>", "<beats>9994</beats>"))
    with pytest.raises(ReadError, match=r"meter\.musicxml: a time signature of 9994 beats is "
                                        "more than the 64 a bar"):
        read_scores(path)


def test_a_musicxml_part_of_too_many_notes_is_refused_before_music21_reads_it(tmp_path,
                                                                               monkeypatch):
    monkeypatch.setenv("MELODYRNN_MAX_MELODY_NOTES", "5")
    path = tmp_path / "busy.musicxml"
    path.write_text(musicxml(xml_note(1) * 6))
    with pytest.raises(ReadError, match=r"busy\.musicxml: part 1 has 6 notes, over the limit"):
        read_scores(path)


OVERFULL = ("X:1\nM:4/4\nL:1/8\nK:C\nABcdefga bagfedcB ABc|d2 e2 f2 g2 abc|\nM:3/4\nABCDEFGA BC|"
            "D6|\nX:2\nM:6/8\nL:1/8\nK:D\nA|:d2f ede fdB AFA|[1 B2c d3-d2A :|[2 B2c dBG A3||\n")


def test_linear_rebarring_reads_as_music21s_own(tmp_path, monkeypatch):
    from music21.abcFormat import translate

    from melodyrnn.io.inputs import abc_translator

    path = tmp_path / "overfull.abc"  # bars that the translator must split
    path.write_text(OVERFULL)
    ours = read_scores(path)
    monkeypatch.setattr(abc_translator, "rebar_linear", translate.reBar)
    assert read_scores(path) == ours
    assert [len(s.tracks[0].notes) for s in ours] == [37, 22]


@pytest.mark.slow
def test_reading_an_abc_tune_grows_about_linearly_with_its_length(tmp_path):
    # Python function calls, counted: the same on every run, however busy the machine
    import sys

    def calls(bars: int) -> int:
        path = tmp_path / f"tune{bars}.abc"
        path.write_text(abc_tune(1, bars))
        count = 0

        def profile(frame, event, arg):
            nonlocal count
            count += event == "call"

        sys.setprofile(profile)
        try:
            [score] = read_scores(path)
        finally:
            sys.setprofile(None)
        assert len(score.tracks[0].notes) == 8 * bars
        return count

    calls(20)  # music21 imported and warm
    # four times the notes: 4x if linear; music21's own reBar makes it 10x at these lengths
    assert calls(1200) / calls(300) < 5
