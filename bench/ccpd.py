"""CCPD's recognition protocol: a model read on each test subset of CCPD2019 (and CCPD2020's test split).

    python bench/ccpd.py --root /data/CCPD2019 [--root2020 /data/CCPD2020] [--checkpoint CKPT]
        [--limit N] [--device auto|cpu|cuda] [--workers 8] [--batch-size 256] [--tta phase|shift|none]

One row per subset file of ROOT/split (ccpd_db, ccpd_blur, ccpd_fn, ccpd_rotate, ccpd_tilt,
ccpd_challenge, …; without subset files, the test split grouped by folder), then the whole test
split (`test (all)`, CCPD's "AP" column), then CCPD2020's test split (`ccpd_green`). Each plate is
warped out of its photo along its annotated corners: ground-truth crops, so this scores recognition
alone, not a detector. A plate counts as read when all its characters are right. `--limit N` reads
the first N plates (by path) of each row. Photos a split file lists but that are missing are named
on stderr and counted. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from plateocr import PlateReader  # noqa: E402
from plateocr.data.ccpd_tree import NO_PLATE, SPLITS, SUBSET_ORDER, split_names, subset_of  # noqa: E402
from plateocr.data.datasets import list_records  # noqa: E402
from plateocr.reading.tta import TTA_SHIFTS  # noqa: E402
from plateocr.scoring.evaluation import read_records, summarize_rows  # noqa: E402
from plateocr.training.loop import resolve_device  # noqa: E402

FIGURES = ("n", "accuracy", "cer", "province_accuracy", "plates_per_s")


def records_of(root: Path, split: str, limit: int | None, skipped_total: list[int]):
    records, skipped = list_records(root, split=split)
    if len(skipped):
        print(f"{root} split {split}: {skipped.summary(limit=20)}", file=sys.stderr)
        skipped_total[0] += len(skipped)
    return records[:limit] if limit else records


def subset_groups(root: Path, limit, skipped_total) -> dict[str, list]:
    """The test subsets of a CCPD2019 root, in CCPD's table order, each with its plates."""
    names = [n for n in split_names(root) if n not in SPLITS and n != NO_PLATE]
    if names:
        rank = {name: i for i, name in enumerate(SUBSET_ORDER)}
        names.sort(key=lambda n: (rank.get(n, len(rank)), n))
        return {n: records_of(root, n, limit, skipped_total) for n in names}
    groups: dict[str, list] = {}
    for rec in records_of(root, "test", None, skipped_total):
        groups.setdefault(subset_of(Path(rec.path).relative_to(root).as_posix()), []).append(rec)
    return {n: recs[:limit] if limit else recs for n, recs in groups.items()}


class Scorer:
    """Reads each photo once and keeps its row, so the overall row re-reads nothing."""

    def __init__(self, reader: PlateReader, batch_size: int, workers: int):
        self.reader, self.batch_size, self.workers = reader, batch_size, workers
        self.rows, self.seconds = {}, {}

    def score(self, records) -> dict:
        todo = [r for r in records if r.path not in self.rows]
        if todo:
            start = time.perf_counter()
            rows, _ = read_records(self.reader, todo, self.batch_size, self.workers)
            per_plate = (time.perf_counter() - start) / len(todo)
            for row in rows:
                self.rows[row["path"]], self.seconds[row["path"]] = row, per_plate
        rows = [self.rows[r.path] for r in records]
        summary = summarize_rows(rows)
        summary["plates_per_s"] = len(rows) / max(sum(self.seconds[r.path] for r in records), 1e-9)
        return {k: summary[k] for k in FIGURES}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="CCPD2019 root (subset folders and split/)")
    parser.add_argument("--root2020", help="CCPD2020 root (ccpd_green/{train,val,test})")
    parser.add_argument("--checkpoint", help="checkpoint .pt or .onnx (default: the shipped model)")
    parser.add_argument("--limit", type=int, help="read at most this many plates per row")
    parser.add_argument("--tta", choices=tuple(TTA_SHIFTS), default=None)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=0, help="image-decoding processes")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit must be a positive integer, got {args.limit}")
    root = Path(args.root)
    reader = PlateReader.from_pretrained(args.checkpoint, tta=args.tta, device=str(resolve_device(args.device)))
    scorer, skipped = Scorer(reader, args.batch_size, args.workers), [0]
    start = time.time()
    groups = subset_groups(root, args.limit, skipped)
    results = {name: scorer.score(records) for name, records in groups.items() if records}
    if "test" in split_names(root):
        seen = {r.path for recs in groups.values() for r in recs}
        rest = [r for r in records_of(root, "test", None, [0]) if r.path not in seen]
        overall = [r for recs in groups.values() for r in recs] + (rest[: args.limit] if args.limit else rest)
    else:
        overall = [r for recs in groups.values() for r in recs]
    results["test (all)"] = scorer.score(overall)
    if args.root2020:
        results["ccpd_green"] = scorer.score(records_of(Path(args.root2020), "test", args.limit, skipped))

    print(f"{'subset':16s} {'n':>7s} {'exact':>8s} {'CER':>8s} {'province':>9s} {'plates/s':>9s}")
    for name, r in results.items():
        print(
            f"{name:16s} {r['n']:7d} {r['accuracy']:8.4f} {r['cer']:8.4f} {r['province_accuracy']:9.4f} "
            f"{r['plates_per_s']:9.1f}"
        )
    rounded = {name: {k: (v if k == "n" else round(v, 4)) for k, v in r.items()} for name, r in results.items()}
    print(
        json.dumps(
            {
                "checkpoint": args.checkpoint or "shipped",
                "tta": args.tta,
                "limit": args.limit,
                "subsets": rounded,
                "skipped": skipped[0],
                "minutes": round((time.time() - start) / 60, 2),
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
