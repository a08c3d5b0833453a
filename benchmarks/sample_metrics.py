"""Musical metrics and originality of a model's samples against held-out and training tunes.

Generates N melodies from a model (the bundled folk model by default; its own settings:
temperature 1, no length, the model picks meter and key), compares their musical metrics with
the dataset's test split (set means, and the overlapping area and KL divergence of intra-set
vs inter-set distances, Yang & Lerch 2018), and checks each against the training split for
copies. The same comparison of the valid split against the test split is printed as the
reference: what two sets of real tunes look like.

    python benchmarks/sample_metrics.py --data corpora/folk
    python benchmarks/sample_metrics.py --data corpora/folk --num 300 --temperature 0.9

Writes benchmarks/results/sample_metrics.json.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import melodyrnn as mr
from melodyrnn.evaluate.compare import compare_sets, format_comparison
from melodyrnn.evaluate.originality import OriginalityIndex, format_originality


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="corpora/folk", help="a dataset written by prepare")
    parser.add_argument("--model", help="bundle or checkpoint (default: the bundled model)")
    parser.add_argument("--num", type=int, default=200)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/sample_metrics.json")
    args = parser.parse_args()

    start = time.perf_counter()
    model = mr.load_model(args.model)
    samples = model.generate(num=args.num, temperature=args.temperature, seed=args.seed)
    test = mr.load_corpus(args.data, split="test")
    valid = mr.load_corpus(args.data, split="valid")
    train = mr.load_corpus(args.data, split="train")
    generated = compare_sets(samples, test)
    real = compare_sets(valid, test)
    index = OriginalityIndex(train)
    originality = index.check_all(samples)
    real_originality = index.check_all(test)
    print(format_comparison(generated, f"{len(samples)} samples vs {len(test)} test tunes"))
    print()
    print(format_comparison(real, f"reference: {len(valid)} valid tunes vs {len(test)} test "
                                  "tunes"))
    print()
    print("samples against the training split:")
    print(format_originality(originality))
    print()
    print("reference: test tunes against the training split:")
    print(format_originality(real_originality))
    seconds = time.perf_counter() - start
    print(f"\n{seconds:.0f} s")

    def clean(value: object) -> object:
        return None if isinstance(value, float) and math.isnan(value) else value

    result = {
        "model": str(model.path), "data": args.data, "num": args.num,
        "temperature": args.temperature, "seed": args.seed,
        "samples_vs_test": {k: {m: clean(v) for m, v in d.items()} for k, d in generated.items()},
        "valid_vs_test": {k: {m: clean(v) for m, v in d.items()} for k, d in real.items()},
        "samples_flagged_as_copies": sum(r.is_copy for r in originality),
        "test_tunes_flagged_as_copies": sum(r.is_copy for r in real_originality),
        "samples_median_longest_shared_run": sorted(r.longest_shared_run
                                                    for r in originality)[len(originality) // 2],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
