"""Every edge-case MIDI file reads, or fails with our own error naming the file."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from melodyrnn.errors import MelodyRNNError, ReadError
from melodyrnn.io import read_scores
from melodyrnn.prepare.extract import read_melodies

# the shared test data sits beside the checkout: <root>/shared/testdata/edge-midi
EDGE_DIR = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "edge-midi"
EDGE_FILES = sorted(EDGE_DIR.glob("**/*.mid"))

needs_edge_files = pytest.mark.skipif(not EDGE_FILES, reason=f"no edge-case files in {EDGE_DIR}")


@needs_edge_files
@pytest.mark.parametrize("path", EDGE_FILES, ids=[p.name for p in EDGE_FILES])
def test_file_reads_or_raises_our_error_naming_it(path):
    try:
        melodies = read_melodies(path)
    except MelodyRNNError as exc:
        assert path.name in str(exc)
    else:
        assert isinstance(melodies, list)
        assert all(m.source.startswith(f"{path}:track") for m in melodies)


def edge(name: str) -> Path:
    path = next((p for p in EDGE_FILES if p.name == name), None)
    if path is None:
        pytest.skip(f"{name} is not in {EDGE_DIR}")
    return path


@needs_edge_files
def test_c_major_scale():
    [melody] = read_melodies(edge("test-c-major-scale.mid"))
    assert melody.pitches == [60, 62, 64, 65, 67, 69, 71, 72]
    assert [(n.start_step, n.duration_steps) for n in melody] == [(4 * i, 4) for i in range(8)]
    assert (melody.qpm, melody.time_signature, melody.key) == (120.0, (4, 4), None)


@needs_edge_files
@pytest.mark.parametrize(("name", "reason"), [
    ("test-empty-file.mid", "empty file"),
    ("test-not-a-midi-file.mid", "not a MIDI file"),
    ("test-corrupt-file-missing-byte.mid", "corrupt MIDI"),
    ("MIDIBadHeaderSMTPE.mid", "SMPTE"),
])
def test_unreadable_files(name, reason):
    with pytest.raises(ReadError, match=reason) as info:
        read_melodies(edge(name))
    assert name in str(info.value)


@needs_edge_files
def test_percussion_only_file_gives_no_melody_and_counts_the_drum_track():
    drops: Counter[str] = Counter()
    assert read_melodies(edge("test-all-gm-percussion.mid"), drops=drops) == []
    assert drops == Counter({"drum track": 1})


@needs_edge_files
def test_type_0_1_and_2_files_hold_the_same_two_melodies():
    found = [[m.pitches for m in read_melodies(edge(f"test-2-tracks-type-{t}.mid"))]
             for t in (0, 1, 2)]
    assert len(found[0]) == 2
    assert found[0] == found[1] == found[2]


@needs_edge_files
def test_karaoke_file_reads_under_its_kar_suffix(tmp_path):
    kar = tmp_path / "song.kar"
    shutil.copy(edge("test-karaoke-kar.mid"), kar)
    [score] = read_scores(kar)
    assert score.source == str(kar)
    assert score.qpm == 90.0  # stored as 666667 microseconds per quarter
    assert len(score.tracks[0].notes) == 29


@needs_edge_files
def test_lyrics_track_without_notes_is_counted_empty():
    drops: Counter[str] = Counter()
    [melody] = read_melodies(edge("MIDIOkFormat1-lyrics.mid"), drops=drops)
    assert len(melody) == 6
    assert drops == Counter({"empty track": 1})
