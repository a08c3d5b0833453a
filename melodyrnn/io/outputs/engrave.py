"""Engrave a melody as a score: SVG from verovio (via MusicXML), PNG and PDF from that SVG.

verovio lays the music out; cairosvg turns its SVG into PNG and PDF. cairosvg cannot use the
music font verovio embeds as a web font, and verovio writes some symbols as text in that
font (the note in a tempo mark such as "♩ = 96"), which cairosvg would draw as an empty box.
So every music-font character in the SVG's text is replaced by the glyph's outline, taken from
the font data verovio ships: the SVG needs no music font at all, in a browser or in cairo.

`to_svg`, `to_png` and `to_pdf` are pure; `write_*` write a file (`io.write_melody` makes
that atomic). verovio and cairosvg are imported inside the functions that use them.
"""

from __future__ import annotations

import importlib
import io
import re
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from typing import Any

from melodyrnn.core.melody import Melody
from melodyrnn.errors import ConfigError, MelodyRNNError
from melodyrnn.io.outputs.musicxml import to_musicxml

MUSIC_FONT = "Leipzig"  # verovio's default; its glyph outlines ship in verovio's data folder
PAGE_WIDTH = 2100  # verovio units: tenths of a millimetre at scale 100, so A4 is 2100 x 2970
SCALE = 40  # verovio percent: a 2100-wide page becomes an 840-pixel-wide SVG
_A4_HEIGHT_RATIO = 297 / 210
_MAX_PAGE_HEIGHT = 60_000  # verovio's limit; a longer score is several pages stacked
_PDF_POINTS_PER_PIXEL = 0.75  # cairosvg's CSS pixels (96 dpi) in PDF points (72 dpi)
_A4_WIDTH_POINTS = 595.276
_SVG_NS = "http://www.w3.org/2000/svg"
_XLINK_NS = "http://www.w3.org/1999/xlink"
ET.register_namespace("", _SVG_NS)
ET.register_namespace("xlink", _XLINK_NS)


def _musicxml(melody: Melody, title: str | None) -> str:
    """The melody as MusicXML text, with `title` as its only heading (no 'Music21' credits)."""
    root = ET.fromstring(to_musicxml(melody).encode("utf-8"))
    # music21 fills in "Music21 Fragment" and composer "Music21"; verovio would print them.
    for tag in ("work", "movement-title", "movement-number", "credit"):
        for el in root.findall(tag):
            root.remove(el)
    for identification in root.findall("identification"):
        for creator in identification.findall("creator"):
            identification.remove(creator)
    if title:
        movement_title = ET.Element("movement-title")
        movement_title.text = title
        root.insert(0, movement_title)
    return ET.tostring(root, encoding="unicode")


def _engrave(melody: Melody, title: str | None, page_width: int, page_height: int,
             scale: int, for_print: bool) -> list[str]:
    """verovio's SVG of every page, music-font text already turned into outlines.

    On screen a page is cropped to the music; in print it keeps its size and later pages
    carry page numbers.
    """
    verovio = _require("verovio")
    if not 100 <= page_width <= 100_000:
        raise ConfigError(f"score page width {page_width} must be 100-100000 verovio units")
    if not 1 <= scale <= 1000:
        raise ConfigError(f"score scale {scale} must be 1-1000 percent")
    verovio.enableLog(verovio.LOG_OFF)
    toolkit = verovio.toolkit()
    toolkit.setResourcePath(_resource_path())  # in any thread (see _resource_path)
    toolkit.setOptions({
        "pageWidth": page_width,
        "pageHeight": page_height,
        "adjustPageHeight": not for_print,
        "adjustPageWidth": not for_print,  # a 4-bar tune is not a page wide
        "scale": scale,
        "breaks": "auto",
        "header": "auto" if title or for_print else "none",
        "footer": "none",  # no "Engraved by Verovio" line
        "font": MUSIC_FONT,
        "smuflTextFont": "none",  # glyphs become outlines below; no 100 kB web font
    })
    if not toolkit.loadData(_musicxml(melody, title)):
        raise MelodyRNNError(f"verovio could not lay out {melody!r}")
    pages = [toolkit.renderToSVG(page) for page in range(1, toolkit.getPageCount() + 1)]
    return [_outline_music_text(svg) for svg in pages]


def _outline_music_text(svg: str) -> str:
    """Replace music-font characters at the start of a <text> by the glyphs' outlines.

    verovio writes e.g. a tempo mark as <text x y><tspan font-family="Leipzig">(note glyph)
    </tspan> = 96</text>. The glyph becomes a <path> at the text's origin, and the text
    moves right by the glyph's advance width, as a browser with the font would place it.
    """
    root = ET.fromstring(svg)
    parents = {child: parent for parent in root.iter() for child in parent}
    for text in list(root.iter(f"{{{_SVG_NS}}}text")):
        x, y, advance = float(text.get("x", 0)), float(text.get("y", 0)), 0.0
        for span in list(text.iter(f"{{{_SVG_NS}}}tspan")):
            chars = span.text or ""
            if span.get("font-family") != MUSIC_FONT:
                if chars.strip():
                    break  # glyphs after ordinary text: not made by our scores
                continue
            font_size = float(span.get("font-size", "0").removesuffix("px"))
            outline, width = _glyph_run(chars, font_size / _units_per_em())
            outline.set("transform", f"translate({x + advance:g},{y:g})")
            parent = parents[text]
            parent.insert(list(parent).index(text), outline)
            advance += width
            parents[span].remove(span)
        if advance:
            text.set("x", f"{x + advance:g}")
    # width and height give the size; viewBox lets a notebook or browser scale it down
    root.set("viewBox", f"0 0 {_size_px(root, 'width'):g} {_size_px(root, 'height'):g}")
    return ET.tostring(root, encoding="unicode")


def _glyph_run(chars: str, scale: float) -> tuple[ET.Element, float]:
    """A <g> drawing `chars` in the music font at `scale` user units per font unit, and the
    run's width in user units."""
    group, pen = ET.Element(f"{{{_SVG_NS}}}g"), 0.0
    for char in chars:
        path_d, advance = _glyph(f"{ord(char):04X}")
        ET.SubElement(group, f"{{{_SVG_NS}}}path", {
            "d": path_d, "transform": f"translate({pen * scale:g},0) scale({scale:g},{-scale:g})"})
        pen += advance
    return group, pen * scale


@cache
def _units_per_em() -> float:
    root = ET.parse(Path(_resource_path()) / f"{MUSIC_FONT}.xml").getroot()
    return float(root.get("units-per-em", 1000))


@cache
def _glyph(code: str) -> tuple[str, float]:
    """(SVG path data in font units with y up, advance width in font units) of a glyph."""
    folder = Path(_resource_path())
    glyph_file = folder / MUSIC_FONT / f"{code}.xml"
    if not glyph_file.is_file():
        raise MelodyRNNError(f"verovio's {MUSIC_FONT} font has no glyph U+{code} ({glyph_file})")
    path_d = ET.parse(glyph_file).getroot().find(".//{*}path")
    metrics = ET.parse(folder / f"{MUSIC_FONT}.xml").getroot().find(f"g[@c='{code}']")
    advance = float(metrics.get("h-a-x", metrics.get("w", 0))) if metrics is not None else 0.0
    return (path_d.get("d", "") if path_d is not None else ""), advance


@cache
def _resource_path() -> str:
    # verovio's package sets its data folder as the default of the importing thread only; a
    # toolkit made in another thread looks elsewhere and cannot lay out a score
    return str(Path(_require("verovio").__file__).parent / "data")


def _require(module: str) -> Any:
    """Import a rendering library, or say how to install it."""
    try:
        return importlib.import_module(module)
    except (ImportError, OSError) as exc:  # cairocffi raises OSError without libcairo
        raise MelodyRNNError(
            f"drawing a score needs {module}, which cannot be imported ({exc}); install it with "
            f"`pip install {module}` (cairosvg also needs the Cairo library: "
            "apt-get install libcairo2; macOS: brew install cairo)") from exc


_SIZE_RE = re.compile(r"([\d.]+)")


def _size_px(svg_root: ET.Element, attribute: str) -> float:
    match = _SIZE_RE.match(svg_root.get(attribute, "0"))
    return float(match.group(1)) if match else 0.0


def _stack(pages: list[str]) -> str:
    """One SVG with the pages one below the other (a single page is returned as it is)."""
    if len(pages) == 1:
        return pages[0]
    outer = ET.Element(f"{{{_SVG_NS}}}svg", {"version": "1.1"})
    width = height = 0.0
    for page in pages:
        page_root = ET.fromstring(page)
        page_width, page_height = _size_px(page_root, "width"), _size_px(page_root, "height")
        page_root.set("y", f"{height:g}")
        page_root.set("width", f"{page_width:g}")
        page_root.set("height", f"{page_height:g}")
        outer.append(page_root)
        width, height = max(width, page_width), height + page_height
    outer.set("width", f"{width:g}px")
    outer.set("height", f"{height:g}px")
    outer.set("viewBox", f"0 0 {width:g} {height:g}")
    return ET.tostring(outer, encoding="unicode")


def to_svg(melody: Melody, *, title: str | None = None, page_width: int = PAGE_WIDTH,
           scale: int = SCALE) -> str:
    """The melody's score as one SVG document, as tall as the music needs.

    `page_width` is in verovio units (2100 is A4 width; narrower means fewer bars per line
    and bigger notes); `scale` is the SVG's size in percent of those units.
    """
    pages = _engrave(melody, title, page_width, _MAX_PAGE_HEIGHT, scale, for_print=False)
    return _stack(pages)


def to_png(melody: Melody, *, title: str | None = None, page_width: int = PAGE_WIDTH,
           scale: int = SCALE, zoom: float = 2.0) -> bytes:
    """The score as a PNG image on white, `zoom` pixels per SVG pixel."""
    svg = to_svg(melody, title=title, page_width=page_width, scale=scale)
    return _require("cairosvg").svg2png(bytestring=svg.encode(), scale=zoom,
                                        background_color="white")


def to_pdf(melody: Melody, *, title: str | None = None, page_width: int = PAGE_WIDTH) -> bytes:
    """The score as a PDF of A4 pages (`page_width` verovio units span the page's width)."""
    page_height = round(page_width * _A4_HEIGHT_RATIO)
    pages = _engrave(melody, title, page_width, page_height, SCALE, for_print=True)
    try:
        return _pdf_pages(pages)
    except (AttributeError, TypeError):  # cairosvg internals moved: one tall page instead
        return _require("cairosvg").svg2pdf(bytestring=_stack(pages).encode(),
                                            background_color="white")


def _pdf_pages(pages: list[str]) -> bytes:
    """Several SVG pages as one PDF, each drawn on its own A4-wide page.

    cairosvg writes one page per document; drawing each page's SVG onto a shared cairo PDF
    surface (a subclass of cairosvg's PDFSurface that reuses it, an internal of cairosvg 2.x)
    gives a printable multi-page file.
    """
    cairocffi = _require("cairocffi")
    cairosvg_parser, cairosvg_surface = _require("cairosvg.parser"), _require("cairosvg.surface")
    buffer = io.BytesIO()
    shared = cairocffi.PDFSurface(buffer, 1, 1)
    # named with its type: mypy takes an Any-typed name as a base, not an attribute of one
    surface_class: Any = cairosvg_surface.PDFSurface

    class _SharedPDFSurface(surface_class):
        def _create_surface(self, width: float, height: float) -> tuple[Any, float, float]:
            shared.set_size(width, height)
            return shared, width, height

    for page in pages:
        tree = cairosvg_parser.Tree(bytestring=page.encode())
        surface = _SharedPDFSurface(tree, None, 96, output_width=_A4_WIDTH_POINTS
                                    / _PDF_POINTS_PER_PIXEL, background_color="white")
        surface.context.show_page()
    shared.finish()
    return buffer.getvalue()


def write_svg(melody: Melody, path: str | Path, *, title: str | None = None,
              page_width: int = PAGE_WIDTH, scale: int = SCALE) -> Path:
    """Write the score as SVG; returns the path."""
    path = Path(path)
    path.write_text(to_svg(melody, title=title, page_width=page_width, scale=scale),
                    encoding="utf-8")
    return path


def write_png(melody: Melody, path: str | Path, *, title: str | None = None,
              page_width: int = PAGE_WIDTH, scale: int = SCALE, zoom: float = 2.0) -> Path:
    """Write the score as a PNG image; returns the path."""
    path = Path(path)
    path.write_bytes(to_png(melody, title=title, page_width=page_width, scale=scale,
                            zoom=zoom))
    return path


def write_pdf(melody: Melody, path: str | Path, *, title: str | None = None,
              page_width: int = PAGE_WIDTH) -> Path:
    """Write the score as a PDF of A4 pages; returns the path."""
    path = Path(path)
    path.write_bytes(to_pdf(melody, title=title, page_width=page_width))
    return path
