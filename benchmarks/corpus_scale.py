"""Costs against corpus size: `prepare` and the training loader on synthetic MIDI corpora.

    python benchmarks/corpus_scale.py                          # 1,000, 10,000 and 100,000 files
    python benchmarks/corpus_scale.py --sizes 500,2000 --jobs 2   # a quick run
    python benchmarks/corpus_scale.py --sizes 1000 --keep /tmp/scale   # keep corpora and datasets

Writes one synthetic corpus (small single-track melodies: random walks in a key, a few meters
and tempi, some exact copies and transposed copies of earlier tunes, so the split has groups
to keep together), links its first N files into a folder per size, and for each size runs in a
fresh process: `prepare` from an empty cache (files/s; CPU time per file, all processes
together, which a shared machine disturbs less than the wall clock; peak RSS of the main
process and of the largest worker, which counts the pages it shares with the main process),
the dataset's size on disk and its manifest's, and the training DataLoader of
`MelodyDataModule` over a fixed number of batches (its peak RSS above the process after
imports, and its anonymous memory: the memory-mapped tokens are page cache, not the loader's
own). Prints a table with each row's ratio to the first (smallest) one, measured in the same
run. Everything is written in a temporary folder, deleted at the end unless `--keep` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from melodyrnn.io.outputs.midi import varlen

FILES_PER_FOLDER = 1000
TICKS_PER_QUARTER = 96
METERS = ((4, 4), (3, 4), (6, 8), (2, 4))  # (numerator, denominator)
TEMPI = (72, 90, 100, 120, 132, 160)
MAJOR, MINOR = (0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10)
COPY_SHARE, TRANSPOSED_SHARE = 0.02, 0.03  # of the files after the first hundred
LOADER_BATCHES = 200


# --- the synthetic corpus -------------------------------------------------------------------

def midi_bytes(notes: list[tuple[int, int, int]], meter: tuple[int, int], qpm: int,
               sharps: int, minor: bool) -> bytes:
    """A format-0 MIDI file of `notes` (pitch, rest before it, duration; ticks), one track."""
    numerator, denominator = meter
    track = bytearray(b"\x00\xff\x51\x03" + round(60_000_000 / qpm).to_bytes(3, "big"))
    track += b"\x00\xff\x58\x04" + bytes([numerator, denominator.bit_length() - 1, 24, 8])
    track += b"\x00\xff\x59\x02" + bytes([sharps & 0xFF, int(minor)])
    for pitch, rest, duration in notes:
        track += varlen(rest) + bytes([0x90, pitch, 80])
        track += varlen(duration) + bytes([0x80, pitch, 0])
    track += b"\x00\xff\x2f\x00"
    header = b"MThd\x00\x00\x00\x06\x00\x00\x00\x01" + TICKS_PER_QUARTER.to_bytes(2, "big")
    return header + b"MTrk" + len(track).to_bytes(4, "big") + bytes(track)


def random_tune(rng: random.Random) -> tuple[list[tuple[int, int, int]], tuple[int, int], int,
                                              int, bool]:
    """A random walk of 16-64 notes in a random key, meter and tempo, rests under a bar."""
    tonic, minor = rng.randrange(12), rng.random() < 0.3
    scale = MINOR if minor else MAJOR
    meter, qpm = rng.choice(METERS), rng.choice(TEMPI)
    eighth = TICKS_PER_QUARTER // 2
    lengths = (1, 1, 1, 2, 2, 3, 4) if meter[1] == 8 else (1, 2, 2, 2, 3, 4)
    degree, notes = rng.randrange(7, 14), []
    for _ in range(rng.randint(16, 64)):
        degree = min(max(degree + rng.choice((-2, -1, -1, 0, 1, 1, 2)), 0), 20)
        pitch = 48 + tonic + 12 * (degree // 7) + scale[degree % 7]
        rest = eighth if rng.random() < 0.05 else 0
        notes.append((pitch, rest, eighth * rng.choice(lengths)))
    sharps = ((tonic + (3 if minor else 0)) * 7 + 6) % 12 - 6  # the signature of that key
    return notes, meter, qpm, sharps, minor


def write_corpus(folder: Path, n_files: int, seed: int = 0) -> None:
    """`n_files` MIDI files in sub-folders of 1,000; some exact and transposed copies."""
    rng = random.Random(seed)
    recent: list[tuple] = []  # earlier tunes a copy may be taken from (a bounded pool)
    for i in range(n_files):
        sub = folder / f"{i // FILES_PER_FOLDER:03d}"
        if i % FILES_PER_FOLDER == 0:
            sub.mkdir(parents=True)
        draw = rng.random()
        if i >= 100 and draw < COPY_SHARE:
            tune = rng.choice(recent)
        elif i >= 100 and draw < COPY_SHARE + TRANSPOSED_SHARE:
            notes, meter, qpm, sharps, minor = rng.choice(recent)
            shift = rng.choice((-5, -3, -2, 2, 4, 7))
            tune = ([(p + shift, r, d) for p, r, d in notes], meter, qpm, sharps, minor)
        else:
            tune = random_tune(rng)
        (sub / f"t{i:06d}.mid").write_bytes(midi_bytes(*tune))
        if len(recent) < 500:
            recent.append(tune)
        else:
            recent[rng.randrange(500)] = tune


def link_corpus(full: Path, folder: Path, n_files: int) -> None:
    """The first `n_files` files of `full`, hard-linked (copied where links fail) into `folder`."""
    for i in range(n_files):
        name = Path(f"{i // FILES_PER_FOLDER:03d}") / f"t{i:06d}.mid"
        (folder / name.parent).mkdir(parents=True, exist_ok=True)
        try:
            os.link(full / name, folder / name)
        except OSError:
            shutil.copyfile(full / name, folder / name)


# --- the measurements, each in a fresh process ----------------------------------------------

def _status_kb(field: str) -> int:
    """A field of /proc/self/status in kB (VmRSS, VmHWM, RssAnon); 0 where there is none."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def child_prepare(corpus: str, out: str, jobs: int) -> dict:
    """Run `prepare` here; its seconds, and the peak RSS of this process and of the workers."""
    from melodyrnn.prepare.build import prepare

    own = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = own.ru_utime + own.ru_stime  # the imports
    start = time.perf_counter()
    report = prepare([corpus], out, jobs=jobs, progress=False)
    seconds = time.perf_counter() - start
    own, kids = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                      resource.RUSAGE_CHILDREN))
    cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime - cpu_before
    return {"seconds": seconds, "cpu_s": cpu, "files": report.files,
            "melodies": sum(report.melodies.values()),
            "tokens": sum(report.tokens.values()), "groups": report.duplicate_counts[0],
            "main_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "worker_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}


def child_loader(dataset: str, batches: int) -> dict:
    """Build the training DataLoader here and draw `batches` batches; memory above imports."""
    from melodyrnn.fit.datamodule import MelodyDataModule

    base_rss, base_anon = _status_kb("VmRSS"), _status_kb("RssAnon")
    data = MelodyDataModule(dataset, batch_size=64, seq_len=256)
    data.setup("fit")
    loader, drawn = data.train_dataloader(), 0
    while drawn < batches:  # epoch after epoch: a small corpus has only a few batches
        for _batch in loader:
            drawn += 1
            if drawn == batches:
                break
    return {"batches": drawn, "peak_kb": max(0, _status_kb("VmHWM") - base_rss),
            "anon_kb": max(0, _status_kb("RssAnon") - base_anon)}


def _run_child(args: list[str], env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], env=env, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def measure(root: Path, full: Path, size: int, jobs: int, batches: int) -> dict:
    """Build the corpus of `size` files and measure prepare and the loader on it."""
    corpus, dataset = root / f"corpus-{size}", root / f"dataset-{size}"
    link_corpus(full, corpus, size)
    env = {**os.environ, "MELODYRNN_CACHE": str(root / f"cache-{size}"),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                          os.environ.get("PYTHONPATH", "")])}
    row = _run_child(["--child-prepare", str(corpus), str(dataset), str(jobs)], env)
    row.update(_run_child(["--child-loader", str(dataset), str(batches)], env))
    row.update(size=size, disk_bytes=_disk_bytes(dataset),
               manifest_bytes=(dataset / "manifest.json").stat().st_size)
    return row


# --- the table ------------------------------------------------------------------------------

COLUMNS = (  # header, value of a row, format, compared with the first row
    ("files", lambda r: r["size"], "{:,}", False),
    ("prepare s", lambda r: r["seconds"], "{:.1f}", False),
    ("files/s", lambda r: r["size"] / r["seconds"], "{:,.0f}", True),
    ("CPU ms/file", lambda r: 1000 * r["cpu_s"] / r["size"], "{:.2f}", True),
    ("main MB", lambda r: r["main_kb"] / 1024, "{:.0f}", True),
    ("worker MB", lambda r: r["worker_kb"] / 1024, "{:.0f}", True),
    ("dataset MB", lambda r: r["disk_bytes"] / 2**20, "{:.1f}", False),
    ("bytes/file", lambda r: r["disk_bytes"] / r["size"], "{:.0f}", True),
    ("manifest kB", lambda r: r["manifest_bytes"] / 1024, "{:.1f}", True),
    ("loader MB", lambda r: r["peak_kb"] / 1024, "{:.1f}", True),
    ("loader anon MB", lambda r: r["anon_kb"] / 1024, "{:.1f}", True),
)


def table(rows: list[dict]) -> str:
    """Markdown table; ratio columns (x first) follow each compared value."""
    head, lines = [], []
    for name, _value, _fmt, compared in COLUMNS:
        head += [name] + ([f"x {rows[0]['size']:,}"] if compared else [])
    for row in rows:
        cells = []
        for _name, value, fmt, compared in COLUMNS:
            v = value(row)
            cells.append(fmt.format(v))
            if compared:
                ref = value(rows[0])
                cells.append(f"{v / ref:.2f}" if ref else "-")
        lines.append(cells)
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(out + ["| " + " | ".join(c) + " |" for c in lines])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="corpus sizes in files, comma-separated (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batches", type=int, default=LOADER_BATCHES,
                        help="training batches the loader draws (default: %(default)s)")
    parser.add_argument("--keep", metavar="FOLDER", help="write here and keep everything")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.perf_counter()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="corpus-scale-"))
    try:
        full = root / "corpus-full"
        t0 = time.perf_counter()
        write_corpus(full, max(sizes))
        written = time.perf_counter() - t0
        print(f"wrote {max(sizes):,} MIDI files in {written:.1f} s", file=sys.stderr)
        rows = []
        for size in sizes:
            rows.append(measure(root, full, size, args.jobs, args.batches))
            print(f"{size:,} files: {json.dumps(rows[-1])}", file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(table(rows))
    print(f"\njobs {args.jobs}; loader: {args.batches} batches of 64 x 256 tokens; "
          f"corpus written in {written:.1f} s; whole run {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child-prepare":
        print(json.dumps(child_prepare(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "--child-loader":
        print(json.dumps(child_loader(sys.argv[2], int(sys.argv[3]))))
    else:
        main()
