"""Melodies in Jupyter: a melody's score with an audio player under it, and a gallery of many.

The audio is a small MP3 in a data URI (32 kbit/s mono at 22.05 kHz, about 4 KB a second,
`io.outputs.mp3`), which every common browser plays. Where MP3 cannot be written, an 8-bit
WAV at 11.025 kHz stands in (11 KB a second) and the view says so in a line. Synthesis runs
quietly: its Python warnings and whatever the synth's C library prints are kept out of the
notebook, and the one thing worth knowing (no FluidSynth, so the plain synth played) is a
small line of text in the view.
"""

from __future__ import annotations

import base64
import contextlib
import html
import math
import os
import re
import sys
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from melodyrnn.core.melody import Melody
from melodyrnn.errors import MelodyRNNError
from melodyrnn.io.outputs import audio, mp3
from melodyrnn.io.outputs.engrave import PAGE_WIDTH, to_svg
from melodyrnn.io.outputs.midi import as_played

MP3_RATE = 22050  # MPEG-2 Layer III: a clear piano up to about 8 kHz
MP3_KBPS = 32
WAV_RATE = 11025  # the stand-in WAV: 8-bit samples at a quarter of CD rate
GALLERY_SHOWN = 12  # tunes a gallery shows; it says how many more there are
GALLERY_SCALE = 25  # verovio percent for a gallery's small scores (a melody's own view: 40)
_NOTE_STYLE = "font-size:smaller;color:#666;margin:2px 0"


@dataclass(frozen=True)
class Sound:
    """A melody's audio for a page: its data URI and lines to show beside the player."""

    uri: str
    notes: tuple[str, ...] = ()


@contextlib.contextmanager
def _quiet() -> Iterator[list[warnings.WarningMessage]]:
    """Record Python warnings and drop what C libraries write to stderr (file descriptor 2),
    for the duration; yields the recorded warnings.

    The descriptor is the process's own, so another thread's stderr output at the same
    moment is dropped too: a notebook synthesizes one melody at a time.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no real descriptor 2 (an embedded interpreter)
            yield caught
            return
        try:
            with open(os.devnull, "wb") as devnull:
                os.dup2(devnull.fileno(), 2)
                yield caught
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def melody_sound(melody: Melody, sample_rate: int | None = None) -> Sound:
    """The melody's audio as a data URI (MP3 where it can be written, else 8-bit WAV), with
    a line saying which synth played it when it was not FluidSynth."""
    problem = mp3.mp3_problem()
    rate = sample_rate or (WAV_RATE if problem else MP3_RATE)
    with _quiet() as caught:
        samples = audio.to_wav_array(melody, rate)
    notes = [f"Played by the plain built-in synth: {w.message}" for w in caught
             if issubclass(w.category, audio.SynthFallbackWarning)][:1]
    if problem is None and rate in mp3.MP3_SAMPLE_RATES:
        with _quiet():
            data = mp3.to_mp3_bytes(samples, rate, MP3_KBPS)
        mime = "audio/mpeg"
    else:
        data = audio.to_wav_bytes(samples, rate, sample_width=1)
        mime = "audio/wav"
        if problem:
            notes.append(f"Audio as 8-bit WAV, {len(data) // 1024} KB (an MP3 would be "
                         f"about a third of that, but {problem}; pip install soundfile "
                         "brings a libsndfile that writes MP3).")
    return Sound(f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}", tuple(notes))


def _score_html(melody: Melody, scale: int | None = None) -> str:
    """The engraved score as inline SVG, or a sentence saying why there is none."""
    try:
        svg = to_svg(melody) if scale is None else to_svg(melody, page_width=PAGE_WIDTH,
                                                          scale=scale)
    except MelodyRNNError as exc:  # no verovio: still show the rest
        return f"<p>(no score: {html.escape(str(exc))})</p>"
    if scale is not None:  # a small score fits its card: drawn to the card's width
        svg = re.sub(r"<svg\b", '<svg style="max-width:100%;height:auto"', svg, count=1)
    return f'<div style="overflow-x:auto">{svg}</div>'


def _player(sound: Sound) -> str:
    lines = "".join(f'<p style="{_NOTE_STYLE}">{html.escape(n)}</p>' for n in sound.notes)
    return f'<audio controls preload="none" src="{sound.uri}"></audio>{lines}'


def melody_repr_html(melody: Melody, sample_rate: int | None = None) -> str:
    """HTML for a notebook: the melody's summary, its score as inline SVG and a player."""
    return "\n".join([f"<div><p><code>{html.escape(repr(melody))}</code></p>",
                      _score_html(melody), _player(melody_sound(melody, sample_rate)),
                      "</div>"])


def caption(melody: Melody) -> str:
    """A line about a melody for a gallery: meter, key, bars and seconds as played."""
    numerator, denominator = melody.time_signature
    bars = math.ceil((melody.end_step - melody.start_step) / melody.steps_per_bar)
    seconds = as_played(melody).seconds
    key = str(melody.key).replace(":", " ") if melody.key else "key unknown"
    return (f"{numerator}/{denominator}, {key}, {bars} bar{'s' * (bars != 1)}, "
            f"{seconds:.1f} s")


def gallery_repr_html(melodies: Iterable[Melody], shown: int = GALLERY_SHOWN) -> str:
    """HTML for a notebook: the first `shown` melodies as small cards (score, player,
    caption) in a grid, and how many more there are."""
    melodies = list(melodies)
    if not melodies:
        return "<p>No melodies.</p>"
    cards, synth_notes = [], []
    for number, melody in enumerate(melodies[:shown]):
        sound = melody_sound(melody)
        synth_notes += [n for n in sound.notes if n not in synth_notes]
        cards.append(
            '<div style="border:1px solid #ddd;border-radius:4px;padding:6px;min-width:0">'
            f'<p style="margin:0 0 4px 0"><b>{number}</b> {html.escape(caption(melody))}</p>'
            f"{_score_html(melody, GALLERY_SCALE)}"
            f'<audio controls preload="none" style="width:100%" src="{sound.uri}"></audio>'
            "</div>")
    more = len(melodies) - len(cards)
    tail = [f"<p>... and {more} more (of {len(melodies)}); show one with "
            f"<code>melodies[{len(cards)}]</code>.</p>"] if more > 0 else []
    lines = [f'<p style="{_NOTE_STYLE}">{html.escape(n)}</p>' for n in synth_notes]
    grid = ('<div style="display:grid;grid-template-columns:repeat(auto-fill,'
            'minmax(320px,1fr));gap:8px">' + "".join(cards) + "</div>")
    return "\n".join([f"<div><p>{len(melodies)} melod{'y' if len(melodies) == 1 else 'ies'}"
                      "</p>", grid, *tail, *lines, "</div>"])


class Melodies(list[Melody]):
    """A list of melodies that Jupyter shows as a gallery (`gallery_repr_html`)."""

    def _repr_html_(self) -> str:
        return gallery_repr_html(self)

