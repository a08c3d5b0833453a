"""`melodyrnn fit | validate | test`: Lightning's own CLI (LightningCLI) over our classes.

These commands are parsed by LightningCLI, not argparse, so they take `--config
configs/NAME.yaml` and `--model.*`, `--data.*`, `--trainer.*` overrides; `melodyrnn fit --help`
lists every option. The top-level parser only lists them.
"""

from __future__ import annotations

import argparse

COMMANDS = ("fit", "validate", "test")
_HELP = {
    "fit": "train a model (LightningCLI: --config, --model.*, --data.*, --trainer.*); "
           "`melodyrnn fit --help` lists every option",
    "validate": "score a checkpoint on the valid split (LightningCLI)",
    "test": "score a checkpoint on the test split (LightningCLI)",
}


def add(sub: argparse._SubParsersAction) -> None:
    for command in COMMANDS:
        sub.add_parser(command, help=_HELP[command])


def run_lightning(argv: list[str]) -> int:
    """Run `melodyrnn fit|validate|test ...` (argv starts with the command); the exit code."""
    # Lightning and torch take seconds to import: only the training commands load them
    from melodyrnn.fit.cli import run_cli

    return run_cli(argv)
