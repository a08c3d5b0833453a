"""Checkpoint files without training: atomic writes beside the target, safe and clear reading,
stale temporaries, which run `--ckpt_path last` finds, and the resume command."""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

import pytest
import torch

from melodyrnn.errors import ConfigError, ModelError, WriteError
from melodyrnn.fit.checkpoints import (
    AtomicCheckpointIO,
    read_checkpoint,
    remove_stale_temporaries,
)
from melodyrnn.fit.runs import latest_checkpoint, resolve_last, resume_command


class _Explodes:
    """Pickles as a call of os.system: a payload that weights_only loading must refuse."""

    def __reduce__(self) -> tuple:
        return (os.system, ("echo pwned",))


class _Unpicklable:
    def __reduce__(self) -> tuple:
        raise pickle.PicklingError("no")


def test_a_checkpoint_is_written_beside_its_target_and_nothing_else_is_left(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "tmpdir"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    renames: list[tuple[Path, Path]] = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace",
                        lambda a, b: (renames.append((Path(a), Path(b))), real_replace(a, b)))
    target = tmp_path / "run" / "checkpoints" / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.ones(3)}}, target)
    assert len(renames) == 1 and renames[0][0].parent == target.parent
    assert renames[0][1] == target
    assert [p.name for p in target.parent.iterdir()] == ["last.ckpt"]
    assert not list(scratch.iterdir())
    assert torch.equal(read_checkpoint(target)["state_dict"]["w"], torch.ones(3))


def test_a_failed_write_leaves_the_old_checkpoint_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"state_dict": {}, "step": 1}, target)
    with pytest.raises(pickle.PicklingError):
        io.save_checkpoint({"state_dict": {}, "bad": _Unpicklable()}, target)
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
    assert read_checkpoint(target)["step"] == 1


def test_an_unwritable_folder_is_one_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(WriteError, match=r"checkpoints/last.ckpt: the checkpoint cannot be"):
        AtomicCheckpointIO().save_checkpoint({"state_dict": {}},
                                             blocker / "checkpoints" / "last.ckpt")


def test_stale_temporaries_are_removed_and_nothing_else(tmp_path: Path) -> None:
    names = [".last.0123abcd.tmp.ckpt", ".best-epoch=1-step=9.deadbeef.tmp.ckpt",
             "last.ckpt", "notes.tmp.ckpt", ".hidden.ckpt"]
    for name in names:
        (tmp_path / name).write_bytes(b"x" * 10)
    removed = remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in removed) == sorted(names[:2])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[2:])
    assert remove_stale_temporaries(tmp_path / "missing") == []


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    path = tmp_path / "good.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "epoch": 0}, path)
    return path


@pytest.mark.parametrize(("make", "needle"), [
    (lambda p, good: torch.save({"state_dict": _Explodes()}, p), "objects other than tensors"),
    (lambda p, good: p.write_bytes(pickle.dumps(_Explodes())), "a bare pickle"),
    (lambda p, good: p.write_bytes(good.read_bytes()[: good.stat().st_size // 2]),
     "truncated or corrupt"),
    (lambda p, good: p.write_bytes(b""), "is empty"),
    (lambda p, good: p.write_text('{"a": 1}'), "is not a checkpoint"),
    (lambda p, good: torch.save({"weights": torch.zeros(1)}, p), "has no state_dict"),
    (lambda p, good: None, "no such checkpoint file"),
], ids=["torch-pickle-payload", "raw-pickle-payload", "truncated", "empty", "json",
        "no-state-dict", "missing"])
def test_a_bad_checkpoint_is_one_sentence_naming_it(make, needle: str, saved: Path,
                                                    tmp_path: Path) -> None:
    bad = tmp_path / "bad.ckpt"
    make(bad, saved)
    with pytest.raises(ModelError) as info:
        read_checkpoint(bad)
    message = str(info.value)
    assert message.startswith(f"{bad}") and needle in message and "\n" not in message


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_last_is_the_newest_version_with_a_last_checkpoint(tmp_path: Path) -> None:
    run = tmp_path / "tiny"
    _touch(run / "version_0" / "checkpoints" / "last.ckpt")
    newest = _touch(run / "version_10" / "checkpoints" / "last.ckpt")
    _touch(run / "version_2" / "checkpoints" / "last.ckpt")
    (run / "version_11").mkdir()  # a run that never saved anything
    assert latest_checkpoint(run) == newest
    assert resolve_last(run) == (newest, 10)


def test_last_with_nothing_to_resume_is_refused(tmp_path: Path) -> None:
    (tmp_path / "tiny" / "version_0").mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"--ckpt_path last: there is no .*tiny/version_\*/"
                                          r"checkpoints/last.ckpt to resume"):
        resolve_last(tmp_path / "tiny")


def test_the_resume_command_puts_last_in_place_of_any_ckpt_path() -> None:
    assert resume_command(["fit", "--config", "c.yaml", "--ckpt_path", "a b.ckpt",
                           "--data.path", "d"]) == \
        "melodyrnn fit --config c.yaml --data.path d --ckpt_path last"
    assert resume_command(["fit", "--ckpt_path=x", "-c", "c.yaml"]) == \
        "melodyrnn fit -c c.yaml --ckpt_path last"
