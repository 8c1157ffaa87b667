"""Reading every plate type: exact accuracy per type on held-out synthetic plates, type accuracy,
and real-plate accuracy, for one checkpoint.

    python bench/plate_types.py [--checkpoint CKPT_OR_MODEL_NAME] [--n 6000] [--real ../shared/data/plates_dev]

Double-row plates are read through the same model (rows joined side by side). 1,000 plates of each
type by default: a type read 0.97 then has a standard error of half a point (200 of each left 1.2
points, and the two shipped models' order changed between samples). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from plateocr import PlateReader  # noqa: E402
from plateocr.alphabet import PLATE_TYPES  # noqa: E402
from plateocr.data.datasets import list_records  # noqa: E402
from plateocr.scoring.evaluation import evaluate_reader, records_for  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a checkpoint, or a shipped model's name (default: the default model)")
    parser.add_argument("--n", type=int, default=6000, help="held-out synthetic plates (all types)")
    parser.add_argument("--real", default=str(REPO.parent / "shared" / "data" / "plates_dev"))
    args = parser.parse_args()
    reader = PlateReader.from_pretrained(args.checkpoint)
    equal = {t: 1.0 for t in PLATE_TYPES}  # the same number of plates of every type
    with tempfile.TemporaryDirectory(prefix="plateocr-types-") as tmp:
        from plateocr.synth.render import TYPE_BENCH_SEED, write_synthetic

        write_synthetic(args.n, Path(tmp) / "s", seed=TYPE_BENCH_SEED, type_weights=equal)
        synthetic, _ = evaluate_reader(reader, records_for(Path(tmp) / "s", tmp))
    result = {
        "checkpoint": reader.source,
        "synthetic_n": synthetic["n"],
        "synthetic_accuracy": round(synthetic["accuracy"], 4),
        "type_accuracy": round(synthetic["type_accuracy"], 4),
        "accuracy_by_type": {k: round(v, 4) for k, v in synthetic["accuracy_by_type"].items()},
        "type_confusion": synthetic["type_confusion"],
    }
    print(f"{'plate type':16s} {'exact':>7s}")
    for plate_type, acc in synthetic["accuracy_by_type"].items():
        print(f"{plate_type:16s} {acc:7.4f}")
    print(f"type classification accuracy {synthetic['type_accuracy']:.4f}")
    if Path(args.real).is_dir():
        real, _ = evaluate_reader(reader, list_records(args.real)[0])
        result["real_accuracy"] = round(real["accuracy"], 4)
        print(f"real plates ({args.real}): exact {real['accuracy']:.4f}")
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
