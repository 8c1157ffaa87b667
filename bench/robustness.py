"""Reading crops as detectors deliver them: held-out real plates, perturbed, per perturbation.

    python bench/accuracy.py --pretrained … --keep runs/cv0        # fold models, once
    python bench/robustness.py --model ensemble=runs/cv0 [--model NAME=DIR …] [--folds 5] [--seed 0] [--int8]
    python bench/robustness.py --raw DIR [--checkpoint CKPT]        # loose boxes cut from raw CCPD photos
    python bench/robustness.py --held-out fast [--held-out accurate] --data plateocr/sample_plates

With --model, each DIR holds the fine-tuned fold checkpoints that `bench/accuracy.py --keep DIR`
leaves (same --data, --folds and --seed): every plate is read only by the models of the fold that
held it out, so no row scores a plate a model trained on. The held-out crops are also read recoloured
as green, yellow and white plates (plateocr.data.recolour), as bench/accuracy.py reads them. Each model is read as its checkpoint
says (views, deskew) and as a reader reads by default (each box's plate turned level and cut tight,
plateocr.data.rectify), once more with one view (`NAME/1view`), and both again with the boxes as
they are (`NAME/unrectified`, `NAME/1view/unrectified`), and with --int8 as its int8 ONNX export
reads (`NAME/int8`). Perturbations (plateocr.data.perturbations)
are drawn from the seed, the plate and the kind, so every model reads the same pixels. With --raw,
plates are cut from full CCPD photos by a box around their annotated corners, tight and with
10-30 % margins of real context. With --held-out, a shipped model (or a checkpoint or ONNX file)
reads every crop of --data under the same conditions, as it reads by default (`NAME`; `fast` on a
CPU through its int8 export) and, where that is not float32, as its checkpoint reads in float32
(`NAME/float32`): a fair score only on crops it never trained on, such as the bundled sample, which
the recipe holds out, or a user's own crops. Prints a table and, as its last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from accuracy import fold_checkpoints  # noqa: E402  (bench/ is this script's folder)

from plateocr import PlateReader  # noqa: E402
from plateocr.data.datasets import cv_folds, list_records  # noqa: E402
from plateocr.data.images import load_image  # noqa: E402
from plateocr.data.perturbations import DEFAULT_STRENGTHS, KINDS, loose_crop_from_photo, perturb  # noqa: E402
from plateocr.data.recolour import RECOLOURED, recolour_image  # noqa: E402
from plateocr.models.checkpoint import as_one_model, load_checkpoint, save_checkpoint  # noqa: E402
from plateocr.reading.export import export_onnx  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CLEAN = ("clean", 0.0)
RECOLOURED_PREFIX = "recoloured_"
LOOSE_RAW = 0.3


def conditions(kinds) -> list[tuple[str, float]]:
    recoloured = [(f"{RECOLOURED_PREFIX}{colour}", 0.0) for colour in RECOLOURED]
    return [CLEAN] + recoloured + [(kind, s) for kind in kinds for s in DEFAULT_STRENGTHS[kind]]


def perturbed(image, kind: str, strength: float, seed: int, plate: int):
    if kind == "clean":
        return image
    if kind.startswith(RECOLOURED_PREFIX):  # real glyphs redrawn dark on a light plate (no randomness)
        return recolour_image(image, kind.removeprefix(RECOLOURED_PREFIX))
    return perturb(image, kind, strength, np.random.default_rng((seed, KINDS.index(kind), plate)))


def fold_readers(directory: Path, fold: int, int8: bool = False) -> dict[str, PlateReader]:
    members = fold_checkpoints(directory, fold)
    if not members:
        raise SystemExit(f"error: no fold {fold} checkpoints in {directory} (bench/accuracy.py --keep {directory})")
    payload = as_one_model([load_checkpoint(p) for p in members])
    readers = {
        "": PlateReader.from_checkpoint(payload),
        "/1view": PlateReader.from_checkpoint(payload, tta="none"),
        "/unrectified": PlateReader.from_checkpoint(payload, rectify=False),
        "/1view/unrectified": PlateReader.from_checkpoint(payload, tta="none", rectify=False),
    }
    if int8:  # its int8 ONNX export (plateocr export --int8), read as its checkpoint says
        with tempfile.TemporaryDirectory(prefix="plateocr-int8-") as work:
            checkpoint = save_checkpoint(Path(work) / "fold.pt", payload)
            readers["/int8"] = PlateReader.from_pretrained(export_onnx(checkpoint, Path(work) / "fold.onnx", int8=True))
    return readers


def cross_validated(args) -> tuple[list[str], dict]:
    """Accuracy per (model, condition) over the held-out folds."""
    records, _ = list_records(args.data)
    folds = cv_folds(records, args.folds, args.seed)
    index = plate_numbers(records)
    conds = conditions(args.kinds)
    correct: dict[tuple[str, tuple[str, float]], int] = {}
    names: list[str] = []
    for k, held_out in enumerate(folds):
        readers = {}
        for spec in args.model:
            name, _, directory = spec.partition("=")
            readers |= {name + suffix: r for suffix, r in fold_readers(Path(directory), k, args.int8).items()}
        names += [name for name in readers if name not in names]
        for key, hits in read_under_conditions(readers, held_out, conds, args.seed, index).items():
            correct[key] = correct.get(key, 0) + hits
        print(f"fold {k + 1}/{args.folds} read", file=sys.stderr)
    return names, {key: hits / len(records) for key, hits in correct.items()}


def plate_numbers(records) -> dict[str, int]:
    """Each plate's number in the data set sorted by path: with the seed and the kind, it draws the
    plate's perturbation, so a plate reads the same pixels in every mode and in any fold."""
    return {r.path: i for i, r in enumerate(sorted(records, key=lambda r: r.path))}


def read_under_conditions(readers: dict[str, PlateReader], records, conds, seed: int, index) -> dict:
    """Plates each reader read right, per condition, of `records` perturbed alike for every reader."""
    images = [load_image(r.path) for r in records]
    correct = {}
    for cond in conds:
        crops = [perturbed(im, *cond, seed, index[r.path]) for im, r in zip(images, records)]
        for name, reader in readers.items():
            correct[(name, cond)] = sum(res.plate == r.label for res, r in zip(reader.read(crops), records))
    return correct


def held_out_crops(args) -> tuple[list[str], dict]:
    """Accuracy per (model, condition) of shipped models (or checkpoints) on crops they never trained on."""
    records, _ = list_records(args.data)
    index = plate_numbers(records)
    readers: dict[str, PlateReader] = {}
    for spec in args.held_out:
        readers[spec] = PlateReader.from_pretrained(spec)
        if readers[spec].precision != "float32":
            readers[f"{spec}/float32"] = PlateReader.from_pretrained(spec, precision="float32")
    correct = read_under_conditions(readers, records, conditions(args.kinds), args.seed, index)
    return list(readers), {key: hits / len(records) for key, hits in correct.items()}


def raw_photos(args) -> tuple[list[str], dict]:
    """Accuracy of one checkpoint on plates cut from raw CCPD photos, tight and with loose margins."""
    records = [r for r in list_records(args.raw, layout="ccpd")[0] if r.vertices is not None]
    if not records:
        raise SystemExit(f"error: no raw CCPD photos (annotated corners) under {args.raw}")
    readers = {
        "checkpoint": PlateReader.from_pretrained(args.checkpoint),
        "checkpoint/unrectified": PlateReader.from_pretrained(args.checkpoint, rectify=False),
    }
    photos = [load_image(r.path) for r in records]
    accuracy = {}
    for cond in (("tight_box", 0.0), ("loose_box", LOOSE_RAW)):
        crops = [
            loose_crop_from_photo(p, r.vertices, cond[1], np.random.default_rng((args.seed, i)))
            for i, (p, r) in enumerate(zip(photos, records))
        ]
        for name, reader in readers.items():
            hits = sum(res.plate == r.label for res, r in zip(reader.read(crops), records))
            accuracy[(name, cond)] = hits / len(records)
    return list(readers), accuracy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        action="append",
        metavar="NAME=DIR",
        help="fold checkpoints kept by bench/accuracy.py --keep DIR (repeat for several models)",
    )
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "plates_dev"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--raw", help="raw CCPD photos: loose boxes with real context around the annotated plate")
    parser.add_argument("--checkpoint", help="with --raw: the model to read them (default: the shipped one)")
    parser.add_argument(
        "--held-out",
        action="append",
        metavar="MODEL",
        help="a shipped model's name, a checkpoint or an ONNX file that never trained on --data (repeatable)",
    )
    parser.add_argument(
        "--int8", action="store_true", help="with --model: also read each fold model's int8 ONNX export"
    )
    args = parser.parse_args()
    if sum(map(bool, (args.model, args.raw, args.held_out))) != 1:
        parser.error(
            "give one of --model NAME=DIR (cross-validated), --raw DIR (raw photos) "
            "or --held-out MODEL (crops it never trained on)"
        )
    start = time.time()
    names, accuracy = cross_validated(args) if args.model else raw_photos(args) if args.raw else held_out_crops(args)
    conds = sorted({cond for _, cond in accuracy}, key=lambda c: list(accuracy).index((names[0], c)))
    widths = [max(16, len(n) + 2) for n in names]
    print(f"{'perturbation':22s}" + "".join(f"{n:>{w}s}" for n, w in zip(names, widths)))
    for cond in conds:
        label = cond[0] if cond[0] in ("clean", "tight_box") or cond[1] == 0 else f"{cond[0]} {cond[1]:g}"
        print(f"{label:22s}" + "".join(f"{accuracy[(n, cond)]:{w}.4f}" for n, w in zip(names, widths)))
    result = {f"{n}|{c[0]}|{c[1]:g}": round(a, 4) for (n, c), a in accuracy.items()}
    result["minutes"] = round((time.time() - start) / 60, 1)
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
