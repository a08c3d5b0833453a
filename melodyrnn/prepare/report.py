"""`PrepareReport`: what a dataset build read, kept, dropped and skipped, and its summary;
`GridLoss`: what putting the notes on the step grid changed."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from melodyrnn.core.score import Score
from melodyrnn.prepare.recipes import Recipe

SKIPPED_LISTED = 100  # skipped files named in the report and manifest; sources.tsv has all


@dataclass
class GridLoss:
    """What quantization did to the written notes of some scores, from the readers' counts:
    onsets moved off their written time (`moved_onsets` of `total_onsets`), notes merged into
    another note's onset (`merged_notes`), grace notes left out (`grace_notes`).

    The counts cover every part a reader read, the parts a recipe's `tracks` leaves out too.
    """

    moved_onsets: int = 0
    total_onsets: int = 0
    merged_notes: int = 0
    grace_notes: int = 0

    @classmethod
    def of_score(cls, score: Score) -> GridLoss:
        """The counts a reader left on one score."""
        return cls(**{f.name: getattr(score, f.name) for f in fields(cls)})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GridLoss:
        """From `to_dict`'s output (missing counts are 0, unknown keys ignored)."""
        return cls(**{f.name: int(data.get(f.name, 0)) for f in fields(cls)})

    def to_dict(self) -> dict[str, int]:
        """The counts by name, as the manifest stores them."""
        return asdict(self)

    def add(self, other: GridLoss) -> None:
        """Count `other`'s notes in too."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def changes(self) -> str:
        """'moved 849 of 33,999 onsets (2.5%), merged 3 notes, left out 12 grace notes'."""
        pct = 100 * self.moved_onsets / self.total_onsets if self.total_onsets else 0.0
        share = f" ({pct:.1f}%)" if pct >= 1 else f" ({pct:.2g}%)" if pct else ""
        return (f"moved {self.moved_onsets:,} of {self.total_onsets:,} onsets{share}, "
                f"merged {self.merged_notes:,} notes, left out {self.grace_notes:,} grace notes")

    @property
    def changed(self) -> bool:
        """Whether the grid changed any written note."""
        return bool(self.moved_onsets or self.merged_notes or self.grace_notes)


@dataclass
class PrepareReport:
    """The outcome of `prepare`: counts per split, drop reasons and skipped files."""

    out: Path
    recipe: Recipe
    files: int = 0
    tunes: int = 0
    melodies: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    drops: Counter = field(default_factory=Counter)
    skipped_files: dict[str, str] = field(default_factory=dict)  # the first SKIPPED_LISTED
    grid_by_source: dict[str, GridLoss] = field(default_factory=dict)  # per recipe source
    vocab_size: int = 0
    seconds: float = 0.0
    cached_files: int = 0
    up_to_date: bool = False
    duplicate_groups: list[list[str]] = field(default_factory=list)  # the largest ones listed
    skipped_count: int = 0  # every skipped file, listed or not
    skipped_reasons: Counter = field(default_factory=Counter)  # by reason ("timed out", ...)
    duplicate_sizes: dict[int, int] = field(default_factory=dict)  # groups by their size

    def skip(self, path: str, reason: str) -> None:
        """Count a skipped file; the first `SKIPPED_LISTED` are listed by path."""
        self.skipped_count += 1
        self.skipped_reasons[reason.split(":", 1)[0]] += 1
        if len(self.skipped_files) < SKIPPED_LISTED:
            self.skipped_files[path] = reason

    def set_duplicates(self, listed: list[list[str]], sizes: dict[int, int]) -> None:
        """The groups of tunes kept together: the largest listed, and how many by size."""
        self.duplicate_groups, self.duplicate_sizes = listed, dict(sorted(sizes.items()))

    @property
    def duplicate_counts(self) -> tuple[int, int]:
        """(groups of tunes sharing a long run, tunes in them)."""
        return (sum(self.duplicate_sizes.values()),
                sum(size * n for size, n in self.duplicate_sizes.items()))

    @property
    def grid(self) -> GridLoss:
        """What quantization changed over all sources."""
        total = GridLoss()
        for loss in self.grid_by_source.values():
            total.add(loss)
        return total

    def summary(self) -> str:
        """A one-screen, human summary."""
        total = sum(self.melodies.values())
        lines = [f"prepared {self.recipe.name} -> {self.out}"
                 + (" (up to date)" if self.up_to_date else f" in {self.seconds:.1f} s"),
                 f"  files {self.files} read, {self.skipped_count} skipped"
                 f" | tunes {self.tunes:,} | melodies {total:,} ("
                 + " / ".join(f"{k} {v:,}" for k, v in self.melodies.items()) + ")",
                 f"  notes {sum(self.notes.values()):,} | tokens {sum(self.tokens.values()):,}"
                 f" | vocabulary {self.vocab_size} ({self.recipe.tokenizer.get('name', 'note')})"]
        groups, tunes = self.duplicate_counts
        if groups:
            lines.append(f"  {groups:,} groups of tunes share a run of 16+ notes ({tunes:,} "
                         "tunes); each group stays in one split")
        lines += self._grid_lines()
        if self.drops:
            lines.append("  dropped: " + ", ".join(f"{r} {n:,}" for r, n in
                                                   self.drops.most_common()))
        if self.skipped_count:
            lines.append("  skipped files: " + ", ".join(f"{r} {n}" for r, n in
                                                         self.skipped_reasons.most_common()))
            for path, reason in list(self.skipped_files.items())[:5]:
                lines.append(f"    {path}: {reason}")
            if self.skipped_count > 5:
                lines.append(f"    ... {self.skipped_count - 5} more in sources.tsv")
        return "\n".join(lines)

    def _grid_lines(self) -> list[str]:
        """What the grid changed, in total, then by source when several sources changed."""
        grid = self.grid
        if not grid.total_onsets:
            return []
        lines = [f"  on the {self.recipe.steps_per_quarter}-per-quarter grid: {grid.changes()}"]
        changed = {s: loss for s, loss in self.grid_by_source.items() if loss.changed}
        if len(self.grid_by_source) > 1 and changed:
            lines.append("    by source: " + "; ".join(
                f"{s} moved {g.moved_onsets:,}, merged {g.merged_notes:,}, "
                f"grace {g.grace_notes:,}" for s, g in changed.items()))
        return lines
