"""Writing a tune for the page: the models it may use, the primer, the sampling, the files.

`Studio.generate` is blocking (the network samples, music21 and verovio engrave); the app runs
it in a worker thread. Errors are `FieldError`s naming the control that caused them.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from melodyrnn.core.melody import Melody
from melodyrnn.errors import MelodyRNNError
from melodyrnn.generate.model import MelodyModel, load_model
from melodyrnn.io.outputs.audio import fluidsynth_problem
from melodyrnn.studio.request import FieldError, GenerateRequest
from melodyrnn.studio.tunes import NotFound, Tune, TuneStore

BUNDLED = "bundled"


@dataclass(frozen=True)
class ModelChoice:
    """A model the page may choose: an id, a label, and where it is (never sent)."""

    id: str
    label: str
    path: Path | None  # None: the bundled model


class Studio:
    """The models, the tune store and the synth of one running studio."""

    def __init__(self, store: TuneStore, model: str | Path | None = None) -> None:
        self.store = store
        self.choices: dict[str, ModelChoice] = {}
        if model is not None:
            path = Path(model)
            self.choices["chosen"] = ModelChoice("chosen", f"{path.name} (--model)", path)
        self.choices[BUNDLED] = ModelChoice(BUNDLED, "bundled folk model", None)
        self.default = next(iter(self.choices))
        self._models: dict[str, MelodyModel] = {}
        self._load_lock = threading.Lock()
        # the plain synth plays when FluidSynth is missing: said once at start, not per tune
        self.synth_problem = fluidsynth_problem()
        self.synth = "plain" if self.synth_problem else "auto"

    def model(self, choice: str | None) -> MelodyModel:
        """The model of a choice (loaded once); FieldError 'model' for an unknown one."""
        name = choice or self.default
        if name not in self.choices:
            raise FieldError("model", f"no model '{name[:40]}' in this studio; choose one of "
                                      f"{', '.join(self.choices)}")
        with self._load_lock:
            if name not in self._models:
                self._models[name] = load_model(self.choices[name].path)
            return self._models[name]

    def describe_models(self) -> list[dict[str, Any]]:
        return [dict(id=c.id, label=c.label, default=c.id == self.default)
                for c in self.choices.values()]

    def generate(self, request: GenerateRequest) -> Tune:
        """Sample one tune as asked, write its files and keep it."""
        model = self.model(request.model)
        seed = request.seed if request.seed is not None \
            else random.SystemRandom().randrange(1_000_000)
        primer, field, described = self._primer(request)
        options = request.generate_options()
        if primer is not None:  # the primer's own sentence goes beside the primer control
            try:
                model.prefix(primer, options["meter"], options["key"], seed)
            except MelodyRNNError as exc:
                raise FieldError(field, self._named(str(exc), request)) from None
        try:
            melody = model.generate(num=1, primer=primer, seed=seed, **options)[0]
        except MelodyRNNError as exc:
            raise FieldError(None, str(exc)) from None
        settings = {**request.described(), "model": request.model or self.default,
                    "seed": seed}
        return self.store.add(melody, seed, settings, self.choices[settings["model"]].label,
                              described, self.synth)

    def _primer(self, request: GenerateRequest) -> tuple[Melody | str | Path | None, str,
                                                         str]:
        """(the primer to pass, its control, how the page shows it)."""
        if request.primer_tune:
            try:
                tune = self.store.get(request.primer_tune)
            except NotFound as exc:
                raise FieldError("primer", str(exc)) from None
            return tune.melody, "primer", f"continues tune {tune.number}"
        if request.primer_file:
            try:
                path, name = self.store.upload(request.primer_file)
            except NotFound as exc:
                raise FieldError("primer_file", str(exc)) from None
            return path, "primer_file", name
        return request.primer, "primer", request.primer or ""

    def _named(self, message: str, request: GenerateRequest) -> str:
        """A sentence about an upload names the file as the user knows it, not our copy."""
        if request.primer_file:
            path, name = self.store.upload(request.primer_file)
            message = message.replace(str(path), name)
        return message
