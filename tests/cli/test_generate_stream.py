"""`melodyrnn generate` as a stream: each batch written and dropped, memory that does not grow
with --num, Ctrl-C keeping and counting what was written, sortable names, the output folder
checked before anything is sampled."""

from __future__ import annotations

import errno
import os
import signal
import tracemalloc
import weakref

import pytest

from melodyrnn.cli import main, writing
from melodyrnn.cli.writing import _finish_tune_first, prepare_out, tune_name
from melodyrnn.core.melody import Melody, Note
from melodyrnn.errors import WriteError
from melodyrnn.generate import model as model_module


class FakeModel:
    """Yields `num` small melodies in batches of `batch`, as MelodyModel.generate_batches does,
    and keeps weak references to them to count how many are still alive."""

    def __init__(self, batch: int = 4, interrupt_after: int | None = None) -> None:
        self.batch = batch
        self.interrupt_after = interrupt_after  # batches yielded before a Ctrl-C
        self.alive: list[weakref.ref] = []
        self.most_alive = 0

    def generate_batches(self, num: int, **options: object):
        return self._batches(num)

    def _batches(self, num: int):
        for index, first in enumerate(range(0, num, self.batch)):
            if index == self.interrupt_after:
                raise KeyboardInterrupt
            self.most_alive = max(self.most_alive, sum(r() is not None for r in self.alive))
            batch = [Melody([Note(60 + (first + i) % 12, 4 * k, 4) for k in range(8)],
                            steps_per_quarter=4)
                     for i in range(min(self.batch, num - first))]
            self.alive = [r for r in self.alive if r() is not None]
            self.alive += [weakref.ref(m) for m in batch]
            yield batch
            del batch


@pytest.fixture
def fake(monkeypatch):
    def install(**options: object) -> FakeModel:
        made = FakeModel(**options)  # type: ignore[arg-type]
        monkeypatch.setattr(model_module, "load_model", lambda path=None: made)
        return made
    return install


def _generate(out, num: int, *extra: str) -> int:
    return main(["generate", "--num", str(num), "--seed", "3", "--formats", "mid",
                 "--quiet", "--out", str(out), *extra])


def test_names_are_numbered_to_sort_in_order():
    assert tune_name("m", 0, 1) == "m"
    assert [tune_name("m", i, 12) for i in (0, 11)] == ["m-01", "m-12"]
    names = [tune_name("m", i, 300) for i in range(300)]
    assert names[0] == "m-001" and names[-1] == "m-300" and sorted(names) == names


def test_each_batch_is_dropped_once_written(fake, tmp_path, capsys):
    """The melodies alive while a batch is sampled: the batch before it, at most; the same
    for 3 batches as for 30."""
    counts = []
    for batches in (3, 30):
        made = fake(batch=4)
        assert _generate(tmp_path / str(batches), 4 * batches) == 0
        assert len(list((tmp_path / str(batches)).glob("*.mid"))) == 4 * batches
        counts.append(made.most_alive)
    assert counts == [0, 0]  # the consumer let go of every batch before asking for the next
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("wrote 120 tunes to ") and "melody-3-001 to melody-3-120" in out[-1]


def test_peak_memory_does_not_grow_with_num(fake, tmp_path, capsys):
    peaks = []
    for batches in (3, 30):
        fake(batch=4)
        _generate(tmp_path / f"warm{batches}", 4)  # imports and caches of the writers, not measured
        tracemalloc.start()
        assert _generate(tmp_path / str(batches), 4 * batches) == 0
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.5 * peaks[0], peaks  # ten times the tunes, not ten times the memory


def test_interrupt_keeps_and_counts_the_tunes_written(fake, tmp_path, capsys):
    fake(batch=4, interrupt_after=3)
    assert _generate(tmp_path, 40) == 130
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"wrote 12 of 40 tunes to {tmp_path} (melody-3-01 to melody-3-12, as .mid)" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"melody-3-{i:02d}.mid"
                                                         for i in range(1, 13)]


def test_interrupt_while_writing_finishes_the_tune_first():
    reached = []
    with pytest.raises(KeyboardInterrupt), _finish_tune_first():
        os.kill(os.getpid(), signal.SIGINT)
        reached.append("after the signal")
    assert reached == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_write_failure_midway_says_what_was_written(fake, tmp_path, monkeypatch, capsys):
    fake(batch=4)
    real = writing.write_melody
    written: list[object] = []

    def failing(melody, path, force=True):
        if len(written) == 6:
            raise WriteError(f"{path}: writing failed (OSError: No space left on device)")
        written.append(path)
        return real(melody, path, force=force)

    monkeypatch.setattr(writing, "write_melody", failing)
    assert _generate(tmp_path, 40) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No space left on device" in err
    assert "(after 6 of 40 tunes to" in err


def test_existing_file_is_found_in_one_pass_and_refused(tmp_path):
    for name in ("melody-3-007.mid", "melody-3-07.mid", "melody-3-301.mid", "melody-3-007.txt",
                 "other-3-001.mid"):
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(WriteError, match=r"melody-3-007\.mid already exists; use --force"):
        prepare_out(tmp_path, "melody-3", 300, [".mid", ".wav"], force=False)
    prepare_out(tmp_path, "melody-3", 300, [".wav"], force=False)  # no .wav of the run there
    prepare_out(tmp_path, "melody-3", 300, [".mid"], force=True)
    (tmp_path / "melody-3-100.mid").write_bytes(b"")
    with pytest.raises(WriteError, match=r"007\.mid already exists \(and 1 more\)"):
        prepare_out(tmp_path, "melody-3", 300, [".mid"], force=False)


def test_refusal_comes_before_any_sampling(fake, tmp_path, capsys):
    made = fake(batch=4)
    (tmp_path / "melody-3-02.mid").write_bytes(b"kept")
    assert _generate(tmp_path, 8) == 1
    assert "melody-3-02.mid already exists" in capsys.readouterr().err
    assert made.alive == [] and (tmp_path / "melody-3-02.mid").read_bytes() == b"kept"


def test_output_that_is_a_file_or_under_one_is_one_sentence(fake, tmp_path, capsys):
    fake()
    (tmp_path / "file").write_text("x")
    assert _generate(tmp_path / "file", 2) == 1
    assert capsys.readouterr().err.strip() == (
        f"melodyrnn: error: {tmp_path / 'file'} is a file, not a folder; choose another --out")
    assert _generate(tmp_path / "file" / "sub", 2) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"melodyrnn: error: cannot create folder {tmp_path / 'file' / 'sub'}: "
                   f"{tmp_path / 'file'} is a file, not a folder; choose another --out")


def test_read_only_folder_is_found_before_sampling(fake, tmp_path, monkeypatch, capsys):
    made = fake()

    def read_only(**options: object):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(writing.tempfile, "mkstemp", read_only)
    assert _generate(tmp_path, 2) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"melodyrnn: error: {tmp_path}: cannot write into this folder "
                   "(Read-only file system); choose another --out")
    assert made.alive == []


def test_num_over_the_limit_is_refused_before_the_model_loads(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MELODYRNN_MAX_NUM", "10")
    monkeypatch.setattr(model_module, "load_model", lambda path=None: pytest.fail("loaded"))
    assert _generate(tmp_path, 11) == 1
    err = capsys.readouterr().err.strip()
    assert err == ("melodyrnn: error: --num 11 is over the limit of 10 (tunes one `generate` "
                   "writes); ask for fewer or set MELODYRNN_MAX_NUM to allow more")
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_sigterm_keeps_the_tunes_written_and_says_how_many(tmp_path):
    """A real `melodyrnn generate` process, stopped by SIGTERM once its first batch is on disk:
    it exits 130, names how many tunes it wrote, and every file left there is whole."""
    import subprocess
    import sys
    import time

    out = tmp_path / "many"
    child = subprocess.Popen([sys.executable, "-m", "melodyrnn", "generate", "--num", "2000",
                              "--bars", "4", "--formats", "mid", "--out", str(out), "--quiet"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while child.poll() is None and len(list(out.glob("*.mid"))) < 64:
            time.sleep(0.2)  # polling for the first batch, not a time limit
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=600)
    finally:
        child.kill()
    assert child.returncode == 130, err
    written = sorted(out.iterdir())
    assert f"wrote {len(written):,} of 2,000 tunes to {out}" in err
    assert all(p.suffix == ".mid" and not p.name.startswith(".") for p in written)
    from melodyrnn.io import read_scores
    assert all(read_scores(p) for p in written[-3:])
