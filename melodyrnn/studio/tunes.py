"""The tunes and uploads of one studio: files in a folder the server owns, under made-up ids.

Nothing the page sends becomes a path: a tune or an upload is addressed by an id this module
makes (`new_id`), checked against `ID_PATTERN` before any lookup, and its files are named by
the studio (`tune.mid`, `upload.abc`). The oldest tunes are dropped past `MAX_TUNES`.
"""

from __future__ import annotations

import re
import secrets
import shutil
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from melodyrnn.core.melody import Melody
from melodyrnn.errors import MelodyRNNError
from melodyrnn.io import READ_SUFFIXES, write_melody

ID_PATTERN = re.compile(r"[0-9a-f]{16}")
MAX_TUNES = 200  # kept since the studio started; older ones are dropped with their files
WRITTEN_AT_ONCE = (".mid", ".svg", ".wav")  # what the page shows at once
DOWNLOADS = {"mid": ".mid", "musicxml": ".musicxml", "png": ".png", "pdf": ".pdf",
             "wav": ".wav", "svg": ".svg"}
MEDIA_TYPES = {".mid": "audio/midi", ".musicxml": "application/vnd.recordare.musicxml+xml",
               ".png": "image/png", ".pdf": "application/pdf", ".wav": "audio/wav",
               ".svg": "image/svg+xml"}


class NotFound(MelodyRNNError):
    """An id that names no tune or upload of this studio."""


def new_id() -> str:
    return secrets.token_hex(8)


def check_id(text: str, what: str) -> str:
    """`text` as an id of this studio, or NotFound (a path or anything else is never one)."""
    if not isinstance(text, str) or not ID_PATTERN.fullmatch(text):
        raise NotFound(f"no {what} '{str(text)[:40]}' in this studio; choose one from its list")
    return text


@dataclass
class Tune:
    """One written tune: its melody, how it was asked for, and its folder."""

    id: str
    number: int  # 1, 2, ... in the order written since the studio started
    melody: Melody
    seed: int
    settings: dict[str, Any]
    model: str
    folder: Path
    primer: str = ""
    created: float = field(default_factory=time.time)

    def file(self, suffix: str) -> Path:
        return self.folder / f"tune{suffix}"

    def summary(self) -> dict[str, Any]:
        """What the page shows of the tune (JSON)."""
        melody = self.melody
        bars = melody.end_step / melody.steps_per_bar if melody.steps_per_bar else 0
        meter = "{}/{}".format(*melody.time_signature)
        return dict(id=self.id, number=self.number, seed=self.seed, model=self.model,
                    meter=meter, key="" if melody.key is None else str(melody.key),
                    notes=len(melody), bars=round(bars, 2), seconds=round(melody.seconds, 2),
                    pitches=melody.pitches[:16], primer=self.primer, settings=self.settings,
                    name=f"melody-{self.seed}",
                    files={n: f"/api/tunes/{self.id}/{n}" for n in DOWNLOADS})


class TuneStore:
    """The studio's tunes and uploads, in `root` (a folder the server made and removes)."""

    def __init__(self, root: Path, max_tunes: int = MAX_TUNES) -> None:
        self.root = root
        self.max_tunes = max_tunes
        self._tunes: OrderedDict[str, Tune] = OrderedDict()
        self._uploads: dict[str, tuple[Path, str]] = {}
        self._count = 0
        self._lock = threading.Lock()  # tunes are added from worker threads
        # Every file is written on one thread: verovio finds its fonts only in the first
        # thread that uses it (a later thread's toolkit cannot lay out a score), and music21
        # is not known to be thread-safe.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="studio-writer")

    def add(self, melody: Melody, seed: int, settings: dict[str, Any], model: str,
            primer: str, synth: str) -> Tune:
        """Write a new tune's .mid, .svg and .wav (the same writers as `generate`); keep it."""
        tune_id = new_id()
        folder = self.root / "tunes" / tune_id
        with self._lock:
            self._count += 1
            number = self._count
        tune = Tune(tune_id, number, melody, seed, settings, model, folder, primer)
        for suffix in WRITTEN_AT_ONCE:
            self._write(tune, suffix, synth)
        with self._lock:
            self._tunes[tune_id] = tune
            while len(self._tunes) > self.max_tunes:
                _, old = self._tunes.popitem(last=False)
                shutil.rmtree(old.folder, ignore_errors=True)
        return tune

    def _write(self, tune: Tune, suffix: str, synth: str = "auto") -> Path:
        options: dict[str, Any] = {"synth": synth} if suffix == ".wav" else {}
        return self._writer.submit(write_melody, tune.melody, tune.file(suffix),
                                   **options).result()

    def get(self, tune_id: str) -> Tune:
        check_id(tune_id, "tune")
        with self._lock:
            tune = self._tunes.get(tune_id)
        if tune is None:
            raise NotFound(f"no tune '{tune_id}' in this studio (it may have been dropped: "
                           f"the studio keeps the last {self.max_tunes}); write it again")
        return tune

    def all(self) -> list[Tune]:
        with self._lock:
            return list(self._tunes.values())

    def file(self, tune_id: str, name: str, synth: str = "auto") -> Path:
        """The tune's file of format `name` (from DOWNLOADS), written when first asked for."""
        tune = self.get(tune_id)
        suffix = DOWNLOADS.get(name)
        if suffix is None:
            raise NotFound(f"no format '{name[:20]}'; the formats are {', '.join(DOWNLOADS)}")
        path = tune.file(suffix)
        return path if path.exists() else self._write(tune, suffix, synth)

    def add_upload(self, name: str, data: bytes) -> tuple[str, Path]:
        """Keep an uploaded melody file under a new id; its name only gives the suffix."""
        suffix = Path(name).suffix.lower()
        if suffix not in READ_SUFFIXES:
            raise MelodyRNNError(f"{Path(name).name or name!r} is not a melody file the studio "
                                 f"reads; choose a file ending in {', '.join(READ_SUFFIXES)}")
        upload_id = new_id()
        path = self.root / "uploads" / upload_id / f"upload{suffix}"
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
        with self._lock:
            self._uploads[upload_id] = (path, Path(name).name)
        return upload_id, path

    def upload(self, upload_id: str) -> tuple[Path, str]:
        """(path, the name the user gave it) of an upload."""
        check_id(upload_id, "uploaded file")
        with self._lock:
            found = self._uploads.get(upload_id)
        if found is None:
            raise NotFound(f"no uploaded file '{upload_id}' in this studio; upload it again")
        return found
