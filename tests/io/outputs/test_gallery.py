"""A list of melodies in Jupyter: a gallery of small scores with players and captions, the
first GALLERY_SHOWN of them, saying how many more there are."""

from __future__ import annotations

import re

import pytest

from melodyrnn.core.melody import Melody, Note
from melodyrnn.io.outputs import notebook
from melodyrnn.io.outputs.notebook import GALLERY_SHOWN, Melodies, Sound

CARD = re.compile(r"<p style=\"margin:0 0 4px 0\"><b>(\d+)</b> ([^<]*)</p>")


def tune(pitch: int) -> Melody:
    return Melody([Note(pitch + i, 4 * i, 4) for i in range(8)], key="C:major",
                  source=f"tune-{pitch}")


@pytest.fixture
def quick_sound(monkeypatch):
    """No synthesis: every melody sounds as a tiny stand-in URI naming its first pitch."""
    def sound(melody, sample_rate=None):
        return Sound(f"data:audio/mpeg;base64,{melody.notes[0].pitch}")
    monkeypatch.setattr(notebook, "melody_sound", sound)


def test_melodies_are_a_list_of_melodies():
    melodies = Melodies([tune(60), tune(62)])
    assert isinstance(melodies, list)
    assert melodies == [tune(60), tune(62)]
    assert melodies[1:] == [tune(62)]


def test_a_gallery_shows_each_tune_with_its_score_player_and_caption(c_major_scale):
    page = Melodies([c_major_scale, tune(62)])._repr_html_()
    assert CARD.findall(page) == [("0", "4/4, C major, 2 bars, 4.0 s"),
                                  ("1", "4/4, C major, 2 bars, 4.0 s")]
    assert page.count("<audio controls") == 2
    assert page.count('<svg style="max-width:100%;height:auto"') == 2  # drawn small
    assert page.count('class="note"') == 16
    assert "more" not in page


def test_a_long_list_shows_the_first_tunes_and_how_many_more(quick_sound):
    page = Melodies(tune(40 + i) for i in range(GALLERY_SHOWN + 3))._repr_html_()
    numbers = [int(n) for n, _ in CARD.findall(page)]
    assert numbers == list(range(GALLERY_SHOWN))
    assert re.findall(r"base64,(\d+)", page) == [str(40 + i) for i in range(GALLERY_SHOWN)]
    assert f"... and 3 more (of {GALLERY_SHOWN + 3})" in page


def test_a_caption_counts_bars_from_the_pickup_and_seconds_as_played(jig):
    # 192 written steps (a 2-step pickup, 15 bars, the 10-step bar that completes it), and
    # 360 played (each part twice, the B part with its endings) at 8 steps a second
    assert notebook.caption(jig) == "6/8, G major, 16 bars, 45.0 s"


def test_an_empty_gallery_says_so():
    assert Melodies()._repr_html_() == "<p>No melodies.</p>"


def test_without_a_renderer_each_card_says_why_and_still_plays(quick_sound, monkeypatch):
    def no_verovio(melody, **options):
        raise notebook.MelodyRNNError("no score renderer: pip install verovio")
    monkeypatch.setattr(notebook, "to_svg", no_verovio)
    page = Melodies([tune(60), tune(61)])._repr_html_()
    assert page.count("(no score: no score renderer: pip install verovio)") == 2
    assert page.count("<audio controls") == 2
