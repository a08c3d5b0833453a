"""Score rendering: what verovio engraves (read back from the SVG), and PNG/PDF from cairosvg."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import pytest

from melodyrnn.core.melody import Melody, Note
from melodyrnn.errors import ConfigError
from melodyrnn.io.outputs import engrave

SVG = "{http://www.w3.org/2000/svg}"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
# SMuFL code points of the glyphs the checks look for
G_CLEF, F_CLEF, SHARP = "E050", "E062", "E262"
TIME_SIG_DIGITS = {3: "E083", 4: "E084", 6: "E086", 8: "E088"}
QUARTER_NOTE_GLYPH = "ECA5"  # metNoteQuarterUp, the note in "♩ = 120"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def groups(root: ET.Element, cls: str) -> list[ET.Element]:
    """verovio's <g class="..."> elements of one kind (note, rest, tie, keySig, ...)."""
    return [el for el in root.iter(f"{SVG}g") if el.get("class") == cls]


def glyphs(root: ET.Element, cls: str) -> list[str]:
    """The SMuFL code points drawn inside the groups of class `cls`, in document order."""
    return [use.get(XLINK_HREF, "")[1:5] for group in groups(root, cls)
            for use in group.iter(f"{SVG}use")]


def measures(root: ET.Element) -> int:
    return len(groups(root, "measure"))


@pytest.fixture
def g_major_waltz() -> Melody:
    """Three bars of 3/4 in G major: beamed eighths, a note tied over the bar, an eighth rest."""
    notes = [Note(67, 0, 4), Note(71, 4, 2), Note(74, 6, 2), Note(78, 8, 6), Note(76, 14, 4),
             Note(74, 20, 4), Note(72, 24, 8), Note(69, 32, 4)]
    return Melody(notes, time_signature=(3, 4), key="G:major", source="waltz")


def sixty_four_bars() -> Melody:
    """64 bars of 4/4 eighth notes, a rising and falling line: 512 notes, no ties."""
    line = [60, 62, 64, 65, 67, 69, 71, 72, 74, 72, 71, 69, 67, 65, 64, 62]
    return Melody([Note(line[i % len(line)], 2 * i, 2) for i in range(512)], key="C:major")


# --- what the SVG shows -----------------------------------------------------------------------

def test_svg_draws_every_note_clef_key_and_meter(c_major_scale):
    root = ET.fromstring(engrave.to_svg(c_major_scale))
    assert len(groups(root, "note")) == 8
    assert glyphs(root, "clef") == [G_CLEF]
    assert glyphs(root, "keySig") == []  # C major: no sharps or flats
    assert glyphs(root, "meterSig") == [TIME_SIG_DIGITS[4], TIME_SIG_DIGITS[4]]
    assert measures(root) == 2


def test_svg_of_waltz_has_its_sharp_tie_and_rest(g_major_waltz):
    root = ET.fromstring(engrave.to_svg(g_major_waltz))
    assert glyphs(root, "keySig") == [SHARP]
    assert glyphs(root, "meterSig") == [TIME_SIG_DIGITS[3], TIME_SIG_DIGITS[4]]
    # F#5 from beat 3 of bar 1 into bar 2 is two noteheads and one tie
    assert len(groups(root, "note")) == len(g_major_waltz) + 1
    assert len(groups(root, "tie")) == 1
    assert len(groups(root, "rest")) == 1  # the eighth rest after E5
    assert measures(root) == 3


def test_svg_of_folk_tune_is_six_eight_with_no_key_accidentals(folk_tune):
    root = ET.fromstring(engrave.to_svg(folk_tune))
    assert glyphs(root, "meterSig") == [TIME_SIG_DIGITS[6], TIME_SIG_DIGITS[8]]
    assert glyphs(root, "keySig") == []  # D dorian has the notes of C major
    assert len(groups(root, "note")) == len(folk_tune)


def test_bass_melody_gets_a_bass_clef():
    low = Melody([Note(p, 4 * i, 4) for i, p in enumerate([36, 40, 43, 48, 43, 40, 36, 31])])
    root = ET.fromstring(engrave.to_svg(low))
    assert glyphs(root, "clef") == [F_CLEF]


def test_title_is_printed_and_music21_credits_are_not(c_major_scale):
    titled = engrave.to_svg(c_major_scale, title="Scale study")
    assert "Scale study" in titled
    assert "Music21" not in titled and "Music21" not in engrave.to_svg(c_major_scale)


@pytest.mark.slow
def test_long_melody_is_one_tall_svg_with_every_bar():
    root = ET.fromstring(engrave.to_svg(sixty_four_bars()))
    assert measures(root) == 64
    assert len(groups(root, "note")) == 512
    assert float(root.get("height", "0").removesuffix("px")) > 1.2 * float(
        root.get("width", "0").removesuffix("px"))


@pytest.mark.slow
def test_pages_beyond_verovios_height_limit_are_stacked(monkeypatch):
    monkeypatch.setattr(engrave, "_MAX_PAGE_HEIGHT", 1500)  # force several pages
    root = ET.fromstring(engrave.to_svg(sixty_four_bars()))
    pages = root.findall(f"{SVG}svg")
    assert len(pages) > 1
    assert measures(root) == 64
    offsets = [float(page.get("y")) for page in pages]
    heights = [float(page.get("height")) for page in pages]
    assert offsets == [sum(heights[:i]) for i in range(len(pages))]  # one under the other
    assert float(root.get("height").removesuffix("px")) == pytest.approx(sum(heights))


# --- the tempo mark: no text in a font cairosvg cannot draw -----------------------------------

def test_verovio_writes_the_tempo_note_as_music_font_text(c_major_scale):
    """The problem being solved: verovio's own SVG puts the note glyph in a <text> whose
    font is a web font that cairosvg ignores, so cairosvg draws an empty box."""
    import verovio

    toolkit = verovio.toolkit()
    toolkit.setOptions({"smuflTextFont": "none"})
    toolkit.loadData(engrave._musicxml(c_major_scale, None))
    raw = toolkit.renderToSVG(1)
    assert chr(int(QUARTER_NOTE_GLYPH, 16)) in raw
    assert 'font-family="Leipzig"' in raw


def test_rendered_svg_has_no_music_font_text_and_outlines_the_tempo_note(c_major_scale):
    svg = engrave.to_svg(c_major_scale)
    root = ET.fromstring(svg)
    text = "".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))
    assert not re.search("[\ue000-\uf8ff]", text)  # no SMuFL private-use characters as text
    assert "Leipzig" not in svg and "@font-face" not in svg
    (tempo,) = groups(root, "tempo")
    (outline,) = tempo.iter(f"{SVG}path")
    glyph_path, _ = engrave._glyph(QUARTER_NOTE_GLYPH)
    assert outline.get("d") == glyph_path
    assert "".join(tempo.itertext()).split() == ["=", "120"]
    # the words moved right of the note instead of printing over it
    (words,) = tempo.iter(f"{SVG}text")
    (note_group,) = (g for g in tempo if g.tag == f"{SVG}g")
    note_x = float(re.match(r"translate\(([\d.]+)", note_group.get("transform")).group(1))
    assert float(words.get("x")) > note_x


# --- PNG and PDF ------------------------------------------------------------------------------

def test_png_is_an_opaque_white_image_at_the_requested_zoom(c_major_scale):
    import numpy as np
    from PIL import Image

    svg_width = float(ET.fromstring(engrave.to_svg(c_major_scale)).get("width").removesuffix("px"))
    data = engrave.to_png(c_major_scale, zoom=2.0)
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5_000
    image = Image.open(io.BytesIO(data)).convert("RGBA")
    assert image.width == round(2 * svg_width)
    assert image.getpixel((0, 0)) == (255, 255, 255, 255)  # white, not transparent black
    dark = int((np.asarray(image)[..., :3].sum(axis=2) < 200).sum())
    assert dark > 1_000  # the staff and notes are drawn


@pytest.mark.slow
def test_pdf_of_a_long_melody_has_several_a4_pages():
    # half the page width in verovio units: notes twice as big, the 64 bars need pages
    data = engrave.to_pdf(sixty_four_bars(), title="Long", page_width=1050)
    assert data.startswith(b"%PDF")
    pages = re.findall(rb"/Type /Page\b", data)
    assert len(pages) >= 2
    for width, height in re.findall(rb"/MediaBox \[ 0 0 ([\d.]+) ([\d.]+) \]", data):
        assert float(width) == pytest.approx(595.3, abs=0.5)
        assert float(height) == pytest.approx(841.9, abs=0.5)


def test_write_helpers_write_the_files(tmp_path, c_major_scale):
    svg = engrave.write_svg(c_major_scale, tmp_path / "s.svg")
    png = engrave.write_png(c_major_scale, tmp_path / "s.png")
    pdf = engrave.write_pdf(c_major_scale, tmp_path / "s.pdf")
    assert svg.read_text(encoding="utf-8").startswith("<svg")
    assert png.read_bytes().startswith(PNG_SIGNATURE)
    assert pdf.read_bytes().startswith(b"%PDF")


def test_bad_layout_values_are_refused(c_major_scale):
    with pytest.raises(ConfigError, match="scale 0"):
        engrave.to_svg(c_major_scale, scale=0)
    with pytest.raises(ConfigError, match="page width 50"):
        engrave.to_svg(c_major_scale, page_width=50)


def test_empty_melody_renders_an_empty_bar():
    root = ET.fromstring(engrave.to_svg(Melody([])))
    assert groups(root, "note") == [] and measures(root) == 1


# --- the written form -------------------------------------------------------------------------

REPEAT_DOT = "E044"


def test_jig_score_shows_its_pickup_bar_repeats_and_volta_brackets(jig):
    root = ET.fromstring(engrave.to_svg(jig))
    assert len(groups(root, "note")) == len(jig)  # the written notes, each once
    assert groups(root, "rest") == []  # the pickup bar holds only the pickup
    assert measures(root) == 18  # pickup, 8 bars, the split bar's rest, 8 bars
    assert glyphs(root, "barLine").count(REPEAT_DOT) == 6  # :| |: :|, two dots each
    brackets = groups(root, "voltaBracket")
    assert ["".join(b.itertext()).strip() for b in brackets] == ["1", "2"]
    # the first ending's bracket closes with a hook; the last one is left open
    assert [len(list(b.iter(f"{SVG}path"))) for b in brackets] == [3, 2]


def test_pickup_without_form_is_a_short_first_bar():
    notes = [Note(67, 8, 4)] + [Note(72, 12 + 4 * i, 4) for i in range(5)]  # G | c c c | c c
    root = ET.fromstring(engrave.to_svg(Melody(notes, time_signature=(3, 4), pickup_steps=4)))
    assert measures(root) == 3 and groups(root, "rest") == []
    assert groups(root, "voltaBracket") == [] and REPEAT_DOT not in glyphs(root, "barLine")
