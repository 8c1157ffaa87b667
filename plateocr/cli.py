"""Command line: a thin argparse layer over the package; it prints, the library returns."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import PlateOCRError


def _add_reader_args(p: argparse.ArgumentParser) -> None:
    from .reading.reader import DEFAULT_MODEL, MODELS, READER_PRECISIONS
    from .reading.tta import TTA_SHIFTS

    p.add_argument("--checkpoint", help="checkpoint .pt (default: the pretrained model shipped in the repo)")
    p.add_argument(
        "--model",
        choices=tuple(MODELS),
        default=None,
        help=f"a shipped model by name (default: {DEFAULT_MODEL}): fast reads each plate once with one "
        "small network; accurate is the ensemble it was distilled from, several views each",
    )
    p.add_argument("--onnx", help="read with onnxruntime from this exported .onnx file")
    p.add_argument("--decoder", choices=("constrained", "greedy"), default="constrained")
    p.add_argument(
        "--tta",
        choices=tuple(TTA_SHIFTS),
        default=None,
        help="test-time augmentation: read shifted views and average them (views: "
        + ", ".join(f"{name} {len(shifts)}" for name, shifts in TTA_SHIFTS.items())
        + "; each view costs one model pass; default: as the model's checkpoint says)",
    )
    p.add_argument(
        "--deskew",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="take the slant of plates seen from one side out of each crop before reading "
        "(default: if the model was trained so, as the shipped one was)",
    )
    p.add_argument(
        "--rectify",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="find the plate inside each box, turn it level and cut the box tight before reading "
        "(for the loose or turned boxes detectors hand over; --no-rectify for crops already tight "
        "and level, such as CCPD's)",
    )
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes that decode and prepare images while the model reads "
        "(default: half the CPU's cores for more than a batch of images when each plate is found in its "
        "box or the model runs on a GPU, else none)",
    )
    p.add_argument(
        "--device",
        default="auto",
        help="where a .pt checkpoint runs: auto (a CUDA GPU when there is one), cpu, cuda or cuda:N; "
        "an .onnx file always runs on the CPU",
    )
    p.add_argument(
        "--precision",
        choices=READER_PRECISIONS,
        default="auto",
        help="auto: on a CPU, a shipped model through its int8 export where it ships one (the default "
        "model does: ~1.3x the plates a second of float32 torch, the same readings on plates_dev); "
        "a .pt checkpoint's convolutions in bf16 where the CPU or GPU has bf16 units, else float32; "
        "float32: the checkpoint with torch in float32; int8: the shipped int8 export",
    )


def build_parser() -> argparse.ArgumentParser:
    from .training.config import add_arguments

    parser = argparse.ArgumentParser(prog="python -m plateocr", description="Chinese licence-plate recognition")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a recogniser", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_arguments(t)  # one flag per TrainConfig field
    t.add_argument("--resume", action="store_true", help="continue the run in --out from last.pt")
    t.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    t.add_argument("--quiet", action="store_true", help="no progress bars")

    e = sub.add_parser("evaluate", help="score a model on labelled data")
    e.add_argument("--data", required=True)
    e.add_argument(
        "--split",
        help="the part of --data to score: a CCPD tree's official split or subset file "
        "(test, val, ccpd_blur, ...) or a dl1 folder's train/test (default: all of it; dl1: test)",
    )
    e.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    _add_reader_args(e)

    p = sub.add_parser("predict", help="read plates from images or folders")
    p.add_argument("images", nargs="+", metavar="IMAGE_OR_DIR")
    p.add_argument("--json", action="store_true", help="one JSON object per image")
    _add_reader_args(p)

    x = sub.add_parser("export", help="export a checkpoint to ONNX")
    x.add_argument("--checkpoint", help="checkpoint .pt or a shipped model's name (default: the default model)")
    x.add_argument("--onnx", required=True, help="output .onnx path")
    x.add_argument("--overwrite", action="store_true", help="replace an existing .onnx file")
    x.add_argument(
        "--int8",
        action="store_true",
        help="int8 convolutions and matrix products (onnxruntime static quantization, calibrated on the "
        "bundled real crops): ~1.4x the plates a second of float32 on a CPU with int8 dot-product units",
    )

    s = sub.add_parser("synth", help="render synthetic plates to LABEL.jpg files")
    s.add_argument("--n", type=int, required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--seed", type=int, default=0)
    return parser


def _reader(args):
    from .reading.devices import resolve_device
    from .reading.reader import PlateReader

    return PlateReader.from_pretrained(
        args.onnx or args.checkpoint or args.model,
        decoder=args.decoder,
        tta=args.tta,
        deskew=args.deskew,
        device=str(resolve_device(args.device)),
        precision=args.precision,
        rectify=args.rectify,
    )


def cmd_train(args) -> int:
    from .training.config import from_arguments
    from .training.loop import train

    cfg = from_arguments(args)
    result = train(cfg, resume=args.resume, overwrite=args.overwrite, progress=not args.quiet)
    if "provenance" in result:
        print(
            json.dumps(
                {
                    "best_val_accuracy": result["best_val_accuracy"],
                    **result["metrics"],
                    "checkpoint": result["checkpoint"],
                },
                ensure_ascii=False,
            )
        )
    return 0


def cmd_evaluate(args) -> int:
    from .data.datasets import detect_layout, list_records
    from .scoring.evaluation import evaluate_reader

    detect_layout(args.data)  # a wrong data path is reported before the model loads
    reader = _reader(args)
    records, skipped = list_records(args.data, split=args.split, held_out=True, alphabet=reader.tokenizer.alphabet)
    if len(skipped):
        print(skipped.summary(), file=sys.stderr)
    summary, rows = evaluate_reader(reader, records, args.batch_size, _workers(args, reader, len(records)))
    for row in rows:
        if row["error"]:
            print(f"warning: {row['error']}", file=sys.stderr)
    if summary["unreadable"]:
        print(f"{summary['unreadable']} image(s) could not be read (scored as unread plates)", file=sys.stderr)
    summary["skipped"] = len(skipped)
    if not args.json:
        print(
            f"plates {summary['n']}  exact {summary['accuracy']:.4f}  CER {summary['cer']:.4f}  "
            f"province {summary['province_accuracy']:.4f}  type {summary['type_accuracy']:.4f}  "
            f"{summary['plates_per_s']:.0f} plates/s"
        )
        for plate_type, acc in summary["accuracy_by_type"].items():
            print(f"  {plate_type:14s} exact {acc:.4f}")
        if summary["invalid"]:
            print(f"  {summary['invalid']} read(s) are no valid plate (the decoder found none)")
    print(json.dumps(summary, ensure_ascii=False) if args.json else "", end="\n" if args.json else "")
    return 0


def _workers(args, reader, files: int) -> int:
    from .reading.reader import default_workers

    if args.workers is not None and args.workers < 0:
        raise PlateOCRError(f"--workers must be >= 0, got {args.workers}")
    return default_workers(reader, files, args.batch_size) if args.workers is None else args.workers


def _expand_images(items: list[str]) -> list[Path]:
    """Image files named or inside the folders named; other files in folders are reported, not read."""
    from .data.datasets import COMPANION_FILES, _image_files

    files: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            images, others = _image_files(p)
            files += images
            others = [o for o in others if o.name not in COMPANION_FILES]
            if others:
                print(
                    f"warning: skipped {len(others)} non-image file(s) in {p}: "
                    + ", ".join(o.name for o in others[:5])
                    + (" …" if len(others) > 5 else ""),
                    file=sys.stderr,
                )
        elif p.exists():
            files.append(p)
        else:
            raise PlateOCRError(f"{p}: no such file or folder")
    return files


def cmd_predict(args) -> int:
    reader = _reader(args)
    failures = 0
    files = _expand_images(args.images)
    for res in reader.read_files(files, args.batch_size, _workers(args, reader, len(files))):
        if res.error:
            failures += 1
            print(f"warning: {res.error}", file=sys.stderr)
            if not args.json:
                continue
        if args.json:
            print(
                json.dumps(
                    {
                        "path": res.path,
                        "plate": res.plate,
                        "confidence": round(res.confidence, 4),
                        "valid": res.valid,
                        "plate_type": res.plate_type,
                        "error": res.error,
                    },
                    ensure_ascii=False,
                )
            )
        else:
            print(f"{res.path}\t{res.plate}\t{res.confidence:.4f}")
    if failures:
        print(f"{failures} image(s) could not be read", file=sys.stderr)
    return 1 if failures else 0


def cmd_export(args) -> int:
    from .reading.export import export_onnx

    path = export_onnx(args.checkpoint, args.onnx, args.overwrite, int8=args.int8)
    print(f"wrote {path}")
    return 0


def cmd_synth(args) -> int:
    from .synth.render import write_synthetic

    manifest = write_synthetic(args.n, args.out, seed=args.seed)
    print(f"wrote {args.n} plates to {args.out} (manifest {manifest})")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = {
        "train": cmd_train,
        "evaluate": cmd_evaluate,
        "predict": cmd_predict,
        "export": cmd_export,
        "synth": cmd_synth,
    }[args.command]
    try:
        return command(args)
    except PlateOCRError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
