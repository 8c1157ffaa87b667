"""Dataset bias: train on one labelled set, score on another (and on the training set's own validation).

    python bench/cross_dataset.py --train /data/CCPD2019 --train-split train --val-split val \\
        --test ../shared/data/plates_dev                         # CCPD2019 -> plates_dev
    python bench/cross_dataset.py --train /data/ccpd2019-dl1 --test /data/CCPD2020 --split test
        [--arch wide] [--epochs 5] [--init CKPT] [--set KEY=VALUE ...] [--out DIR] [--device auto] [--workers N]

Training is `plateocr train` (plateocr.training.loop.train) with its defaults, short (`--epochs`, default
5); `--set` changes any other training parameter. The model it keeps (best.pt) is then read on
`--test` (its `--split`; a dl1 folder's test half when none is named) as `plateocr evaluate` reads.
Rows: the training run's own validation (in-domain) and the other set (cross-dataset). Last line:
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from plateocr import PlateReader  # noqa: E402
from plateocr.data.datasets import list_records  # noqa: E402
from plateocr.reading.tta import TTA_SHIFTS  # noqa: E402
from plateocr.research.recipe import parse_overrides  # noqa: E402
from plateocr.scoring.evaluation import evaluate_reader  # noqa: E402
from plateocr.training.config import TrainConfig  # noqa: E402
from plateocr.training.loop import resolve_device, train  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True, help="labelled data to train on (any --data layout)")
    parser.add_argument("--train-split", help="its split to train on (CCPD: train)")
    parser.add_argument("--val-split", help="its split to validate on (CCPD: val; default: a tenth of it)")
    parser.add_argument("--test", required=True, help="the other labelled set to score on")
    parser.add_argument("--split", help="its split to score (CCPD: test, ccpd_blur, ...)")
    parser.add_argument("--arch", default=TrainConfig.arch)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    parser.add_argument("--init", help="start from this checkpoint's weights (default: from scratch)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="any other training parameter")
    parser.add_argument("--out", help="keep the run here (default: a temporary folder)")
    parser.add_argument("--tta", choices=tuple(TTA_SHIFTS), default=None)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    start = time.time()
    with tempfile.TemporaryDirectory(prefix="plateocr-cross-") as tmp:
        out = args.out or str(Path(tmp) / "run")
        cfg = TrainConfig.from_dict(
            {
                "data": args.train,
                "split": args.train_split,
                "val_split": args.val_split,
                "arch": args.arch,
                "epochs": args.epochs,
                "batch_size": args.batch_size,
                "init_checkpoint": args.init,
                "workers": args.workers,
                "device": args.device,
                "out": out,
                **parse_overrides(args.set),
            }
        )
        result = train(cfg, progress=False)
        best = max(result["history"], key=lambda h: h["val_accuracy"])
        reader = PlateReader.from_pretrained(
            result["checkpoint"], tta=args.tta, device=str(resolve_device(args.device))
        )
        records, skipped = list_records(args.test, split=args.split, held_out=True, alphabet=reader.tokenizer.alphabet)
        if len(skipped):
            print(f"{args.test}: {skipped.summary(limit=20)}", file=sys.stderr)
        test, _ = evaluate_reader(reader, records, args.batch_size, args.workers)

    name = lambda path, split: Path(path).name + (f" ({split})" if split else "")
    rows = {
        "in-domain validation": {
            "data": name(args.train, args.val_split or "validation"),
            "accuracy": best["val_accuracy"],
            "cer": best["val_cer"],
        },
        "cross-dataset": {
            "data": name(args.test, args.split),
            "n": test["n"],
            "accuracy": test["accuracy"],
            "cer": test["cer"],
            "province_accuracy": test["province_accuracy"],
            "plates_per_s": test["plates_per_s"],
        },
    }
    print(f"trained on {name(args.train, args.train_split)}: {args.arch}, {args.epochs} epochs")
    print(f"{'':22s} {'data':28s} {'n':>6s} {'exact':>8s} {'CER':>8s} {'province':>9s}")
    for row, r in rows.items():
        province = f"{r['province_accuracy']:9.4f}" if "province_accuracy" in r else f"{'-':>9s}"
        print(f"{row:22s} {r['data']:28s} {r.get('n', '-'):>6} {r['accuracy']:8.4f} {r['cer']:8.4f} {province}")
    print(
        json.dumps(
            {
                "train": args.train,
                "train_split": args.train_split,
                "test": args.test,
                "split": args.split,
                "arch": args.arch,
                "epochs": args.epochs,
                "skipped": len(skipped),
                "minutes": round((time.time() - start) / 60, 2),
                **{
                    row.replace(" ", "_").replace("-", "_"): {
                        k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()
                    }
                    for row, r in rows.items()
                },
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
