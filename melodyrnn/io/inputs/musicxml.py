"""Read MusicXML files (.musicxml, .xml, compressed .mxl) through music21 into Scores."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from melodyrnn.core.score import Score
from melodyrnn.errors import ReadError
from melodyrnn.io.inputs.music21 import library_reason, score_from_stream


def read_musicxml(path: Path, steps_per_quarter: int,
                  drops: Counter[str] | None = None) -> list[Score]:
    """A MusicXML file (plain or compressed) -> one Score (or one per work of an opus); a
    written form left out is counted in `drops`."""
    from music21 import converter, stream

    try:
        # no pickle cache: music21 would write one per file into its scratch folder
        parsed = converter.parseFile(path, format="musicxml", forceSource=True,
                                     storePickle=False)
    except Exception as exc:  # music21 raises many kinds; none may escape as a crash
        raise ReadError(f"{path}: not readable as MusicXML ({library_reason(exc)})") from exc
    works = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
    scores = []
    for i, work in enumerate(works):
        source = str(path) if len(works) == 1 else f"{path}#{i + 1}"
        try:
            scores.append(score_from_stream(work, steps_per_quarter, source, drops))
        except Exception as exc:
            raise ReadError(f"{source}: cannot be converted ({library_reason(exc)})") from exc
    return scores
