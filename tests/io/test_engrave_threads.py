"""A score is engraved in any thread, not only the one that first used verovio."""

from __future__ import annotations

import threading

from melodyrnn.io.inputs.text import parse_primer
from melodyrnn.io.outputs.engrave import to_svg


def test_scores_are_engraved_in_several_threads_and_the_main_one():
    melody = parse_primer("D4 E4 F4 A4:2")
    results: list[str] = []
    for _ in range(2):
        thread = threading.Thread(target=lambda: results.append(to_svg(melody)))
        thread.start()
        thread.join()
    results.append(to_svg(melody))
    assert len(results) == 3 and all('class="note"' in svg for svg in results)
    assert len({svg.count('class="note"') for svg in results}) == 1  # ids differ, notes not
