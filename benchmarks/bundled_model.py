"""The bundled model against the best smoothed n-gram on its own dataset's valid and test splits.

    python benchmarks/bundled_model.py          # prepares corpora/folk first if missing

Both are scored on every melody of each split, whole (see melodyrnn.evaluate); the n-gram's
order (1-8, escape method C) is chosen on the valid split. Prints a table and writes
benchmarks/results/bundled_model.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import melodyrnn as mr
from melodyrnn.evaluate.likelihood import evaluate_dataset, format_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="corpora/folk",
                        help="the model's prepared dataset")
    parser.add_argument("--model", help="bundle or checkpoint (default: the bundled model)")
    parser.add_argument("--out", default="benchmarks/results/bundled_model.json")
    args = parser.parse_args()
    model = mr.load_model(args.model)
    if not (Path(args.data) / "manifest.json").is_file():
        print(mr.prepare(model.corpus, args.data).summary())
    rows: dict[str, dict[str, Any]] = {}
    for split in ("valid", "test"):
        results = evaluate_dataset(model, args.data, split)
        print(format_table(results, f"{args.data}, split {split}:"))
        m, b = results["model"].bits_per_note, results["baseline"].bits_per_note
        print(f"model vs n-gram: {100 * (m - b) / b:+.1f}% bits per note\n")
        rows[split] = {k: r.to_dict() for k, r in results.items()}
        rows[split]["model_vs_baseline"] = (m - b) / b
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
