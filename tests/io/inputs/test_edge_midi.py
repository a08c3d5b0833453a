"""Every edge-case MIDI file reads, or fails with our own error naming the file."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest

from melodyrnn.errors import MelodyRNNError, ReadError
from melodyrnn.io import read_scores
from melodyrnn.prepare.extract import read_melodies


def test_every_edge_case_file_is_shipped(data_dir):
    """tests/data/edge-midi holds both source folders whole, each with its licence."""
    folder = data_dir / "edge-midi"
    counts = Counter(p.parent.name for p in folder.glob("**/*.mid"))
    assert counts == Counter({"jazz-soft": 72, "nfroidure": 12})
    assert (folder / "jazz-soft" / "LICENSE.md").is_file()
    assert (folder / "nfroidure" / "LICENSE").is_file()
    assert (folder / "README.md").is_file()


# edge_midi_file: every file in tests/data/edge-midi, one test each (see conftest.py)
def test_file_reads_or_raises_our_error_naming_it(edge_midi_file):
    try:
        melodies = read_melodies(edge_midi_file)
    except MelodyRNNError as exc:
        assert edge_midi_file.name in str(exc)
    else:
        assert isinstance(melodies, list)
        assert all(m.source.startswith(f"{edge_midi_file}:track") for m in melodies)


def test_c_major_scale(edge_midi):
    [melody] = read_melodies(edge_midi("test-c-major-scale.mid"))
    assert melody.pitches == [60, 62, 64, 65, 67, 69, 71, 72]
    assert [(n.start_step, n.duration_steps) for n in melody] == [(4 * i, 4) for i in range(8)]
    assert (melody.qpm, melody.time_signature, melody.key) == (120.0, (4, 4), None)


@pytest.mark.parametrize(("name", "reason"), [
    ("test-empty-file.mid", "empty file"),
    ("test-not-a-midi-file.mid", "not a MIDI file"),
    ("test-corrupt-file-missing-byte.mid", "corrupt MIDI"),
    ("MIDIBadHeaderSMTPE.mid", "SMPTE"),
])
def test_unreadable_files(edge_midi, name, reason):
    with pytest.raises(ReadError, match=reason) as info:
        read_melodies(edge_midi(name))
    assert name in str(info.value)


def test_percussion_only_file_gives_no_melody_and_counts_the_drum_track(edge_midi):
    drops: Counter[str] = Counter()
    assert read_melodies(edge_midi("test-all-gm-percussion.mid"), drops=drops) == []
    assert drops == Counter({"drum track": 1})


def test_type_0_1_and_2_files_hold_the_same_two_melodies(edge_midi):
    found = [[m.pitches for m in read_melodies(edge_midi(f"test-2-tracks-type-{t}.mid"))]
             for t in (0, 1, 2)]
    assert len(found[0]) == 2
    assert found[0] == found[1] == found[2]


def test_karaoke_file_reads_under_its_kar_suffix(tmp_path, edge_midi):
    kar = tmp_path / "song.kar"
    shutil.copy(edge_midi("test-karaoke-kar.mid"), kar)
    [score] = read_scores(kar)
    assert score.source == str(kar)
    assert score.qpm == 90.0  # stored as 666667 microseconds per quarter
    assert len(score.tracks[0].notes) == 29


def test_lyrics_track_without_notes_is_counted_empty(edge_midi):
    drops: Counter[str] = Counter()
    [melody] = read_melodies(edge_midi("MIDIOkFormat1-lyrics.mid"), drops=drops)
    assert len(melody) == 6
    assert drops == Counter({"empty track": 1})
