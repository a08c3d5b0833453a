"""How music21's ABC translator is run: without beams, and bounded where it would take
minutes or hours (a time signature for a bar a note overfills; re-barring quadratic in bars).

These are patches of music21, applied only while `without_beaming()` is entered and undone
after; music21 is imported inside the functions.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from melodyrnn.io.inputs.files import MAX_BEATS

_beaming_lock = threading.Lock()
_beaming_depth = 0
_part_own_make_beams: Any = None  # Part's own makeBeams, if a music21 version defines one


@contextlib.contextmanager
def without_beaming() -> Iterator[None]:
    """Turn music21's Part.makeBeams into a no-op while ABC tunes are translated, and bound
    its Measure.bestTimeSignature (see `_bounded_best_time_signature`).

    The ABC translator beams every part it builds, which is about half its run time (measured
    on Essen: 75 -> 137 tunes/s without it); beams are engraving we never read. A lock and a
    depth count keep nested or concurrent readers from restoring the method too early.
    """
    global _beaming_depth, _part_own_make_beams
    from music21 import stream
    from music21.abcFormat import translate

    with _beaming_lock:
        if _beaming_depth == 0:
            _part_own_make_beams = vars(stream.Part).get("makeBeams")
            setattr(stream.Part, "makeBeams", _skip_beams)  # noqa: B010 (mypy refuses assigning a method)
            _measure_best_time_signature.append(stream.Measure.bestTimeSignature)
            setattr(stream.Measure, "bestTimeSignature", _bounded_best_time_signature)  # noqa: B010
            _music21_rebar.append(translate.reBar)
            translate.reBar = rebar_linear
        _beaming_depth += 1
    try:
        yield
    finally:
        with _beaming_lock:
            _beaming_depth -= 1
            if _beaming_depth == 0:
                setattr(stream.Measure, "bestTimeSignature",  # noqa: B010
                        _measure_best_time_signature.pop())
                translate.reBar = _music21_rebar.pop()
                if _part_own_make_beams is None:
                    del stream.Part.makeBeams  # Part inherits Stream's again
                else:
                    setattr(stream.Part, "makeBeams", _part_own_make_beams)  # noqa: B010


class BarTooLong(Exception):
    """A bar music21 would spend minutes on (see `_bounded_best_time_signature`); caught by
    the reader and turned into a sentence, so not a MelodyRNNError."""


_measure_best_time_signature: list[Any] = []  # Measure's own, while it is replaced


def _bounded_best_time_signature(self: Any) -> Any:
    """Measure.bestTimeSignature, refusing a bar of more than MAX_BEATS quarters.

    The translator gives a bar that a long note overfills a time signature of its length; a
    note of 1000 eighths in 6/8 would be a 1000/8 bar, which music21 takes minutes to build.
    """
    quarters = float(self.highestTime)
    if quarters > MAX_BEATS:
        raise BarTooLong(f"a bar of {quarters:g} quarter notes (a note that long) is more "
                         f"than melodyrnn reads; keep notes under {MAX_BEATS} quarters")
    return _measure_best_time_signature[0](self)


def _skip_beams(self: Any, *args: Any, **kwargs: Any) -> None:
    return None


_music21_rebar: list[Any] = []  # music21's reBar, while it is replaced


def rebar_linear(part: Any, *, inPlace: bool = False) -> Any:
    """music21's `abcFormat.translate.reBar`, step for step, in time linear in the bars.

    music21 indexes a fresh iterator over the part's measures for every measure, so a tune
    of 1,000 bars costs a million steps (8,000 notes took 20 s). Here the measures are listed
    once and a measure split off an overfull one is put in the list where the part puts it:
    right after, and visited next, as music21 does; the number of visits stays the count of
    measures at the start, as in music21.
    """
    import copy

    from music21 import common, exceptions21, stream
    from music21.abcFormat.translate import ABCTranslateException

    if not inPlace:
        part = copy.deepcopy(part)
    last_signature = None
    number_shift = 0
    measures = list(part.getElementsByClass(stream.Measure))
    for index in range(len(measures)):
        measure = measures[index]
        if measure.timeSignature is not None:
            last_signature = measure.timeSignature
        if last_signature is None:
            raise ABCTranslateException("No time signature found in this Part")
        bar_end = last_signature.barDuration.quarterLength
        measure.number += number_shift
        if common.opFrac(measure.highestTime) > bar_end:
            first, rest = measure.splitAtQuarterLength(bar_end)
            rest.timeSignature = None
            if last_signature.barDuration.quarterLength != rest.highestTime:
                try:
                    rest.timeSignature = rest.bestTimeSignature()
                except exceptions21.StreamException as e:
                    raise ABCTranslateException(
                        f"Problem with measure {measure.number} ({measure!r}): {e}") from e
                if index != len(measures) - 1 and measures[index + 1].timeSignature is None:
                    measures[index + 1].timeSignature = last_signature
            rest.keySignature = None
            rest.clef = None
            rest.number = first.number + 1
            number_shift += 1
            part.insert(common.opFrac(first.offset + first.highestTime), rest)
            measures.insert(index + 1, rest)
    return None if inPlace else part
