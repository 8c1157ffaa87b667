"""Reading every plate type: exact accuracy per type on held-out synthetic plates, type accuracy,
and real-plate accuracy, for one checkpoint.

    python bench/plate_types.py [--checkpoint CKPT_OR_MODEL_NAME] [--n 6000] [--real ../shared/data/plates_dev]
    python bench/plate_types.py --against accurate     # both models on the same plates, paired

Double-row plates are read through the same model (rows joined side by side). 1,000 plates of each
type by default: a type read 0.97 then has a standard error of half a point (200 of each left 1.2
points, and the two shipped models' order changed between samples). With `--against`, a second
model reads the same plates, and each type's row adds the plates only one of them read right and
the exact McNemar p-value of that split (`scoring.metrics.paired_difference`): on 1,000 plates a
type, a gap of a few plates is often chance. Last line: one JSON object.
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
from plateocr.scoring.metrics import paired_difference  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a checkpoint, or a shipped model's name (default: the default model)")
    parser.add_argument("--n", type=int, default=6000, help="held-out synthetic plates (all types)")
    parser.add_argument("--real", default=str(REPO.parent / "shared" / "data" / "plates_dev"))
    parser.add_argument("--against", metavar="CKPT_OR_MODEL_NAME", help="a second model read on the same plates")
    args = parser.parse_args()
    reader = PlateReader.from_pretrained(args.checkpoint)
    equal = {t: 1.0 for t in PLATE_TYPES}  # the same number of plates of every type
    with tempfile.TemporaryDirectory(prefix="plateocr-types-") as tmp:
        from plateocr.synth.render import TYPE_BENCH_SEED, write_synthetic

        write_synthetic(args.n, Path(tmp) / "s", seed=TYPE_BENCH_SEED, type_weights=equal)
        records = records_for(Path(tmp) / "s", tmp)
        synthetic, rows = evaluate_reader(reader, records)
        if args.against:
            other = PlateReader.from_pretrained(args.against)
            other_summary, other_rows = evaluate_reader(other, records)
    result = {
        "checkpoint": reader.source,
        "synthetic_n": synthetic["n"],
        "synthetic_accuracy": round(synthetic["accuracy"], 4),
        "type_accuracy": round(synthetic["type_accuracy"], 4),
        "accuracy_by_type": {k: round(v, 4) for k, v in synthetic["accuracy_by_type"].items()},
        "type_confusion": synthetic["type_confusion"],
    }
    if args.against:
        result["against"] = against(rows, other_rows, other.source, other_summary)
    print(
        f"{'plate type':16s} {'exact':>7s}"
        + (f" {'against':>8s} {'only this':>9s} {'only that':>9s} {'p':>6s}" if args.against else "")
    )
    for plate_type, acc in synthetic["accuracy_by_type"].items():
        paired = result["against"]["by_type"][plate_type] if args.against else None
        print(
            f"{plate_type:16s} {acc:7.4f}"
            + (
                f" {paired['accuracy']:8.4f} {paired['only_a']:9d} {paired['only_b']:9d} {paired['p_value']:6.3f}"
                if paired
                else ""
            )
        )
    print(f"type classification accuracy {synthetic['type_accuracy']:.4f}")
    if Path(args.real).is_dir():
        real, _ = evaluate_reader(reader, list_records(args.real)[0])
        result["real_accuracy"] = round(real["accuracy"], 4)
        print(f"real plates ({args.real}): exact {real['accuracy']:.4f}")
    print(json.dumps(result, ensure_ascii=False))
    return 0


def against(rows: list[dict], other_rows: list[dict], source: str, other_summary: dict) -> dict:
    """The second model's accuracy per type beside the paired split of the plates only one read right
    (`only_a`: this bench's model, `only_b`: the other)."""
    if [r["label"] for r in rows] != [o["label"] for o in other_rows]:
        raise ValueError("the two models' readings are not of the same plates in the same order")
    by_type: dict[str, dict] = {}
    for plate_type, acc in other_summary["accuracy_by_type"].items():
        pairs = [(r["correct"], o["correct"]) for r, o in zip(rows, other_rows) if r["true_type"] == plate_type]
        by_type[plate_type] = {"n": len(pairs), "accuracy": round(acc, 4), **paired_difference(*zip(*pairs))}
    return {"checkpoint": source, "by_type": by_type}


if __name__ == "__main__":
    sys.exit(main())
