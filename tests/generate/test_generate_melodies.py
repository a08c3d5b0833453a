"""`MelodyModel.generate` returns `Melodies`: a real list of Melody that Jupyter shows as a
gallery."""

from __future__ import annotations

import melodyrnn as mr
from melodyrnn.core.melody import Melody
from melodyrnn.io.outputs.notebook import Melodies


def test_generate_returns_a_list_of_melodies_shown_as_a_gallery(tiny_model):
    model = mr.load_model(tiny_model)
    melodies = model.generate(num=3, notes=4, seed=1)
    assert isinstance(melodies, Melodies)
    assert isinstance(melodies, list)
    assert len(melodies) == 3
    assert all(isinstance(m, Melody) for m in melodies)
    batched = [m for batch in model.generate_batches(3, notes=4, seed=1) for m in batch]
    assert list(melodies) == batched
    assert melodies._repr_html_().startswith("<div><p>3 melodies</p>")
