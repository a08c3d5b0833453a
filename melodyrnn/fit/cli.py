"""The training command line: `MelodyCLI` (a LightningCLI) and the run directories it writes.

`melodyrnn fit|validate|test` (through `run_cli`) builds this CLI over
`MelodyLightningModule` and `MelodyDataModule`. It links the dataset's vocab_size, pad_id,
tokenizer and manifest into the model, adds ModelCheckpoint (best + last on val_loss) and
EarlyStopping as configurable callbacks (`--checkpoint.*`, `--early_stopping.*`), and logs to
`{trainer.default_root_dir}/{run_name}/version_N/` with CSV and TensorBoard loggers.
"""

from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger, Logger

from melodyrnn.errors import MelodyRNNError
from melodyrnn.fit.datamodule import MelodyDataModule
from melodyrnn.fit.module import MelodyLightningModule


class MelodyCLI(LightningCLI):
    """LightningCLI with the data-to-model links, default callbacks and the run directory."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        for name in ("vocab_size", "pad_id", "tokenizer", "dataset_info"):
            parser.link_arguments(f"data.{name}", f"model.{name}", apply_on="instantiate")
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
    to the caller). A MelodyRNNError (bad dataset, option or checkpoint) ends the program with
    one line on stderr and exit status 2, like a usage error.
    """
    try:
        with warnings.catch_warnings():
            # `melodyrnn fit ...` passes args while sys.argv holds the same words; that is meant.
            warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
            return MelodyCLI(MelodyLightningModule, MelodyDataModule, args=args, run=run,
                             save_config_kwargs={"overwrite": True},
                             trainer_defaults={"default_root_dir": "runs"},
                             parser_kwargs=_PARSER_KWARGS if run else {})
    except MelodyRNNError as exc:
        print(f"melodyrnn: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def run_cli(args: list[str] | None = None) -> int:
    """`melodyrnn fit|validate|test ...`: run the training CLI on `args`; returns 0.

    Usage errors and MelodyRNNErrors exit with status 2 (SystemExit) and one line on stderr.
    """
    make_cli(args)
    return 0
