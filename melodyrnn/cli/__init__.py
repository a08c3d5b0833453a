"""The `melodyrnn` command: one module per subcommand, and one exit-code policy.

Each subcommand module (`prepare`, `generate`, `render`, `evaluate`, `export`, `fit`) parses
and checks its own flags, then calls the stage that does the work. Exit codes, the same for
every command:

- 0: done;
- 1: a `MelodyRNNError` at run time (a bad file, dataset, model or value), in one sentence;
- 2: a bad command line (unknown flag, bad flag value, missing argument), in one sentence;
- 130: interrupted (Ctrl-C, or SIGTERM, which every command treats the same way).

`fit`, `validate` and `test` are Lightning's own CLI (LightningCLI), so they take
`--config configs/NAME.yaml` and `--model.*`, `--data.*`, `--trainer.*` overrides.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence

from melodyrnn._version import __version__
from melodyrnn.cli import evaluate, export, fit, generate, lab, plot, prepare, render, studio
from melodyrnn.cli.flags import Parser
from melodyrnn.errors import EXIT_INTERRUPTED, EXIT_RUN_ERROR, EXIT_USAGE, MelodyRNNError


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subparser per command."""
    parser = Parser(prog="melodyrnn",
                    description="Learn melodies from MIDI scores with an LSTM; sample, score, "
                                "render and play them.",
                    epilog="examples:\n  melodyrnn generate --num 2 --bars 16\n"
                           "  melodyrnn prepare essen-kinder --out corpora/essen-kinder\n"
                           "  melodyrnn fit --config configs/tiny.yaml "
                           "--data.path corpora/essen-kinder\n"
                           "  melodyrnn export runs/tiny/version_0 my-model",
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"melodyrnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in (prepare, fit, generate, render, evaluate, export, plot, studio, lab):
        command.add(sub)
    return parser


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler, `kill`, a closing terminal) stops a command the way Ctrl-C does:
    the tune or file in hand is finished or removed, and the command says what it kept."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `melodyrnn` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in fit.COMMANDS:  # LightningCLI parses these itself
            return fit.run_lightning(argv)
        if argv and argv[0] == "lab":  # its flags come from the experiments (cli/lab.py)
            with _terminate_as_interrupt():
                return lab.run_lab(argv[1:])
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_USAGE
        with _terminate_as_interrupt():
            return int(args.func(args) or 0)
    except MelodyRNNError as exc:
        print(f"melodyrnn: error: {exc}", file=sys.stderr)
        return EXIT_RUN_ERROR
    except BrokenPipeError:  # the reader of our output went away (`... | head`): not an error
        sys.stderr.close()
        return 0
    except KeyboardInterrupt as exc:  # a command may say what it had written
        said = str(exc) or "outputs already written are complete, nothing partial was left"
        print(f"melodyrnn: interrupted; {said}", file=sys.stderr)
        return EXIT_INTERRUPTED
