"""A melody in Jupyter: its score as an image with an audio player under it."""

from __future__ import annotations

import base64
import html

from melodyrnn.core.melody import Melody
from melodyrnn.errors import MelodyRNNError
from melodyrnn.io.outputs import audio
from melodyrnn.io.outputs.engrave import to_svg


def melody_repr_html(melody: Melody, sample_rate: int = 22050) -> str:
    """HTML for a notebook: the score as inline SVG and an audio player of the melody."""

    parts = [f"<div><p><code>{html.escape(repr(melody))}</code></p>"]
    try:
        parts.append(f'<div style="overflow-x:auto">{to_svg(melody)}</div>')
    except MelodyRNNError as exc:  # no verovio: still show the rest
        parts.append(f"<p>(no score: {html.escape(str(exc))})</p>")
    # 22.05 kHz: half the size of CD rate in the notebook file, still a clear piano
    wav = audio.to_wav_bytes(audio.to_wav_array(melody, sample_rate), sample_rate)
    parts.append('<audio controls preload="none" src="data:audio/wav;base64,'
                 f'{base64.b64encode(wav).decode("ascii")}"></audio></div>')
    return "\n".join(parts)
