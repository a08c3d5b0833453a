"""Notebook display: a melody's HTML holds its engraved score and a playable WAV."""

from __future__ import annotations

import base64
import io
import re
import wave

import pytest

from melodyrnn.io.outputs import notebook


# without fluidsynth the plain synth plays, with a warning
@pytest.mark.filterwarnings("ignore::melodyrnn.io.outputs.audio.SynthFallbackWarning")
def test_notebook_html_holds_the_score_and_a_playable_wav(c_major_scale):
    page = notebook.melody_repr_html(c_major_scale, sample_rate=16000)
    assert page.count('class="note"') == 8
    match = re.search(r'<audio controls[^>]* src="data:audio/wav;base64,([A-Za-z0-9+/=]+)"',
                      page)
    assert match
    with wave.open(io.BytesIO(base64.b64decode(match.group(1)))) as wav:
        assert wav.getframerate() == 16000
        assert wav.getnframes() == 16000 * 5  # 4 s of scale, 1 s of ring-out
