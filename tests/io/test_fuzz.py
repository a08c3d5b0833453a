"""Fuzzing the readers: small valid MIDI, MusicXML and ABC files made here, mutated at random
(bytes flipped, cut short, inserted, duplicated, deleted, digits grown), must each read within
the limits or fail with a MelodyRNNError, never with another exception.

Each run draws a fresh seed and prints it; `MELODYRNN_FUZZ_SEED=<seed>` repeats a run exactly.
The limits are lowered for the run, so a mutation that asks for too much meets them.
"""

from __future__ import annotations

import io
import os
import random
import re
import secrets
import struct
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from melodyrnn.core.limits import limit
from melodyrnn.errors import MelodyRNNError
from melodyrnn.prepare.extract import read_melodies

pytestmark = pytest.mark.filterwarnings("ignore")  # music21 warns of what mutants break

LIMITS = {"MELODYRNN_MAX_MELODY_STEPS": "100000", "MELODYRNN_MAX_MELODY_NOTES": "2000",
          "MELODYRNN_MAX_ABC_TUNE_NOTES": "2000", "MELODYRNN_MAX_UNZIPPED_BYTES": "1000000",
          "MELODYRNN_MAX_FILE_BYTES": "1000000"}


@pytest.fixture(scope="module")
def seed() -> str:
    value = os.environ.get("MELODYRNN_FUZZ_SEED") or secrets.token_hex(4)
    print(f"fuzz seed {value} (repeat with MELODYRNN_FUZZ_SEED={value})")
    return value


# --- the valid files -------------------------------------------------------------------------

def _vlq(value: int) -> bytes:
    out = [value & 0x7F]
    while value := value >> 7:
        out.append(0x80 | (value & 0x7F))
    return bytes(reversed(out))


def _track(events: list[tuple[int, bytes]]) -> bytes:
    body = b"".join(_vlq(delta) + event for delta, event in events) + b"\x00\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(body)) + body


def midi_file() -> bytes:
    """Format 1: a tempo/meter/key track, a melody with a chord, and a drum track."""
    meta = _track([(0, b"\xff\x51\x03\x07\xa1\x20"), (0, b"\xff\x58\x04\x06\x03\x18\x08"),
                   (0, b"\xff\x59\x02\x02\x00"), (0, b"\xff\x03\x04Tune")])
    melody: list[tuple[int, bytes]] = [(0, b"\xc0\x49")]
    for pitch in (62, 64, 66, 67, 69, 71):
        melody += [(0, bytes([0x90, pitch, 90])), (240, bytes([0x80, pitch, 0]))]
    melody += [(0, b"\x90\x3e\x50"), (0, b"\x90\x42\x50"), (480, b"\x80\x3e\x00"),
               (0, b"\x80\x42\x00")]
    drums = [(0, b"\x99\x24\x64"), (120, b"\x89\x24\x00"), (120, b"\x99\x26\x64"),
             (120, b"\x89\x26\x00")]
    return (b"MThd" + struct.pack(">IHHH", 6, 1, 3, 480) + meta + _track(melody) +
            _track(drums))


def musicxml_file() -> bytes:
    """One part: a pickup, a repeat with two endings, a tie, a chord and a rest."""
    def note(step: str, duration: int, extra: str = "") -> str:
        return (f"<note>{extra}<pitch><step>{step}</step><octave>4</octave></pitch>"
                f"<duration>{duration}</duration><type>quarter</type></note>")

    attributes = ("<attributes><divisions>2</divisions><key><fifths>1</fifths></key><time>"
                  "<beats>3</beats><beat-type>4</beat-type></time></attributes>")
    measures = [
        f'<measure number="0" implicit="yes">{attributes}{note("D", 2)}</measure>',
        '<measure number="1"><barline location="left"><repeat direction="forward"/>'
        f'</barline>{note("G", 2)}{note("A", 2, "")}{note("B", 2)}</measure>',
        '<measure number="2"><barline location="left"><ending number="1" type="start"/>'
        f'</barline>{note("C", 4)}{note("E", 4, "<chord/>")}<note><rest/><duration>2'
        '</duration></note><barline location="right"><ending number="1" type="stop"/>'
        '<repeat direction="backward"/></barline></measure>',
        '<measure number="3"><barline location="left"><ending number="2" type="start"/>'
        f'</barline>{note("G", 4)}{note("G", 2)}<barline location="right">'
        '<ending number="2" type="stop"/></barline></measure>',
    ]
    return ('<?xml version="1.0" encoding="UTF-8"?><score-partwise version="3.1"><part-list>'
            '<score-part id="P1"><part-name>Tune</part-name></score-part></part-list>'
            f'<part id="P1">{"".join(measures)}</part></score-partwise>').encode()


def mxl_file(score: bytes | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("META-INF/container.xml",
                         '<container><rootfiles><rootfile full-path="tune.musicxml"/>'
                         "</rootfiles></container>")
        archive.writestr("tune.musicxml", musicxml_file() if score is None else score)
    return buffer.getvalue()


def abc_file() -> bytes:
    """A book of two tunes: repeats, endings, a pickup, chords, ties, triplets, inline fields."""
    return (b"%abc-2.1\nX:1\nT:The Fuzzed Jig\nM:6/8\nL:1/8\nQ:1/4=120\nK:D\n"
            b'A|:"D"d2f ede|fdB AFA|[1 B2c d3-|d2A :|[2 B2c dBG||\n'
            b"X:2\nT:Reel\nM:4/4\nL:1/8\nK:Ador\n(3ABc [CE]2 z2 !trill!G2|[K:G] g4 G4|]\n"
            )


FILES = {".mid": midi_file, ".musicxml": musicxml_file, ".mxl": mxl_file, ".abc": abc_file}


# --- mutations -------------------------------------------------------------------------------

NUMBERS = (b"0", b"-1", b"1", b"7", b"64", b"65", b"1000", b"99999999", b"2147483648",
           b"1e400", b"nan", b"0.0001", b"")
ELEMENTS = re.compile(rb"<(note|measure|attributes|time|barline|pitch)\b.*?</\1>", re.DOTALL)


def mutate(data: bytes, rng: random.Random, suffix: str) -> bytes:
    """A mutant of a valid file: for notation, mostly edits that keep it parseable (a number
    changed, an element duplicated or deleted), so the edits reach music21 and our reading."""
    if suffix == ".mxl" and rng.random() < 0.5:
        return mxl_file(mutate(musicxml_file(), rng, ".musicxml"))
    if suffix in (".musicxml", ".mxl", ".abc") and rng.random() < 0.7:
        return mutate_notation(data if suffix != ".mxl" else musicxml_file(), rng)
    return mutate_bytes(data, rng)


def mutate_notation(data: bytes, rng: random.Random) -> bytes:
    """One to three edits of numbers or (in XML) whole elements."""
    for _ in range(rng.randint(1, 3)):
        elements = list(ELEMENTS.finditer(data))
        if elements and rng.random() < 0.4:
            m = rng.choice(elements)
            copies = rng.choice((0, 2, rng.randint(3, 50)))
            data = data[:m.start()] + m.group() * copies + data[m.end():]
            continue
        numbers = list(re.finditer(rb"\d+", data))
        if numbers:
            m = rng.choice(numbers)
            data = data[:m.start()] + rng.choice(NUMBERS) + data[m.end():]
    return data


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """`data` changed by one to three random edits of its bytes."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        edit = rng.choice(("flip", "truncate", "insert", "duplicate", "delete", "digits"))
        at = rng.randrange(len(out) + 1)
        if edit == "flip" and out:
            out[min(at, len(out) - 1)] ^= 1 << rng.randrange(8)
        elif edit == "truncate":
            del out[at:]
        elif edit == "insert":
            out[at:at] = bytes(rng.choice((0x00, 0x7F, 0x80, 0xFF, rng.randrange(256)))
                               for _ in range(rng.randint(1, 8)))
        elif edit == "duplicate":
            end = min(len(out), at + rng.randint(1, 64))
            out[at:at] = out[at:end] * rng.randint(1, 20)
        elif edit == "delete":
            del out[at:at + rng.randint(1, 16)]
        else:  # a long run of digits makes a duration, a length or a count huge
            out[at:at] = b"9" * rng.randint(2, 20)
    return bytes(out)


def check_case(path: Path, data: bytes) -> str:
    """'' if `data` reads within the limits or fails with our error; else what went wrong."""
    path.write_bytes(data)
    try:
        melodies = read_melodies(path, drops=Counter())
    except MelodyRNNError as exc:
        return "" if str(exc) else "an empty message"
    except Exception as exc:  # the failure this test exists to find
        return f"{type(exc).__name__}: {exc}"
    steps, notes = limit("max_melody_steps"), limit("max_melody_notes")
    for melody in melodies:
        if melody.end_step > steps or len(melody) > notes:
            return f"{melody!r} is over the limits"
    return ""


def run_fuzz(tmp_path: Path, seed: str, cases: dict[str, int]) -> None:
    failures = []
    for suffix, count in cases.items():
        valid = FILES[suffix]()
        assert check_case(tmp_path / f"valid{suffix}", valid) == ""
        for i in range(count):
            rng = random.Random(f"{seed}{suffix}{i}")
            problem = check_case(tmp_path / f"case-{i}{suffix}", mutate(valid, rng, suffix))
            if problem:
                failures.append(f"{suffix} case {i}: {problem}")
    assert not failures, (f"seed {seed} (MELODYRNN_FUZZ_SEED={seed}): {len(failures)} cases "
                          "failed:\n" + "\n".join(failures[:20]))


@pytest.fixture
def low_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in LIMITS.items():
        monkeypatch.setenv(name, value)


def test_mutated_files_read_or_raise_our_error(tmp_path, seed, low_limits):
    run_fuzz(tmp_path, seed, {".mid": 300, ".musicxml": 40, ".mxl": 20, ".abc": 40})


@pytest.mark.slow
def test_many_mutated_files_read_or_raise_our_error(tmp_path, seed, low_limits):
    run_fuzz(tmp_path, seed, {".mid": 3000, ".musicxml": 400, ".mxl": 200, ".abc": 400})
