"""`PrepareReport`: what a dataset build read, kept, dropped and skipped, and its summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from melodyrnn.prepare.recipes import Recipe


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
    skipped_files: dict[str, str] = field(default_factory=dict)
    moved_onsets: int = 0
    total_onsets: int = 0
    vocab_size: int = 0
    seconds: float = 0.0
    cached_files: int = 0
    up_to_date: bool = False
    duplicate_groups: list[list[str]] = field(default_factory=list)  # tunes kept together

    def summary(self) -> str:
        """A one-screen, human summary."""
        total = sum(self.melodies.values())
        lines = [f"prepared {self.recipe.name} -> {self.out}"
                 + (" (up to date)" if self.up_to_date else f" in {self.seconds:.1f} s"),
                 f"  files {self.files} read, {len(self.skipped_files)} skipped"
                 f" | tunes {self.tunes:,} | melodies {total:,} ("
                 + " / ".join(f"{k} {v:,}" for k, v in self.melodies.items()) + ")",
                 f"  notes {sum(self.notes.values()):,} | tokens {sum(self.tokens.values()):,}"
                 f" | vocabulary {self.vocab_size} ({self.recipe.tokenizer.get('name', 'note')})"]
        if self.duplicate_groups:
            lines.append(f"  {len(self.duplicate_groups):,} groups of tunes share a run of 16+ "
                         f"notes ({sum(map(len, self.duplicate_groups)):,} tunes); each group "
                         "stays in one split")
        if self.total_onsets:
            lines.append(f"  quantization moved {self.moved_onsets:,} of {self.total_onsets:,} "
                         f"onsets to the {self.recipe.steps_per_quarter}-per-quarter grid")
        if self.drops:
            lines.append("  dropped: " + ", ".join(f"{r} {n:,}" for r, n in
                                                   self.drops.most_common()))
        if self.skipped_files:
            by_reason = Counter(r.split(":", 1)[0] for r in self.skipped_files.values())
            lines.append("  skipped files: " + ", ".join(f"{r} {n}" for r, n in
                                                         by_reason.most_common()))
            for path, reason in list(self.skipped_files.items())[:5]:
                lines.append(f"    {path}: {reason}")
            if len(self.skipped_files) > 5:
                lines.append(f"    ... {len(self.skipped_files) - 5} more in manifest.json")
        return "\n".join(lines)
