"""The training command line: `MelodyCLI` (a LightningCLI) and the run directories it writes.

`melodyrnn fit|validate|test` (through `run_cli`) builds this CLI over
`MelodyLightningModule` and `MelodyDataModule`. It links the dataset's vocab_size, pad_id,
tokenizer and manifest into the model and the model's lookback into the data, adds
ModelCheckpoint (best + last on val_loss) and EarlyStopping as configurable callbacks
(`--checkpoint.*`, `--early_stopping.*`), and logs to `{trainer.default_root_dir}/{run_name}/
version_N/` with CSV and TensorBoard loggers. When `fit`
ends it prints where the best and last checkpoints are and the `melodyrnn export` command for
them. Exit codes are those of `melodyrnn.cli`: a bad command line ends in one sentence with
status 2, a MelodyRNNError at run time with status 1, Ctrl-C as KeyboardInterrupt (130).
"""

from __future__ import annotations

import logging
import re
import sys
import warnings
from pathlib import Path
from typing import Any, NoReturn

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger, Logger

from melodyrnn.errors import EXIT_RUN_ERROR, EXIT_USAGE, MelodyRNNError
from melodyrnn.fit.datamodule import MelodyDataModule
from melodyrnn.fit.module import MelodyLightningModule


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

    _DROP = re.compile(r"\s*(💡 Tip:|(GPU|TPU|HPU) available: False)")

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
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.monitor": "val_loss", "checkpoint.mode": "min",
                             "checkpoint.save_last": True, "checkpoint.save_top_k": 1,
                             "checkpoint.filename": "best-{epoch}-{step}"})
        parser.add_lightning_class_args(EarlyStopping, "early_stopping")
        parser.set_defaults({"early_stopping.monitor": "val_loss", "early_stopping.mode": "min",
                             "early_stopping.patience": 5})

    def before_instantiate_classes(self) -> None:
        """Turn `--ckpt_path last` into the newest last.ckpt among this run name's versions."""
        config = self.config.get(str(self.subcommand)) if self.subcommand else None
        if config is not None and config.get("ckpt_path") == "last":
            last = latest_checkpoint(self._run_dir(config))
            if last is not None:
                config["ckpt_path"] = str(last)

    def fit(self, **kwargs: Any) -> None:
        """`trainer.fit`, with Ctrl-C raised as KeyboardInterrupt again (Lightning exits 1)."""
        try:
            self.trainer.fit(**kwargs)
        except SystemExit:
            if self.trainer.interrupted:
                raise KeyboardInterrupt from None
            raise

    def after_fit(self) -> None:
        """Say where the checkpoints are and how to make a bundle of them."""
        if self.trainer.is_global_zero:
            summary = fit_summary(self.trainer)
            if summary:
                print(summary)

    def instantiate_trainer(self, **kwargs: Any) -> L.Trainer:
        if self._get(self.config_init, "trainer", {}).get("logger") in (None, True):
            kwargs["logger"] = self._run_loggers()
        return super().instantiate_trainer(**kwargs)

    def _run_dir(self, config: Any) -> Path:
        root = config.get("trainer", {}).get("default_root_dir") or "runs"
        return Path(root) / (config.get("run_name") or "default")

    def _run_loggers(self) -> list[Logger]:
        """CSV (always) and TensorBoard (when installed) loggers sharing a new version directory.

        A resumed run also gets a new version: CSVLogger would delete the old metrics.csv.
        """
        run_dir = self._run_dir(self.config.get(str(self.subcommand), self.config))
        version = next_version(run_dir)
        loggers: list[Logger] = [CSVLogger(run_dir.parent, name=run_dir.name, version=version)]
        try:
            import tensorboard  # noqa: F401 - only to know whether it is installed
            from lightning.pytorch.loggers import TensorBoardLogger
        except ImportError:
            return loggers
        loggers.append(TensorBoardLogger(run_dir.parent, name=run_dir.name, version=version,
                                         default_hp_metric=False))
        return loggers


def _versions(run_dir: Path) -> list[int]:
    return sorted(int(m.group(1)) for p in run_dir.glob("version_*")
                  if (m := re.fullmatch(r"version_(\d+)", p.name)))


def next_version(run_dir: Path) -> int:
    """The first unused version number under a run directory."""
    versions = _versions(run_dir)
    return versions[-1] + 1 if versions else 0


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest version's checkpoints/last.ckpt under a run directory, if any."""
    for version in reversed(_versions(run_dir)):
        last = run_dir / f"version_{version}" / "checkpoints" / "last.ckpt"
        if last.is_file():
            return last
    return None


def fit_summary(trainer: L.Trainer) -> str:
    """Where a finished fit left its best and last checkpoints, and the export command."""
    callback = trainer.checkpoint_callback
    if not isinstance(callback, ModelCheckpoint):
        return ""
    best, last = callback.best_model_path, callback.last_model_path
    lines = []
    if best:
        score = callback.best_model_score
        scored = f" ({callback.monitor} {float(score):.4f})" if score is not None else ""
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
    _check_config_files(list(sys.argv[1:] if args is None else args))
    _quiet_lightning()
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


def run_cli(args: list[str] | None = None) -> int:
    """`melodyrnn fit|validate|test ...`: run the training CLI on `args`; returns 0.

    A bad command line exits with status 2 and a MelodyRNNError with status 1 (SystemExit),
    each with one sentence on stderr.
    """
    make_cli(args)
    return 0
