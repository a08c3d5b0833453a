"""The training command line: `MelodyCLI` (a LightningCLI) and the run directories it writes.

`melodyrnn fit|validate|test` (through `run_cli`) builds this CLI over
`MelodyLightningModule` and `MelodyDataModule`. It links the dataset's vocab_size, pad_id,
tokenizer and manifest into the model and the model's lookback into the data, adds the best
checkpoint on val_loss and early stopping as configurable callbacks (`--checkpoint.*`,
`--early_stopping.*`; both step aside without validation), `last.ckpt` after every epoch,
every `--checkpoint_every_n_steps` steps and on Ctrl-C or SIGTERM (`fit/checkpoints.py`), and
a guard that stops a diverging run (`fit/guards.py`). It logs to
`{trainer.default_root_dir}/{run_name}/version_N/` with CSV and TensorBoard loggers;
`--ckpt_path last` continues the run in its own folder (`fit/runs.py`). When `fit` ends it
prints where the best and last checkpoints are and the `melodyrnn export` command for them.
Exit codes are those of `melodyrnn.cli`: a bad command line ends in one sentence with status
2, a MelodyRNNError at run time with status 1, Ctrl-C or SIGTERM with the resume command and
status 130.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import warnings
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import lightning as L
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger, Logger

from melodyrnn.errors import (
    EXIT_INTERRUPTED,
    EXIT_RUN_ERROR,
    EXIT_USAGE,
    ConfigError,
    MelodyRNNError,
)
from melodyrnn.fit.checkpoints import (
    AtomicCheckpointIO,
    BestCheckpoint,
    LastCheckpoint,
    ValEarlyStopping,
    note_no_validation,
    read_checkpoint,
)
from melodyrnn.fit.datamodule import MelodyDataModule
from melodyrnn.fit.guards import DivergenceGuard, Interruption, TrainingInterrupted
from melodyrnn.fit.module import MelodyLightningModule
from melodyrnn.fit.runs import (
    AppendingCSVLogger,
    clean_run_dir,
    next_version,
    resolve_last,
    resume_command,
)


class MelodyArgumentParser(LightningArgumentParser):
    """LightningCLI's parser, ending a bad command line in one sentence instead of the usage."""

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        if not self.exit_on_error:  # a parse inside a parse: jsonargparse handles the error
            super().error(message, ex)
        parser = getattr(ex, "subcommand_parser", None) or self
        prog = parser.prog.replace(" [options]", "")
        # jsonargparse indents the reasons of a bad value on lines of their own
        text = " ".join(line.strip() for line in message.splitlines() if line.strip())
        sys.stderr.write(f"{prog}: error: {text} (see `{prog} --help`)\n")
        raise SystemExit(EXIT_USAGE)


class _QuietLightning(logging.Filter):
    """Drops Lightning's advertising tips and its banner lines about hardware that is absent."""

    _DROP = re.compile(r"\s*(💡 Tip:|(GPU|TPU|HPU) available: False|Detected KeyboardInterrupt)")

    def filter(self, record: logging.LogRecord) -> bool:
        return not self._DROP.match(record.getMessage())


def _quiet_lightning() -> None:
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _QuietLightning) for f in logger.filters):
            logger.addFilter(_QuietLightning())


class MelodyCLI(LightningCLI):
    """LightningCLI with the data-to-model links, default callbacks and the run directory."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        for name in ("vocab_size", "pad_id", "tokenizer", "dataset_info"):
            parser.link_arguments(f"data.{name}", f"model.{name}", apply_on="instantiate")
        # the other way: a network with lookback needs its features in every batch
        parser.link_arguments("model.lookback", "data.lookback")
        parser.add_argument("--run_name", type=str, default="default",
                            help="Runs go to {trainer.default_root_dir}/{run_name}/version_N.")
        parser.add_argument("--checkpoint_every_n_steps", type=int, default=0,
                            help="Also write last.ckpt every this many optimizer steps "
                                 "(0: only after each epoch and on Ctrl-C or SIGTERM).")
        parser.add_lightning_class_args(BestCheckpoint, "checkpoint")
        # best on val_loss, saved after validation (before last.ckpt, which holds its state)
        parser.set_defaults({"checkpoint.monitor": "val_loss", "checkpoint.mode": "min",
                             "checkpoint.save_last": False, "checkpoint.save_top_k": 1,
                             "checkpoint.save_on_train_epoch_end": False,
                             "checkpoint.filename": "best-{epoch}-{step}"})
        parser.add_lightning_class_args(ValEarlyStopping, "early_stopping")
        parser.set_defaults({"early_stopping.monitor": "val_loss", "early_stopping.mode": "min",
                             "early_stopping.patience": 5,
                             "early_stopping.check_on_train_epoch_end": False})

    def _parse_ckpt_path(self) -> None:
        """Lightning's (the model options of a --ckpt_path file), after checking the file."""
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if ckpt_path and ckpt_path not in ("last", "best", "hpc") \
                and not str(ckpt_path).startswith("registry"):
            read_checkpoint(Path(ckpt_path), "cpu")  # a bad file ends in one sentence
        super()._parse_ckpt_path()

    def before_instantiate_classes(self) -> None:
        """Check the run options; turn `--ckpt_path last` into the run's newest last.ckpt."""
        config = self.config.get(str(self.subcommand)) if self.subcommand else self.config
        self._resume_version: int | None = None
        if config is None:
            return
        if (config.get("checkpoint_every_n_steps") or 0) < 0:
            raise ConfigError("--checkpoint_every_n_steps has to be 0 (off) or more, got "
                              f"{config.get('checkpoint_every_n_steps')}")
        run_dir = self._run_dir(config)
        if os.environ.get("LOCAL_RANK", "0") == "0":  # DDP: the first process tidies up
            clean_run_dir(run_dir)
        if self.subcommand == "fit" and config.get("ckpt_path") == "last":
            last, self._resume_version = resolve_last(run_dir)
            config["ckpt_path"] = str(last)

    def fit(self, **kwargs: Any) -> None:
        """`trainer.fit`, with Ctrl-C or SIGTERM raised as `TrainingInterrupted`."""
        handlers = {signum: signal.getsignal(signum) for signum in Interruption.SIGNALS}
        try:
            self.trainer.fit(**kwargs)
        except SystemExit:  # Lightning's way out after a KeyboardInterrupt or SIGTERM
            if self.trainer.interrupted:
                stop = TrainingInterrupted(self.last_checkpoint.interruption.signum)
                stop.last = self.last_checkpoint
                raise stop from None
            raise
        finally:  # Lightning leaves SIGINT ignored after a KeyboardInterrupt
            for signum, handler in handlers.items():
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)

    def after_fit(self) -> None:
        """Say where the checkpoints are and how to make a bundle of them."""
        if "val_loss" not in self.trainer.callback_metrics and any(
                isinstance(c, BestCheckpoint | ValEarlyStopping)
                for c in self.trainer.callbacks):  # type: ignore[attr-defined]
            note_no_validation(self.trainer)
        if self.trainer.is_global_zero:
            summary = fit_summary(self.trainer)
            if summary:
                print(summary)

    def instantiate_trainer(self, **kwargs: Any) -> L.Trainer:
        if self._get(self.config_init, "trainer", {}).get("logger") in (None, True):
            kwargs["logger"] = self._run_loggers()
        trainer = super().instantiate_trainer(**kwargs)
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()
        return trainer

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[Any]) -> L.Trainer:
        """Add the divergence guard and last.ckpt; without checkpointing, no checkpoint at all."""
        writes = config.get("enable_checkpointing") is not False
        if not writes:
            callbacks = [c for c in callbacks if not isinstance(c, ModelCheckpoint)]
        guard = DivergenceGuard()
        every = self._get(self.config_init, "checkpoint_every_n_steps", 0) or 0
        self.last_checkpoint = guard.last = LastCheckpoint(every, guard, write=writes)
        trainer = super()._instantiate_trainer(config, [*callbacks, guard, self.last_checkpoint])
        if not writes and trainer.is_global_zero:  # under DDP, said once
            print("melodyrnn: note: checkpointing is off (--trainer.enable_checkpointing "
                  "false): nothing is saved, so an interruption loses the run", file=sys.stderr)
        return trainer

    def _run_dir(self, config: Any) -> Path:
        root = config.get("trainer", {}).get("default_root_dir") or "runs"
        return Path(root) / (config.get("run_name") or "default")

    def _run_loggers(self) -> list[Logger]:
        """CSV (always) and TensorBoard (when installed) loggers sharing one version directory.

        A new run gets a new version; `--ckpt_path last` the version it resumes, with the CSV
        logger appending to its metrics.csv.
        """
        run_dir = self._run_dir(self.config.get(str(self.subcommand), self.config))
        version = getattr(self, "_resume_version", None)
        csv_class = CSVLogger if version is None else AppendingCSVLogger
        version = next_version(run_dir) if version is None else version
        loggers: list[Logger] = [csv_class(run_dir.parent, name=run_dir.name, version=version)]
        try:
            import tensorboard  # noqa: F401 - only to know whether it is installed
            from lightning.pytorch.loggers import TensorBoardLogger
        except ImportError:
            return loggers
        loggers.append(TensorBoardLogger(run_dir.parent, name=run_dir.name, version=version,
                                         default_hp_metric=False))
        return loggers


def fit_summary(trainer: L.Trainer) -> str:
    """Where a finished fit left its best and last checkpoints, and the export command."""
    best_callback = next((c for c in trainer.callbacks  # type: ignore[attr-defined]
                          if isinstance(c, ModelCheckpoint)), None)
    last_callback = next((c for c in trainer.callbacks  # type: ignore[attr-defined]
                          if isinstance(c, LastCheckpoint)), None)
    best = best_callback.best_model_path if best_callback is not None else ""
    saved = last_callback.saved() if last_callback is not None else None
    last = str(saved) if saved is not None else ""
    lines = []
    if best and best_callback is not None:
        score = best_callback.best_model_score
        scored = f" ({best_callback.monitor} {float(score):.4f})" if score is not None else ""
        lines.append(f"best checkpoint {best}{scored}")
    if last:
        lines.append(f"last checkpoint {last}")
    if not lines:
        return ""
    checkpoints = Path(best or last).parent
    run_dir = checkpoints.parent if checkpoints.name == "checkpoints" else checkpoints
    out = Path("models") / run_dir.parent.name
    which = "the best" if best else "the last"
    lines.append(f"bundle {which} with: melodyrnn export {run_dir} {out}")
    if best and last and best != last:
        lines.append(f"or the last with: melodyrnn export {last} {out}-last")
    return "\n".join(lines)


def interrupted_message(cli_args: list[str], last: LastCheckpoint | None) -> str:
    """One line after Ctrl-C or SIGTERM: where training stopped, what was saved, how to resume."""
    where = ""
    if last is not None and last.stopped_at is not None:
        where = f" at epoch {last.stopped_at[0]}, step {last.stopped_at[1]}"
    saved = last.saved() if last is not None and last.write else None
    if saved is None:
        what = ("nothing was saved (checkpointing is off)" if last is not None and not last.write
                else "nothing was saved: no training step had finished")
        return f"melodyrnn: interrupted{where}; {what}"
    step = last.saved_step if last is not None else None
    state = f"{saved} holds step {step}" if step is not None else f"{saved} is as it was"
    return f"melodyrnn: interrupted{where}; {state}; resume with: {resume_command(cli_args)}"


def _check_config_files(args: list[str]) -> None:
    """Refuse a --config file that does not exist in one sentence, before Lightning loads."""
    for i, arg in enumerate(args):
        flag, _, value = arg.partition("=")
        if flag not in ("--config", "-c"):
            continue
        if not value and i + 1 < len(args):
            value = args[i + 1]
        # jsonargparse also takes a YAML text for --config: only a lone word is a file name
        if value and not Path(value).exists() and not any(c in value for c in ":{}\n"):
            command = args[0] if args and args[0] in ("fit", "validate", "test") else "fit"
            sys.stderr.write(f"melodyrnn {command}: error: --config {value}: no such file\n")
            raise SystemExit(EXIT_USAGE)


_EXAMPLE = "example: melodyrnn {} --config configs/tiny.yaml --data.path corpora/essen-kinder"
_PARSER_KWARGS: dict[str, Any] = {
    "prog": "melodyrnn",
    "fit": {"description": "Train a melody model; " + _EXAMPLE.format("fit")},
    "validate": {"description": "Score a checkpoint on the valid split; "
                 + _EXAMPLE.format("validate") + " --ckpt_path CKPT"},
    "test": {"description": "Score a checkpoint on the test split; "
             + _EXAMPLE.format("test") + " --ckpt_path CKPT"},
}


def make_cli(args: list[str] | None = None, run: bool = True) -> MelodyCLI:
    """Build (and with `run`, run) the training CLI on `args`; returns the LightningCLI.

    `args` as on the command line, default sys.argv[1:]: a subcommand (`fit`, `validate`,
    `test`) and its options. With `run=False` there is no subcommand: the classes are built
    from the options and nothing runs (`cli.trainer.fit(cli.model, cli.datamodule)` is then up
    to the caller). A bad command line ends the program with one sentence on stderr and exit
    status 2; a MelodyRNNError (bad dataset, option value or checkpoint) with one sentence and
    status 1.
    """
    cli_args = list(sys.argv[1:] if args is None else args)
    _check_config_files(cli_args)
    _quiet_lightning()
    previous = _sigterm_as_interrupt()
    try:
        with warnings.catch_warnings():
            # `melodyrnn fit ...` passes args while sys.argv holds the same words; that is meant.
            warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
            # Lightning's own use of a torch API that torch deprecated: nothing a user can change
            warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)`",
                                    category=FutureWarning)
            return MelodyCLI(MelodyLightningModule, MelodyDataModule, args=args, run=run,
                             save_config_kwargs={"overwrite": True},
                             trainer_defaults={"default_root_dir": "runs"},
                             parser_class=MelodyArgumentParser,
                             parser_kwargs=_PARSER_KWARGS if run else {})
    except MelodyRNNError as exc:
        print(f"melodyrnn: error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_RUN_ERROR) from None
    except TrainingInterrupted as exc:
        print(interrupted_message(cli_args, getattr(exc, "last", None)), file=sys.stderr)
        raise SystemExit(EXIT_INTERRUPTED) from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _sigterm_as_interrupt() -> Any:
    """Until training starts, SIGTERM stops like Ctrl-C; the handler there was before."""
    if sys.platform == "win32" or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return None
    try:
        return signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread
        return None


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_cli(args: list[str] | None = None) -> int:
    """`melodyrnn fit|validate|test ...`: run the training CLI on `args`; returns 0.

    A bad command line exits with status 2 and a MelodyRNNError with status 1 (SystemExit),
    each with one sentence on stderr.
    """
    make_cli(args)
    return 0
