"""read_scores: the reader chosen by suffix, and files it refuses."""

from __future__ import annotations

import pytest

from melodyrnn.errors import ReadError
from melodyrnn.io import read_scores


def test_read_scores_refuses_unknown_missing_and_folders(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("C D E")
    with pytest.raises(ReadError, match=r"notes\.txt: unknown file type '\.txt'.*\.mid"):
        read_scores(text)
    with pytest.raises(ReadError, match=r"gone\.mid: no such file"):
        read_scores(tmp_path / "gone.mid")
    with pytest.raises(ReadError, match="is a directory"):
        read_scores(tmp_path)
