"""Checkpoints of a run: how they are written and read, and the callbacks that write them.

- `AtomicCheckpointIO` writes every checkpoint to a temporary file beside it, then renames it
  into place (a killed write leaves no partial checkpoint and nothing in $TMPDIR), and reads a
  checkpoint with `weights_only=True`, so loading one never runs code; a file that is not a
  checkpoint ends in one sentence naming it.
- `LastCheckpoint` owns `checkpoints/last.ckpt`: the state after every training epoch, every
  `checkpoint_every_n_steps` optimizer steps, and the step at which Ctrl-C or SIGTERM stopped
  training (`melodyrnn.fit.guards.Interruption`).
- `BestCheckpoint` and `ValEarlyStopping` are Lightning's ModelCheckpoint and EarlyStopping on
  val_loss that step aside, with a note, when validation did not run.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import sys
import warnings
import weakref
import zipfile
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import Logger

from melodyrnn._files import temporary_sibling
from melodyrnn.errors import ModelError, WriteError
from melodyrnn.fit.guards import DivergenceGuard, Interruption, TrainingInterrupted

LAST = "last.ckpt"
# the names `temporary_sibling` gives: .{stem}.{8 hex digits}.tmp{suffix}
_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{8}\.tmp\.ckpt")


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files that killed checkpoint writes left in `folder`; their paths."""
    removed = []
    for path in folder.glob(".*.tmp.ckpt") if folder.is_dir() else ():
        if _TEMPORARY.fullmatch(path.name):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


class AtomicCheckpointIO(TorchCheckpointIO):
    """torch.save to a temporary file beside the checkpoint, then os.replace; safe loading."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any,
                        storage_options: Any | None = None) -> None:
        if "://" in str(path):  # a remote file system: Lightning's own transaction
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        path = Path(path)
        tmp = temporary_sibling(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                torch.save(checkpoint, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise WriteError(f"{path}: the checkpoint cannot be written "
                             f"({exc.strerror or exc}); free disk space or choose another "
                             "--trainer.default_root_dir") from exc
        finally:
            with contextlib.suppress(OSError):  # gone after the rename; or no folder for it
                tmp.unlink(missing_ok=True)

    def load_checkpoint(self, path: Any, map_location: Any | None = None,
                        weights_only: bool | None = None) -> dict[str, Any]:
        return read_checkpoint(Path(path), map_location)


def read_checkpoint(path: Path, map_location: Any | None = None) -> dict[str, Any]:
    """A training checkpoint loaded without unpickling objects; a ModelError names a bad file."""
    if not path.is_file():
        raise ModelError(f"{path}: no such checkpoint file; give the path of a .ckpt that "
                         "melodyrnn fit wrote, or --ckpt_path last")
    if path.stat().st_size == 0:
        raise ModelError(f"{path} is empty, not a checkpoint; resume from another .ckpt "
                         "(an earlier best-*.ckpt) or start again without --ckpt_path")
    try:
        with warnings.catch_warnings():  # torch's notes on old pickle protocols: ours is below
            warnings.simplefilter("ignore", UserWarning)
            checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "global" in str(exc).lower():  # a class or function: weights_only refused it
            raise ModelError(f"{path} holds objects other than tensors and plain values, which "
                             "melodyrnn does not load (loading them could run code); resume "
                             "only from a .ckpt that melodyrnn fit wrote") from None
        with open(path, "rb") as fh:
            kind = "a bare pickle" if fh.read(1) == b"\x80" else "not a file torch.save wrote"
        raise ModelError(f"{path} is not a checkpoint ({kind}; melodyrnn loads no pickles, as "
                         "they can run code); resume from a .ckpt that melodyrnn fit wrote"
                         ) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{path} is truncated or corrupt ({type(exc).__name__}); resume from "
                         "another .ckpt (an earlier best-*.ckpt) or start again without "
                         "--ckpt_path") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ModelError(f"{path} is not a training checkpoint (it has no state_dict); to start "
                         "from a bundle's weights use --model.init_from instead of --ckpt_path")
    return checkpoint


_NOTED: weakref.WeakSet[L.Trainer] = weakref.WeakSet()


def note_no_validation(trainer: L.Trainer) -> None:
    """Say once per run that what needs val_loss stepped aside."""
    if trainer in _NOTED or not trainer.is_global_zero:
        return
    _NOTED.add(trainer)
    print("melodyrnn: note: no val_loss (validation did not run), so early stopping and the "
          "best checkpoint step aside; last.ckpt holds the latest state", file=sys.stderr)


class BestCheckpoint(ModelCheckpoint):
    """ModelCheckpoint on val_loss that steps aside without validation; last.ckpt is not its."""

    def _save_topk_checkpoint(self, trainer: L.Trainer, monitor_candidates: dict[str, Any]) -> None:
        if self.monitor is not None and self.monitor not in monitor_candidates:
            note_no_validation(trainer)
            return
        super()._save_topk_checkpoint(trainer, monitor_candidates)

    def _save_last_checkpoint(self, trainer: L.Trainer, monitor_candidates: dict[str, Any]) -> None:
        """Nothing: `LastCheckpoint` writes last.ckpt after every epoch, not only after a best."""


class ValEarlyStopping(EarlyStopping):
    """EarlyStopping on val_loss that steps aside when validation did not run."""

    def _run_early_stopping_check(self, trainer: L.Trainer) -> None:
        if self.monitor not in trainer.callback_metrics:
            note_no_validation(trainer)
            return
        super()._run_early_stopping_check(trainer)


def checkpoint_dir(trainer: L.Trainer) -> Path:
    """Where the run's checkpoints go: the best callback's folder, else Lightning's default."""
    for callback in trainer.callbacks:  # type: ignore[attr-defined]
        if isinstance(callback, ModelCheckpoint) and callback.dirpath:
            return Path(callback.dirpath)
    logger: Logger | None = trainer.loggers[0] if trainer.loggers else None
    if logger is None or logger.save_dir is None:
        return Path(trainer.default_root_dir) / "checkpoints"
    version = logger.version
    version = version if isinstance(version, str) else f"version_{version}"
    return Path(logger.save_dir) / str(logger.name or "") / version / "checkpoints"


class LastCheckpoint(Callback):
    """Writes last.ckpt after every epoch, every N steps and on interruption, then stops.

    With `write=False` (checkpointing off) it only stops training at a signal. It writes nothing
    while `guard` has seen a loss above its limit, so last.ckpt is never a diverged state.
    """

    def __init__(self, every_n_steps: int = 0, guard: DivergenceGuard | None = None,
                 write: bool = True) -> None:
        self.every_n_steps = every_n_steps
        self.guard = guard
        self.write = write
        self.interruption = Interruption()
        self.path: Path | None = None  # where last.ckpt is (or will be) written
        self.saved_step: int | None = None  # global step of the last.ckpt on disk, if known
        self.resumed_step: int | None = None
        self.stopped_at: tuple[int, int] | None = None  # (epoch, step) of a stop on a signal

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # Under DDP only the first process writes: every process takes its path, which names
        # the version folder it chose (a process on another machine may see other versions).
        self.path = Path(trainer.strategy.broadcast(str(checkpoint_dir(trainer) / LAST)))
        if trainer.is_global_zero:
            remove_stale_temporaries(self.path.parent)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.interruption.install()
        if trainer.ckpt_path:
            self.resumed_step = self.saved_step = trainer.global_step
            if trainer.is_global_zero:
                print(f"melodyrnn: resumed {trainer.ckpt_path} at epoch {trainer.current_epoch}, "
                      f"step {trainer.global_step}", file=sys.stderr)
        self._stop_if_asked(trainer, save=False)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        # Mid-accumulation the summed gradients are in no checkpoint: wait for the step.
        if (batch_idx + 1) % trainer.accumulate_grad_batches:
            return
        step = trainer.global_step
        if self.every_n_steps and step % self.every_n_steps == 0 and step != self.saved_step:
            self._save(trainer)
        self._stop_if_asked(trainer, save=True)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # after validation, early stopping and the best checkpoint, so their state is in it
        self._save(trainer)
        self._stop_if_asked(trainer, save=False)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.interruption.restore()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule,
                     exception: BaseException) -> None:
        self.interruption.restore()

    def _save(self, trainer: L.Trainer) -> None:
        if not self.write or self.path is None or trainer.sanity_checking \
                or getattr(trainer, "fast_dev_run", False):
            return
        if self.guard is not None and not self.guard.healthy:
            return
        trainer.save_checkpoint(self.path, weights_only=False)
        self.saved_step = trainer.global_step

    def _stop_if_asked(self, trainer: L.Trainer, save: bool) -> None:
        if not self.interruption.requested(trainer):
            return
        if save and trainer.global_step != self.saved_step:
            self._save(trainer)
        self.stopped_at = (trainer.current_epoch, trainer.global_step)
        raise TrainingInterrupted(self.interruption.signum)

    def saved(self) -> Path | None:
        """The last.ckpt this run wrote or resumed from, if there is one on disk."""
        return self.path if self.path is not None and self.path.is_file() else None
