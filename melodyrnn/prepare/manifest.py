"""A dataset's manifest.json and its sources.tsv: what was built, from what, and how.

The manifest stays small whatever the corpus size (training reads it, and checkpoints keep
it): counts, settings and the first few skipped files and duplicate groups. The list of every
source file, with its sha1, the melodies it gave or why it was skipped, is `sources.tsv`
beside it, written a line at a time.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import IO, Any

from melodyrnn._files import read_json
from melodyrnn._version import __version__
from melodyrnn.errors import CorpusError
from melodyrnn.prepare.recipes import Recipe
from melodyrnn.prepare.report import GridLoss, PrepareReport
from melodyrnn.prepare.splits import DUPLICATE_RUN

FORMAT_VERSION = 1
SOURCES_LIST = "sources.tsv"
SOURCES_HEADER = "sha1\tmelodies\tsource\tskipped because\n"


def write_source_line(listing: IO[str], sha1: str | None, melodies: int, sid: str,
                      reason: str = "") -> None:
    """One file's line in sources.tsv (tabs and newlines in a reason become spaces)."""
    reason = " ".join(reason.split())
    listing.write(f"{sha1 or '-'}\t{melodies}\t{sid}\t{reason}\n")


def manifest_of(report: PrepareReport, inputs_hash: str, tokenizer: Any, files: int,
                file_seconds: float) -> dict[str, Any]:
    """The manifest of a finished build."""
    recipe = report.recipe
    return {
        "format_version": FORMAT_VERSION,
        "package": "melodyrnn", "package_version": __version__,
        "corpus": recipe.name, "sources": recipe.sources, "exclude": recipe.exclude,
        "recipe": {"origin": recipe.origin, "tracks": recipe.tracks, "extract": recipe.extract,
                   "split": {"valid": recipe.valid, "test": recipe.test},
                   "normalize_key": recipe.normalize_key, "transpose": recipe.transpose,
                   "steps_per_quarter": recipe.steps_per_quarter},
        "license": recipe.license,
        "tokenizer": {"name": tokenizer.name, "vocab_size": tokenizer.vocab_size},
        "counts": {"files": report.files, "tunes": report.tunes, "melodies": report.melodies,
                   "notes": report.notes, "tokens": report.tokens},
        "split_method": (f"tunes sharing a run of {DUPLICATE_RUN} notes (intervals, rests, "
                         "durations) form a group; the sha1 of the group's smallest tune id "
                         "picks its split"),
        "duplicate_groups": _duplicates_entry(report),
        "drop_reasons": dict(report.drops.most_common()),
        "skipped": {"files": report.skipped_count,
                    "by_reason": dict(report.skipped_reasons.most_common())},
        "skipped_files": report.skipped_files,
        "quantization": _quantization_entry(report),
        "source_files": {"files": files, "list": SOURCES_LIST},
        "inputs_hash": inputs_hash,
        "seconds": round(report.seconds, 2),
        "file_seconds": file_seconds,
    }


def _quantization_entry(report: PrepareReport) -> dict[str, Any]:
    """The manifest's account of what the step grid changed: totals, then by recipe source."""
    return {"steps_per_quarter": report.recipe.steps_per_quarter, **report.grid.to_dict(),
            "by_source": {spec: loss.to_dict() for spec, loss in report.grid_by_source.items()}}


def _duplicates_entry(report: PrepareReport) -> dict[str, Any]:
    """The manifest's account of the tunes kept together because they share a long run."""
    groups, tunes = report.duplicate_counts
    return {"run_notes": DUPLICATE_RUN, "groups": groups, "tunes": tunes,
            "sizes": {str(size): n for size, n in report.duplicate_sizes.items()},
            "members": report.duplicate_groups}


def read_manifest(out: Path) -> dict[str, Any] | None:
    """The manifest of an earlier build in `out`, or None (none there, or damaged)."""
    try:
        manifest = read_json(out / "manifest.json", CorpusError, "the manifest")
    except CorpusError:
        return None
    return manifest if isinstance(manifest, dict) else None


def skipped_reasons(manifest: dict[str, Any]) -> Counter[str]:
    """Skipped files by reason, from a manifest of this version or of an earlier one (which
    listed every skipped file)."""
    skipped = manifest.get("skipped", {})
    if isinstance(skipped, dict) and "by_reason" in skipped:
        return Counter(skipped["by_reason"])
    return Counter(str(r).split(":", 1)[0] for r in manifest.get("skipped_files", {}).values())


def report_from_manifest(out: Path, recipe: Recipe, manifest: dict[str, Any]) -> PrepareReport:
    """The report of an up-to-date dataset, from its manifest."""
    counts = manifest.get("counts", {})
    by_source = manifest.get("quantization", {}).get("by_source", {})
    duplicates = manifest.get("duplicate_groups", {})
    listed = manifest.get("skipped_files", {})
    reasons = skipped_reasons(manifest)
    report = PrepareReport(
        out=out, recipe=recipe, files=counts.get("files", 0), tunes=counts.get("tunes", 0),
        melodies=counts.get("melodies", {}), notes=counts.get("notes", {}),
        tokens=counts.get("tokens", {}), drops=Counter(manifest.get("drop_reasons", {})),
        skipped_files=listed, skipped_count=sum(reasons.values()), skipped_reasons=reasons,
        grid_by_source={spec: GridLoss.from_dict(d) for spec, d in by_source.items()},
        vocab_size=manifest.get("tokenizer", {}).get("vocab_size", 0), up_to_date=True)
    report.set_duplicates(duplicates.get("members", []),
                          {int(k): int(v) for k, v in duplicates.get("sizes", {}).items()})
    return report
