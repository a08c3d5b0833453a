"""Files per second, MIDI file -> token ids: our `note` (and `grid`) pipeline against MidiTok REMI.

Both sides start from the same MIDI files on disk and end with token ids, so each timing
includes reading the file: ours is `read_melodies` (symusic, quantize, skyline) then
`encode`; MidiTok's is `symusic.Score(path)` then `REMI.encode`. The files are tunes of
O'Neill's 1850 collection (in the music21 corpus), written once to benchmarks/work/ with
pretty_midi and reused afterwards.

    /work/venv/bin/python benchmarks/tokenize_speed.py            # 1000 files, best of 3
    /work/venv/bin/python benchmarks/tokenize_speed.py --files 200 --repeats 5
"""

from __future__ import annotations

import argparse
import glob
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

WORK = Path(__file__).resolve().parent / "work" / "oneills_midi"
SECONDS_PER_QUARTER = 0.5  # files are written at 120 qpm


def abc_books() -> list[str]:
    """The ABC files of O'Neill's 1850 in music21's corpus (each a book of about 50 tunes)."""
    import music21
    return sorted(glob.glob(os.path.join(os.path.dirname(music21.__file__), "corpus",
                                         "oneills1850", "*.abc")))


def write_book(abc_path: str) -> int:
    """Write each tune of one ABC book as a one-track MIDI file in WORK; returns files written."""
    import music21
    import pretty_midi

    opus = music21.converter.parse(abc_path)
    scores = list(opus.scores) if hasattr(opus, "scores") else [opus]
    book = Path(abc_path).stem
    written = 0
    for i, score in enumerate(scores):
        parts = list(score.parts) if isinstance(score, music21.stream.Score) else []
        flat = (parts[0] if parts else score).flatten().stripTies()
        pm = pretty_midi.PrettyMIDI(initial_tempo=60 / SECONDS_PER_QUARTER)
        instrument = pretty_midi.Instrument(program=73, name="melody")  # flute
        for n in flat.notes:
            pitch = max(p.midi for p in n.pitches)  # top note of a chord
            start = float(n.offset) * SECONDS_PER_QUARTER
            end = start + float(n.quarterLength) * SECONDS_PER_QUARTER
            if end > start:
                instrument.notes.append(pretty_midi.Note(80, pitch, start, end))
        if not instrument.notes:
            continue
        for ts in flat.getTimeSignatures()[:1]:
            pm.time_signature_changes.append(
                pretty_midi.TimeSignature(ts.numerator, ts.denominator, 0.0))
        keys = list(flat.getElementsByClass("KeySignature"))[:1]
        for ks in keys:
            key = ks if isinstance(ks, music21.key.Key) else ks.asKey()
            number = key.tonic.pitchClass + (12 if key.mode == "minor" else 0)
            pm.key_signature_changes.append(pretty_midi.KeySignature(number, 0.0))
        pm.instruments.append(instrument)
        tmp = WORK / f".{book}-{i:02d}.mid.tmp"
        pm.write(str(tmp))
        tmp.replace(WORK / f"{book}-{i:02d}.mid")
        written += 1
    return written


def midi_files(count: int) -> list[Path]:
    """`count` cached MIDI tunes, writing the missing ones from the ABC books first."""
    WORK.mkdir(parents=True, exist_ok=True)
    files = sorted(WORK.glob("*.mid"))
    if len(files) < count:
        books = abc_books()
        print(f"writing MIDI tunes from {len(books)} ABC books to {WORK} (once; later runs "
              "reuse them) ...", flush=True)
        with ProcessPoolExecutor() as pool:
            list(pool.map(write_book, books))
        files = sorted(WORK.glob("*.mid"))
    if len(files) < count:
        print(f"only {len(files)} tunes available; timing those")
    return files[:count]


def best_seconds(run: Callable[[], int], repeats: int) -> tuple[float, int]:
    """Fastest wall time over `repeats` runs, and the tokens the run produced."""
    best, tokens = float("inf"), 0
    for _ in range(repeats):
        start = time.perf_counter()
        tokens = run()
        best = min(best, time.perf_counter() - start)
    return best, tokens


def main() -> None:
    """Time both pipelines on the same files and print a table and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="number of MIDI files")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best counts")
    args = parser.parse_args()
    if args.files < 1 or args.repeats < 1:
        parser.error("--files and --repeats have to be at least 1")

    import miditok
    import symusic

    from melodyrnn.prepare.extract import read_melodies
    from melodyrnn.tokenizers import get_tokenizer

    files = midi_files(args.files)
    note, grid = get_tokenizer("note"), get_tokenizer("grid")
    remi = miditok.REMI(miditok.TokenizerConfig())

    def ours(tokenizer) -> Callable[[], int]:
        return lambda: sum(len(tokenizer.encode(m)) for f in files for m in read_melodies(f))

    def theirs() -> int:
        total = 0
        for f in files:
            seqs = remi.encode(symusic.Score(f))
            total += sum(len(s.ids) for s in (seqs if isinstance(seqs, list) else [seqs]))
        return total

    rows = [("melodyrnn read_melodies + note", ours(note)),
            ("melodyrnn read_melodies + grid", ours(grid)),
            ("miditok symusic.Score + REMI", theirs)]
    print(f"{len(files)} MIDI files from {WORK}, best of {args.repeats}")
    print(f"{'pipeline':34} {'files/s':>9} {'ms/file':>8} {'tokens/file':>12}")
    speed = {}
    for label, run in rows:
        seconds, tokens = best_seconds(run, args.repeats)
        speed[label] = len(files) / seconds
        print(f"{label:34} {speed[label]:9.0f} {1000 * seconds / len(files):8.3f} "
              f"{tokens / len(files):12.1f}")
    ratio = speed[rows[0][0]] / speed[rows[2][0]]
    print(f"ratio note/REMI: {ratio:.2f}x (goal >= 2x)")


if __name__ == "__main__":
    main()
