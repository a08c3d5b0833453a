"""What stops a training run early on purpose: a diverging loss, and Ctrl-C or SIGTERM.

`DivergenceGuard` ends a run whose loss explodes. The limit is twice the loss of guessing
uniformly, 2 ln V nats per token for a vocabulary of V tokens: an untrained network starts near
ln V and learning only lowers it, so a loss above 2 ln V means the model gives the right token
less than 1/V^2 on average, which no run that learns passes through. Training stops at a
non-finite loss at once, at a training loss above the limit for `patience` (5) optimizer steps
running, or at a validation loss that is not finite or above the limit, with a ConfigError that
suggests a lower learning rate or gradient clipping.

`Interruption` turns the first SIGINT or SIGTERM during training into a request that
`LastCheckpoint` honours after the current step (saving last.ckpt, then raising
`TrainingInterrupted`); a second signal stops at once.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
from types import FrameType
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback

from melodyrnn.errors import ConfigError


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped at a signal after saving what there was to save."""

    def __init__(self, signum: int | None) -> None:
        super().__init__(signum)
        self.signum = signum
        self.last: Any = None  # the LastCheckpoint of the run, for the message


class Interruption:
    """Signal handlers for SIGINT and SIGTERM that ask training to stop at the next step."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """Take over SIGINT and SIGTERM (also from Lightning's handler), main thread only."""
        if threading.current_thread() is not threading.main_thread() or self._previous:
            return
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        """Put back the handlers there were before `install`."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:  # a second signal: stop now, whatever the step is doing
            self.restore()
            raise KeyboardInterrupt
        self.signum = signum
        print(f"\nmelodyrnn: {signal.Signals(signum).name} received; saving last.ckpt after "
              "this step, then stopping (Ctrl-C again to stop at once without saving)",
              file=sys.stderr, flush=True)

    def requested(self, trainer: L.Trainer) -> bool:
        """Whether a signal asked to stop, on any process (every process stops together)."""
        asked = self.signum is not None
        if trainer.world_size > 1:
            asked = trainer.strategy.reduce_boolean_decision(asked, all=False)
        return asked


DIVERGED_PATIENCE = 5  # training steps running above the limit that stop a run


def loss_limit(vocab_size: int) -> float:
    """2 ln V nats per token: twice the loss of guessing uniformly among V tokens."""
    return 2 * math.log(vocab_size) if vocab_size > 1 else math.inf


class DivergenceGuard(Callback):
    """Stops training when the loss is not finite or above 2 ln(vocab size) (see the module)."""

    def __init__(self, patience: int = DIVERGED_PATIENCE) -> None:
        self.patience = patience
        self.bad_steps = 0
        self.limit = math.inf
        self.vocab_size = 0
        self.last: Any = None  # the run's LastCheckpoint, to say what it holds

    @property
    def healthy(self) -> bool:
        """False while the latest training losses are above the limit."""
        return self.bad_steps == 0

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self.vocab_size = int(getattr(pl_module.hparams, "vocab_size", 0) or 0)
        self.limit = loss_limit(self.vocab_size)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule,
                           outputs: Any, batch: Any, batch_idx: int) -> None:
        value = trainer.callback_metrics.get("train_loss_step")
        if value is None:
            return
        loss = float(value)
        if math.isfinite(loss) and loss <= self.limit:
            self.bad_steps = 0
            return
        self.bad_steps += 1
        if not math.isfinite(loss) or self.bad_steps >= self.patience:
            raise ConfigError(self._message(pl_module, "training", loss, trainer.global_step))

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        value = trainer.callback_metrics.get("val_loss")
        if trainer.sanity_checking or value is None:
            return
        loss = float(value)
        if not math.isfinite(loss) or loss > self.limit:
            raise ConfigError(self._message(pl_module, "validation", loss, trainer.global_step))

    def _message(self, module: L.LightningModule, stage: str, loss: float, step: int) -> str:
        if math.isfinite(loss):
            what = (f"the {stage} loss was {loss:.4g} nats per token, above 2 ln {self.vocab_size}"
                    f" = {self.limit:.2f} (twice that of guessing uniformly)")
            if stage == "training":
                what += f" for {self.bad_steps} steps running"
        else:
            what = f"the {stage} loss became {loss}"
        hparams = module.hparams
        lr, clip = hparams.get("lr"), hparams.get("grad_clip_norm")
        advice = (f"lower --model.lr (now {lr:g})" if isinstance(lr, float) else "lower --model.lr")
        advice += (f" or clip gradients harder (--model.grad_clip_norm, now {clip:g})" if clip
                   else " or clip gradients with --model.grad_clip_norm 1.0")
        saved = self.last.saved() if self.last is not None else None
        kept = (f"{saved} holds step {self.last.saved_step}, from before" if saved is not None
                else "no checkpoint was written")
        return f"training diverged at step {step}: {what}; {advice}; {kept}"

