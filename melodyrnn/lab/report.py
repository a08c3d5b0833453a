"""`report.html`: every experiment of a lab folder on one page, plots inlined.

The page is one self-contained file (the PNGs are embedded as data URIs), so it can be mailed
or put online as it is; it is rebuilt from the JSON files of the folder (`lab report`), so it
never needs a network to be trained again. Each experiment shows its reading (the sentences
computed from its numbers), its plots, a table of its single-valued numbers, its settings, and
a link to its JSON with every number.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from melodyrnn._files import atomic_write_text
from melodyrnn.errors import MelodyRNNError
from melodyrnn.lab.results import LabResult, read_result

REPORT = "report.html"
MAX_TABLE_ROWS = 40
MAX_INLINE_LIST = 8  # lists up to this long are shown in the table, longer ones only in JSON

_STYLE = """
body{font-family:system-ui,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;
color:#222;line-height:1.45}
h1{font-size:1.6rem}h2{margin-top:2.5rem;border-bottom:1px solid #ccc}
img{max-width:100%;border:1px solid #ddd}figure{margin:1rem 0}
figcaption{font-size:.85rem;color:#666}
table{border-collapse:collapse;font-size:.85rem}td,th{padding:.15rem .6rem;text-align:left;
border-bottom:1px solid #eee}td.v{font-family:ui-monospace,monospace}
.reading{background:#f6f8fa;padding:.6rem 1rem;border-left:3px solid #4a7}
pre{font-size:.8rem;background:#f6f8fa;padding:.5rem;overflow:auto}
"""


def write_report(out: Path, results: list[LabResult], seconds: float | None = None) -> Path:
    """Write OUT/report.html for `results` (each in OUT/NAME/); its path."""
    if not results:
        raise MelodyRNNError(f"{out} holds no experiment results (NAME/NAME.json) to report; "
                             "run `melodyrnn lab all --out " + str(out) + "` first")
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8>"
             f"<title>melodyrnn lab</title><style>{_STYLE}</style></head><body>",
             "<h1>melodyrnn lab: the lessons of recurrent networks, measured on melodies</h1>",
             _introduction(results, seconds), _contents(results)]
    parts += [_section(out, number, result) for number, result in enumerate(results, 1)]
    parts.append("</body></html>\n")
    return atomic_write_text(out / REPORT, "\n".join(parts))


def read_results(out: Path, order: tuple[str, ...]) -> list[LabResult]:
    """The results found in OUT/NAME/NAME.json, in `order`."""
    return [read_result(out / name / f"{name}.json") for name in order
            if (out / name / f"{name}.json").is_file()]


def _introduction(results: list[LabResult], seconds: float | None) -> str:
    first = results[0].provenance
    data = first.get("data", {})
    notes = data.get("notes", {})
    melodies = data.get("melodies", {})
    total = seconds if seconds is not None else sum(r.seconds for r in results)
    versions = ", ".join(f"{k} {first[k]}" for k in ("melodyrnn", "torch", "numpy", "python")
                         if k in first)
    return ("<p>" + html.escape(
        f"Data: {data.get('corpus', '?')} ({data.get('path', '?')}), "
        f"{melodies.get('train', '?')} training melodies ({notes.get('train', '?')} notes) and "
        f"{melodies.get('valid', '?')} valid melodies ({notes.get('valid', '?')} notes), "
        f"vocabulary of {data.get('vocab_size', '?')} tokens. Seed {first.get('seed', '?')}; "
        f"{len(results)} experiment{'s' * (len(results) != 1)} in {total / 60:.1f} minutes "
        f"on {first.get('torch_threads', '?')} CPU threads, {first.get('date', '')}; "
        f"{versions}.") + "</p><p>" + html.escape(
        "Bits per note: the total cross-entropy of a melody's tokens (pitch, duration, rests, "
        "bar lines and the rest of its encoding) in bits, divided by its number of notes, "
        "measured on the valid split.") + "</p>")


def _contents(results: list[LabResult]) -> str:
    items = "".join(f'<li><a href="#{html.escape(r.name)}">{html.escape(r.title)}</a></li>'
                    for r in results)
    return f"<ol>{items}</ol>"


def _section(out: Path, number: int, result: LabResult) -> str:
    name = html.escape(result.name)
    parts = [f'<section id="{name}"><h2>{number}. {html.escape(result.title)}</h2>',
             f"<p><code>melodyrnn lab {name}</code>, {result.seconds:.0f} s</p>",
             '<div class="reading">' + "".join(f"<p>{html.escape(s)}</p>"
                                                for s in result.reading) + "</div>"]
    for plot in result.plots:
        parts.append(_figure(out / result.name / plot, f"{result.name}/{plot}"))
    rows = list(_scalars(result.numbers))
    if rows:
        shown = rows[:MAX_TABLE_ROWS]
        more = (f"<p>{len(rows) - len(shown)} more in the JSON.</p>"
                if len(rows) > len(shown) else "")
        parts.append("<table><tr><th>number</th><th>value</th></tr>" + "".join(
            f'<tr><td>{html.escape(k)}</td><td class="v">{html.escape(v)}</td></tr>'
            for k, v in shown) + "</table>" + more)
    parts.append("<details><summary>settings</summary><pre>"
                 + html.escape(json.dumps(result.settings, indent=1)) + "</pre></details>")
    parts.append(f'<p>Every number: <a href="{name}/{name}.json">{name}/{name}.json</a></p>'
                 "</section>")
    return "\n".join(parts)


def _figure(path: Path, caption: str) -> str:
    if not path.is_file():
        return f"<p>({html.escape(caption)} is missing)</p>"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _scalars(numbers: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted name, shown value) of every single number, string or short list in `numbers`."""
    if isinstance(numbers, dict):
        for key, value in numbers.items():
            yield from _scalars(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(numbers, list):
        if len(numbers) <= MAX_INLINE_LIST and all(not isinstance(v, dict | list)
                                                    for v in numbers):
            yield prefix, ", ".join(_shown(v) for v in numbers)
    else:
        yield prefix, _shown(numbers)


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "n/a" if value is None else str(value)
