"""The training loader over a dataset `prepare` streamed: it loads, and what it keeps of the
dataset (in checkpoints, and sent to each loader worker) does not grow with the corpus."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from melodyrnn.fit.datamodule import MelodyDataModule
from melodyrnn.prepare import build

pytestmark = pytest.mark.usefixtures("fresh_melody_cache")


def _dataset(root: Path, make_tune_folder, n_files: int) -> Path:
    root.mkdir()
    folder = make_tune_folder(root, n=n_files)
    build.prepare([str(folder)], root / "ds", progress=False, jobs=1, valid=0.2, test=0.2)
    return root / "ds"


def test_what_the_loader_keeps_does_not_grow_with_the_corpus(tmp_path, make_tune_folder):
    small = MelodyDataModule(str(_dataset(tmp_path / "a", make_tune_folder, 5)),
                             batch_size=2, seq_len=8)
    large = MelodyDataModule(str(_dataset(tmp_path / "b", make_tune_folder, 60)),
                             batch_size=2, seq_len=8)
    assert large.dataset_info["splits"]["train"]["sequences"] > \
        5 * small.dataset_info["splits"]["train"]["sequences"]
    # the manifest a checkpoint keeps lists no source file: only counts, hashes and times
    # differ, where listing the 55 more files would add over 55 names of 10 characters
    manifests = [json.dumps(d.dataset_info["manifest"]) for d in (small, large)]
    assert not any(f"tune{i:02d}.mid" in text for text in manifests for i in range(60))
    assert abs(len(manifests[0]) - len(manifests[1])) < 120
    for data in (small, large):
        data.setup("fit")
        inputs, targets = next(iter(data.train_dataloader()))
        assert inputs.shape == targets.shape == (2, 8)
    # a loader worker receives the path, never the tokens
    sent = [len(pickle.dumps(d.datasets["train"])) for d in (small, large)]
    assert sent[0] == sent[1]
