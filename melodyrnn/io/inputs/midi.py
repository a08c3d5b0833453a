"""Read MIDI files: the one module that knows MIDI's quirks on the way in.

Reading goes through symusic (fast, and it refuses corrupt files with a message); every
failure becomes a `ReadError` naming the file. Times are quantized from ticks, never from
seconds, so tempo changes cannot bend the grid. symusic and pretty_midi are imported inside
the functions that use them, so importing this module stays cheap.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from melodyrnn.core.key import Key, key_from_signature
from melodyrnn.core.limits import limit, over_limit
from melodyrnn.core.melody import Melody, Note
from melodyrnn.core.meter import parse_time_signature
from melodyrnn.core.score import Score, Track, skyline
from melodyrnn.errors import ReadError
from melodyrnn.io.inputs.files import check_track_size, read_input_bytes

if TYPE_CHECKING:
    import pretty_midi


DEFAULT_QPM = 120.0
MAX_QPM = 1000.0  # Melody refuses faster tempi; such a tempo event is noise, not music


def read_score(path: str | Path, steps_per_quarter: int = 4) -> Score:
    """Read a .mid/.midi/.kar file into a Score quantized to `steps_per_quarter`."""
    import symusic

    path = Path(path)
    data = _read_midi_bytes(path)
    try:
        # sanitize_data clamps data bytes over 127, as mido's clip=True does, instead of failing
        raw = symusic.Score.from_midi(data, ttype="tick", sanitize_data=True)
    except Exception as exc:  # symusic raises RuntimeError (and others) for broken files
        raise ReadError(f"{path}: corrupt MIDI ({_symusic_reason(exc)})") from exc
    try:
        return _score_from_symusic(raw, steps_per_quarter, str(path))
    except (ValueError, OverflowError) as exc:  # nonsense values symusic let through
        raise ReadError(f"{path}: corrupt MIDI ({exc})") from exc


def _read_midi_bytes(path: Path) -> bytes:
    """The file's bytes, after checks that give one-sentence reasons for common failures."""
    data = read_input_bytes(path, "MIDI file")
    if not data:
        raise ReadError(f"{path}: empty file (0 bytes), not a MIDI file")
    if not data.startswith(b"MThd"):
        if data.startswith(b"RIFF"):
            raise ReadError(f"{path}: RIFF/RMID-wrapped MIDI is not supported; "
                            "extract the plain .mid file first")
        raise ReadError(f"{path}: not a MIDI file (no MThd header)")
    if len(data) >= 14 and data[12] & 0x80:
        # The high bit of the division word means SMPTE frames, not ticks per quarter note:
        # there is no beat grid to quantize to.
        raise ReadError(f"{path}: SMPTE-timed MIDI files (division 0x{data[12]:02x}"
                        f"{data[13]:02x}) are not supported; re-save it with ticks per quarter")
    return data


def _symusic_reason(exc: Exception) -> str:
    """symusic's message without its library prefix and stream noise."""
    text = str(exc) or type(exc).__name__
    text = text.replace("MiniMidi: ", "").replace(": iostream error", "")
    text = re.sub(r"!\s*", "; ", text.replace("Invaild", "invalid"))
    return text.strip().rstrip(";")


def _score_from_symusic(raw: Any, steps_per_quarter: int, source: str) -> Score:
    """A symusic tick Score -> our Score, quantizing every onset and offset to the step grid."""
    tpq = int(raw.ticks_per_quarter)
    if tpq <= 0:
        raise ValueError(f"ticks per quarter is {tpq}")
    in_file = sum(len(raw_track.notes) for raw_track in raw.tracks)
    if in_file > limit("max_file_notes"):  # many tracks, each under the limit of one
        raise ReadError(over_limit("max_file_notes", in_file, source))
    tracks: list[Track] = []
    moved = total = 0
    for index, raw_track in enumerate(raw.tracks):
        _check_track(raw_track, tpq, steps_per_quarter, f"{source}: track {index}")
        notes = []
        for n in raw_track.notes:
            start_tick, end_tick = int(n.time), int(n.time) + max(int(n.duration), 0)
            start = _ticks_to_steps(start_tick, tpq, steps_per_quarter)
            end = _ticks_to_steps(end_tick, tpq, steps_per_quarter)
            total += 1
            moved += (start_tick * steps_per_quarter) % tpq != 0
            pitch = int(n.pitch)
            if not 0 <= pitch <= 127 or start < 0:
                continue  # sanitize_data prevents this; kept as a guard, not a case
            # A note shorter than half a step quantizes to length 0; like Magenta's quantizer
            # we keep it as one step rather than lose grace notes and short staccato.
            notes.append(Note(pitch, start, max(end - start, 1),
                              min(max(int(n.velocity), 1), 127)))
        notes.sort(key=lambda note: (note.start_step, -note.pitch))
        tracks.append(Track(notes=notes, name=str(raw_track.name), program=int(raw_track.program),
                            is_drum=bool(raw_track.is_drum)))
    return Score(tracks=tracks, steps_per_quarter=steps_per_quarter, qpm=_first_qpm(raw),
                 time_signature=_first_time_signature(raw), key=_first_key(raw), source=source,
                 moved_onsets=moved, total_onsets=total)


def _check_track(raw_track: Any, ticks_per_quarter: int, steps_per_quarter: int,
                 subject: str) -> None:
    """Refuse a track over the limits of one melody, from its tick times, before any Note
    is made (one note 2**28 ticks long at 1 tick per quarter would be 10**9 steps)."""
    count = len(raw_track.notes)
    if not count:
        return
    columns = raw_track.notes.numpy()  # int32 columns; int64 so that the sum cannot wrap
    end_tick = int((columns["time"].astype("int64") +
                    columns["duration"].astype("int64").clip(min=0)).max())
    check_track_size(subject, count, _ticks_to_steps(end_tick, ticks_per_quarter,
                                                     steps_per_quarter))


def _ticks_to_steps(ticks: int, ticks_per_quarter: int, steps_per_quarter: int) -> int:
    """Nearest step to a tick, halves rounded up (integer arithmetic, no float drift)."""
    return (2 * ticks * steps_per_quarter + ticks_per_quarter) // (2 * ticks_per_quarter)


def _first_qpm(raw: Any) -> float:
    """Tempo of the earliest tempo event, else 120 (the MIDI default)."""
    tempos = sorted(raw.tempos, key=lambda t: t.time)
    if not tempos or int(tempos[0].mspq) <= 0:
        return DEFAULT_QPM
    qpm = qpm_from_microseconds(int(tempos[0].mspq))
    return qpm if qpm <= MAX_QPM else DEFAULT_QPM


def qpm_from_microseconds(microseconds_per_quarter: int) -> float:
    """MIDI tempo (microseconds per quarter) -> qpm: the shortest decimal that encodes to it.

    A file stores whole microseconds, so 97.5 qpm comes back as 97.50003...; choosing the
    number with fewest decimals (up to 3) that a writer could have stored as this value
    undoes that. Writers round (mido) or truncate (pretty_midi), so both are accepted; this
    is exact for whole qpm and tenths up to 1000, hundredths up to 440, thousandths to 140.
    """
    exact = 60_000_000 / microseconds_per_quarter
    for decimals in range(4):
        qpm = round(exact, decimals)
        if qpm > 0 and -0.5 <= 60_000_000 / qpm - microseconds_per_quarter < 1:
            return float(qpm)
    return round(exact, 3)


def _first_time_signature(raw: Any) -> tuple[int, int]:
    """The earliest time signature, else 4/4; a nonsense one also falls back to 4/4."""
    signatures = sorted(raw.time_signatures, key=lambda t: t.time)
    if not signatures:
        return (4, 4)
    try:
        return parse_time_signature((int(signatures[0].numerator),
                                     int(signatures[0].denominator)))
    except ValueError:  # MelodyError is a ValueError: e.g. 4/3 or 0/4 in a broken file
        return (4, 4)


def _first_key(raw: Any) -> Key | None:
    """The earliest key signature as a major or minor Key, else None."""
    signatures = sorted(raw.key_signatures, key=lambda k: k.time)
    if not signatures:
        return None
    sharps, tonality = int(signatures[0].key), int(signatures[0].tonality)
    if not -7 <= sharps <= 7 or tonality not in (0, 1):
        return None
    return key_from_signature(sharps, minor=tonality == 1)


def from_pretty_midi(pm: pretty_midi.PrettyMIDI, steps_per_quarter: int = 4,
                     source: str = "") -> Melody:
    """The top line (skyline) of the first pitched instrument with notes, on the tick grid."""

    instrument = next((i for i in pm.instruments if not i.is_drum and i.notes), None)
    resolution = pm.resolution
    notes = []
    if instrument is not None:
        for n in instrument.notes:
            # time_to_tick gives numpy integers; Note wants plain ints
            start = _ticks_to_steps(int(pm.time_to_tick(n.start)), resolution, steps_per_quarter)
            end = _ticks_to_steps(int(pm.time_to_tick(n.end)), resolution, steps_per_quarter)
            notes.append(Note(int(n.pitch), start, max(end - start, 1),
                              min(max(int(n.velocity), 1), 127)))
    _, tempi = pm.get_tempo_changes()
    qpm = qpm_from_microseconds(round(60_000_000 / tempi[0])) if len(tempi) else DEFAULT_QPM
    time_signature: Sequence[int] = (4, 4)
    if pm.time_signature_changes:
        ts = pm.time_signature_changes[0]
        time_signature = (ts.numerator, ts.denominator)
    key = None
    if pm.key_signature_changes:
        number = pm.key_signature_changes[0].key_number
        key = Key(number % 12, "minor" if number >= 12 else "major")
    return Melody(skyline(notes), steps_per_quarter=steps_per_quarter,
                  qpm=qpm if qpm <= MAX_QPM else DEFAULT_QPM, time_signature=time_signature,
                  key=key, source=source)
