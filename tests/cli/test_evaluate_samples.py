"""`melodyrnn evaluate --samples` without a model: samples read on the dataset's grid."""

from __future__ import annotations

import json

from melodyrnn.cli import main


def test_samples_are_read_on_the_datasets_grid_and_copies_found(tmp_path, capsys):
    """A training tune handed back as a sample is a copy, on a dataset of 12 steps a quarter."""
    from melodyrnn.prepare.build import prepare
    from melodyrnn.prepare.corpus import load_corpus

    book = tmp_path / "book.abc"
    book.write_text("X:1\nM:4/4\nL:1/8\nK:G\n|: (3GAB (3cBA G2 D2 | (3EFG (3ABc B2 A2 :|\n"
                    "|: d2 B2 (3cBA G2 | (3ABc (3dcB A4 :|\n"
                    "X:2\nM:3/4\nL:1/8\nK:D\nA2 | d4 f2 | e4 c2 | d6 | B4 A2 | F6 | E4 D2 |]\n",
                    encoding="utf-8")
    data = tmp_path / "data"
    prepare([str(book)], data, progress=False, steps_per_quarter=12,
            valid=0.0, test=0.0, min_notes=1, min_pitch_classes=1)
    tune = max(load_corpus(data, split="train"), key=len)  # the one with triplets
    assert len(tune) >= 8
    tune.write(tmp_path / "samples" / "copy.mid")
    capsys.readouterr()
    assert main(["evaluate", "--data", str(data), "--split", "train", "--samples",
                 str(tmp_path / "samples"), "--json"]) == 0
    [result] = json.loads(capsys.readouterr().out)["originality"]
    assert result["is_copy"] and result["longest_shared_run"] == len(tune.unfold())
