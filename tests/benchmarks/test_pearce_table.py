"""benchmarks/pearce_table.py: the sign-flip test by hand, and the README's table from the JSONs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def table(benchmark_module: Callable[[str], ModuleType]) -> ModuleType:
    return benchmark_module("pearce_table")


def test_the_sign_flip_test_counts_the_patterns_as_far_from_zero(table):
    # 2, 1: the four patterns' sums are 3, 1, -1, -3; two are as far from 0 as 3
    assert table.sign_flip_p([2.0, 1.0]) == 0.5
    # three of one sign: only +++ and --- are as extreme
    assert table.sign_flip_p([0.1, 0.2, 0.3]) == 2 / 8
    # 3, -1, -1: sums 1 (observed), 3, 3, 5, -5, -3, -3, -1: every pattern is as extreme
    assert table.sign_flip_p([3.0, -1.0, -1.0]) == 1.0
    # 3, 1, 1: sums 5, 3, 3, 1, -1, -3, -3, -5; |sum| >= 5 twice
    assert table.sign_flip_p([3.0, 1.0, 1.0]) == 0.25
    assert table.sign_flip_p([0.05] * 10) == 2 / 1024  # ten folds, all one way
    assert table.sign_flip_p([0.0, 0.0]) == 1.0
    with pytest.raises(ValueError, match="1 to 16"):
        table.sign_flip_p([])


def _rows(both: list[float], nine: list[float]) -> list[dict]:
    def row(name: str, per_fold: list[float], sd: float | None = None) -> dict:
        out = {"name": name, "bits_per_note": round(sum(per_fold) / len(per_fold), 4),
               "per_fold": per_fold,
               "vs_both": {"folds_better": sum(
                   p < b for p, b in zip(per_fold, both, strict=True))}}
        if sd is not None:
            out.update(sd=sd, per_seed=[0.0, 0.0, 0.0])
        return out

    nine_name, pre = "LSTM trained on the nine folds", "LSTM 1x8 pre-trained on essen (leak-free)"
    rows = [row("BOTH+ (LTM+ with an STM)", both)]
    for name in (nine_name, nine_name + " + STM", pre + ", fine-tuned",
                 pre + ", fine-tuned + STM"):
        rows.append(row(name, nine, 0.01))
    for name in (nine_name + ", ensemble of 3 seeds + STM",
                 pre + ", fine-tuned, ensemble of 3 seeds + STM",
                 pre + ", fine-tuned, ensemble of 3 seeds + dynamic evaluation"):
        rows.append(row(name, [x - 0.5 for x in nine]))
    return rows


def test_cells_show_the_spread_the_folds_and_bold_at_or_below_both(table):
    results = {"a": {"melodies": 3, "notes": 1234, "rows": _rows([2.0, 2.0], [2.5, 1.9])}}
    text = table.tables(results)
    assert "| melodies, notes | 3, 1,234 |" in text
    assert "| BOTH+ (IDyOM) | 2.000 |" in text
    assert "| LSTM on the nine folds | 2.200 ± 0.010 (1) |" in text  # above BOTH+: plain
    assert "| ensemble of 3, + STM | **1.700** (1) |" in text  # fold 0 ties: not better
    # differences +0.5 and -0.1: mean +0.2; the patterns' sums 0.4, 0.6, -0.4, -0.6 are all
    # as far from 0 as the observed 0.4
    assert "| LSTM on the nine folds | +0.200, p 1.000 |" in text
    # the ensemble: 0.0 and -0.6, mean -0.3; the sums -0.6 and 0.6 are all there is
    assert "| ensemble of 3, + STM | -0.300, p 1.000 |" in text


def test_the_readme_table_is_the_one_the_results_give(table):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for printed in table.tables(table.load()).split("\n\n"):  # the figures, then the tests
        assert printed in readme, (
            "README's Pearce tables are not what `python benchmarks/pearce_table.py` prints")
