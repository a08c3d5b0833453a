"""Checked command-line values and the parser that refuses bad ones in one sentence.

Each value parser turns a flag's text into a value or refuses it with one sentence; `Parser`
then prints `melodyrnn COMMAND: error: ...` and exits with EXIT_USAGE (2).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn

from melodyrnn.errors import EXIT_USAGE, MelodyRNNError
from melodyrnn.io import FORMATS


class Parser(argparse.ArgumentParser):
    """argparse that ends a bad flag in one sentence: 'melodyrnn prepare: error: ...'."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 0 and below 1")
    return value


def semitone_range(text: str) -> tuple[int, int]:
    try:
        low, high = (int(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not LOW:HIGH in semitones, "
                                         "e.g. -5:6") from None
    if low > high:
        raise argparse.ArgumentTypeError(f"'{text}': LOW must not exceed HIGH")
    return low, high


def checked(parse: Callable[[str], object]) -> Callable[[str], object]:
    """An argparse type from a parser that raises MelodyRNNError with a sentence."""
    def check(text: str) -> object:
        try:
            return parse(text)
        except MelodyRNNError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return check


def number(low: float, high: float | None = None, *, above: bool = False,
            whole: bool = False) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = int(text) if whole else float(text)
        except ValueError:
            kind = "whole number" if whole else "number"
            raise argparse.ArgumentTypeError(f"'{text}' is not a {kind}") from None
        if (value <= low if above else value < low) or (high is not None and value > high):
            bound = f"above {low:g}" if above else f"at least {low:g}"
            upper = f" and at most {high:g}" if high is not None else ""
            raise argparse.ArgumentTypeError(f"{text} must be {bound}{upper}")
        return value
    return parse


def formats(text: str) -> list[str]:
    names = [f.strip().lower().lstrip(".") for f in text.split(",") if f.strip()]
    bad = [n for n in names if n not in FORMATS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"'{text}' names unknown format(s) "
                                         f"{', '.join(bad) or '(none)'}; choose from "
                                         f"{', '.join(FORMATS)}")
    return list(dict.fromkeys(FORMATS[n] for n in names))
