"""Cross-validated real-plate accuracy of the training recipe on plates_dev.

    python bench/accuracy.py --pretrained runs/pretrain/best.pt [--folds 5] [--data ../shared/data/plates_dev]
        [--set KEY=VALUE ...]   # fine-tuning changes for an ablation, as in python -m plateocr.recipe
        [--predictions cv.csv]  # every held-out plate's label and readings, for error analysis
        [--train-fraction 0.5]  # fine-tune on part of each fold's training plates (a learning curve)

The synthetic pre-training never sees a real plate, so it is shared by all folds. Each fold is
then left out of the real fine-tuning (the recipe's second stage, same parameters as the shipped
model) and scored with greedy and with plate-grammar-constrained decoding. Prints a table and, as
its last line, one JSON object.
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from plateocr import PlateReader  # noqa: E402
from plateocr.config import TrainConfig  # noqa: E402
from plateocr.datasets import list_records  # noqa: E402
from plateocr.evaluation import read_records  # noqa: E402
from plateocr.metrics import summarize  # noqa: E402
from plateocr.recipe import FINETUNE, SHIPPED_STAGE2, parse_overrides  # noqa: E402
from plateocr.train import train  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def write_manifest(records, path: Path) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["path", "label"])
        w.writerows((Path(r.path).resolve(), r.label) for r in records)   # the manifest lives elsewhere
    return path


def write_predictions(path: Path, fold_of: dict, rows: dict, before: dict) -> None:
    """One line per held-out plate: what each model and decoder read, beside the label."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["fold", "path", "label", "greedy", "constrained", "confidence",
                    "synthetic_only_constrained"])
        for g, c, s in zip(rows["greedy"], rows["constrained"], before["constrained"]):
            w.writerow([fold_of[c["path"]], c["path"], c["label"], g["plate"], c["plate"],
                        round(c["confidence"], 4), s["plate"]])


def scores(rows) -> dict:
    preds, refs = [r["plate"] for r in rows], [r["label"] for r in rows]
    s = summarize(preds, refs)
    rare = [(p, r) for p, r in zip(preds, refs) if r[0] != "皖"]
    return {"accuracy": s["accuracy"], "cer": s["cer"], "province_accuracy": s["province_accuracy"],
            "non_wan_accuracy": sum(p == r for p, r in rare) / max(1, len(rare)), "non_wan_n": len(rare)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrained", required=True, help="stage-1 (synthetic) checkpoint")
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "plates_dev"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="change a fine-tuning parameter (ablations; the stage-1 checkpoint should match)")
    parser.add_argument("--predictions", help="write each held-out plate's fold, label and readings to this CSV")
    parser.add_argument("--train-fraction", type=float, default=1.0,
                        help="fine-tune on this share of each fold's training plates; held-out folds stay whole")
    args = parser.parse_args()
    if not 0 < args.train_fraction <= 1:
        parser.error(f"--train-fraction must be in (0, 1], got {args.train_fraction}")
    changes = parse_overrides(args.set)

    records, _ = list_records(args.data)
    order = list(records)
    random.Random(args.seed).shuffle(order)
    folds = [order[k::args.folds] for k in range(args.folds)]
    rows = {"greedy": [], "constrained": []}
    fold_of = {}
    before = {"greedy": [], "constrained": []}
    start = time.time()
    with tempfile.TemporaryDirectory(prefix="plateocr-cv-") as tmp:
        for k, held_out in enumerate(folds):
            rest = [r for j, f in enumerate(folds) if j != k for r in f]
            rest = rest[:round(args.train_fraction * len(rest))]   # already shuffled: a random subset
            manifest = write_manifest(rest, Path(tmp) / f"train_{k}.csv")
            cfg = TrainConfig.from_dict({**FINETUNE, **changes, "data": str(manifest), "out": f"{tmp}/fold{k}",
                                         "init_checkpoint": args.pretrained, "seed": args.seed + k})
            train(cfg, progress=False)
            fold_of.update((r.path, k) for r in held_out)
            for decoder in rows:
                rows[decoder] += read_records(PlateReader.from_pretrained(f"{tmp}/fold{k}/{SHIPPED_STAGE2}", decoder), held_out)[0]
                before[decoder] += read_records(PlateReader.from_pretrained(args.pretrained, decoder), held_out)[0]
            fold = scores(rows["constrained"][-len(held_out):])
            print(f"fold {k + 1}/{args.folds}: {len(held_out)} plates, exact {fold['accuracy']:.4f}", file=sys.stderr)
    result = {"folds": args.folds, "plates": len(records), "minutes": round((time.time() - start) / 60, 1),
              "changes": changes, "train_fraction": args.train_fraction}
    print(f"{'':28s} {'exact':>8s} {'CER':>8s} {'province':>9s} {'non-皖':>8s}")
    for name, table in (("synthetic only", before), ("fine-tuned", rows)):
        for decoder, r in table.items():
            s = scores(r)
            print(f"{name + ' / ' + decoder:28s} {s['accuracy']:8.4f} {s['cer']:8.4f} "
                  f"{s['province_accuracy']:9.4f} {s['non_wan_accuracy']:8.4f}")
            prefix = "" if name == "fine-tuned" else "synthetic_only_"
            result.update({f"{prefix}{decoder}_{key}": round(v, 4) for key, v in s.items()})
    if args.predictions:
        write_predictions(Path(args.predictions), fold_of, rows, before)
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
