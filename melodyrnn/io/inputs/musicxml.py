"""Read MusicXML files (.musicxml, .xml, compressed .mxl) through music21 into Scores.

The file is read here, within the limits of `core.limits`, and music21 is handed the XML: a
compressed file is unpacked by a bounded read (a member's declared size can lie), so a 1 MB
archive that unzips to gigabytes stops at `max_unzipped_bytes`.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any
from xml.etree import ElementTree as ET

from melodyrnn.core.limits import limit, over_limit
from melodyrnn.core.score import Score
from melodyrnn.errors import MelodyRNNError, ReadError
from melodyrnn.io.inputs.files import MAX_BEATS, check_track_size, read_input_bytes
from melodyrnn.io.inputs.music21 import library_reason, score_from_stream

_ZIP_MAGIC = b"PK\x03\x04"
_CHUNK_BYTES = 1 << 20
_SCORE_SUFFIXES = (".musicxml", ".xml", ".mxl")


def read_musicxml(path: Path, steps_per_quarter: int,
                  drops: Counter[str] | None = None) -> list[Score]:
    """A MusicXML file (plain or compressed) -> one Score (or one per work of an opus); a
    written form left out is counted in `drops`."""
    from music21 import stream

    data = read_input_bytes(path, "MusicXML file")
    if data.startswith(_ZIP_MAGIC):
        data = _unzip_score(path, data)
    parsed = _parse(path, data)
    works = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
    scores = []
    for i, work in enumerate(works):
        source = str(path) if len(works) == 1 else f"{path}#{i + 1}"
        try:
            scores.append(score_from_stream(work, steps_per_quarter, source, drops))
        except MelodyRNNError:
            raise  # already a sentence naming the file (a part over a limit)
        except Exception as exc:
            raise ReadError(f"{source}: cannot be converted ({library_reason(exc)})") from exc
    return scores


def _parse(path: Path, data: bytes) -> Any:
    """MusicXML bytes -> a music21 Score; any failure is a ReadError naming `path`."""
    from music21 import stream
    from music21.musicxml import xmlToM21

    try:
        # expat refuses entity expansion bombs; it fetches no external entities
        root = ET.fromstring(data)
        if root.tag != "score-partwise":
            raise ReadError(f"{path}: not readable as MusicXML (the root element is "
                            f"<{root.tag}>, not <score-partwise>); re-save it as partwise "
                            "MusicXML")
        _check_document(path, root)
        parsed = stream.Score()
        xmlToM21.MusicXMLImporter().xmlRootToScore(root, parsed)
    except MelodyRNNError:
        raise
    except Exception as exc:  # music21 and ElementTree raise many kinds; none may escape
        raise ReadError(f"{path}: not readable as MusicXML ({library_reason(exc)})") from exc
    return parsed


def _check_document(path: Path, root: ET.Element) -> None:
    """Refuse, before music21 builds anything, a part of more notes than one melody may hold
    and a time signature of more beats than `core.meter` reads (music21 would take minutes
    to build it; see `io.inputs.files.MAX_BEATS`)."""
    for number, part in enumerate(root.iter("part"), start=1):
        notes = sum(note.find("rest") is None for note in part.iter("note"))
        check_track_size(f"{path}: part {number}", notes, 0)
    for beats in root.iter("beats"):
        text = (beats.text or "").strip()
        if sum(int(n) for n in re.findall(r"\d+", text)) > MAX_BEATS:
            raise ReadError(f"{path}: a time signature of {text[:40]} beats is more than the "
                            f"{MAX_BEATS} a bar that melodyrnn reads; write a meter of "
                            f"1-{MAX_BEATS} beats")


def _unzip_score(path: Path, data: bytes) -> bytes:
    """The score document of a compressed MusicXML file, read no further than the limit."""
    most = limit("max_unzipped_bytes")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            declared = sum(max(m.file_size, 0) for m in members)
            if declared > most:
                raise ReadError(over_limit("max_unzipped_bytes", declared,
                                           f"{path} (unzipped)"))
            member = _score_member(archive, members, most, path)
            if member is None:
                raise ReadError(f"{path}: compressed MusicXML without a score inside (no "
                                ".musicxml or .xml file in the archive)")
            return _read_member(archive, member, most, path)
    except MelodyRNNError:
        raise
    except Exception as exc:  # BadZipFile, a bad CRC, an unknown compression, a truncated file
        raise ReadError(f"{path}: not readable as compressed MusicXML "
                        f"({library_reason(exc)})") from exc


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, most: int,
                 path: Path) -> bytes:
    """One member's bytes, decompressed a chunk at a time and refused past `most` bytes."""
    chunks, size = [], 0
    with archive.open(member) as stream:
        while chunk := stream.read(_CHUNK_BYTES):
            size += len(chunk)
            if size > most:  # the archive declared less than it holds
                raise ReadError(f"{path} unzips to more than the limit of {most:,} bytes "
                                "(decompressed size of one .mxl file); set "
                                "MELODYRNN_MAX_UNZIPPED_BYTES to allow more")
            chunks.append(chunk)
    return b"".join(chunks)


def _score_member(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], most: int,
                  path: Path) -> zipfile.ZipInfo | None:
    """The archive member holding the score: the container's root file, else (as music21
    picks) the first .musicxml or .xml file outside META-INF."""
    names = {m.filename: m for m in members}
    container = names.get("META-INF/container.xml")
    if container is not None:
        try:
            root = ET.fromstring(_read_member(archive, container, most, path))
            for element in root.iter():
                if element.tag.rpartition("}")[2] == "rootfile" and \
                        element.get("full-path") in names:
                    return names[element.attrib["full-path"]]
        except ET.ParseError:
            pass  # a broken container: fall back on the first score file
    return next((m for m in members if "META-INF" not in m.filename and not m.is_dir() and
                 (PurePosixPath(m.filename).suffix.lower() in _SCORE_SUFFIXES or
                  m.filename == ".xml")), None)
