"""CPU reading speed: the shipped model against the seed architecture, torch and ONNX.

    python bench/speed.py [--checkpoint CKPT] [--threads 2] [--seconds 3] [--tta phase|shift|none]

Prints a table and, as its last line, one JSON object. Decoding (plate-grammar constrained) is
included in every timing; `end_to_end_*` also includes JPEG decoding and pre-processing (with
deskewing, as the shipped model reads, and once without it) from a folder of crops.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from plateocr import SAMPLE_DIR, PlateReader  # noqa: E402
from plateocr.alphabet import Tokenizer  # noqa: E402
from plateocr.export import export_onnx  # noqa: E402
from plateocr.images import load_image, prepare_crop  # noqa: E402
from plateocr.models import build_model  # noqa: E402
from plateocr.reader import DEFAULT_TTA  # noqa: E402
from plateocr.tta import TTA_SHIFTS  # noqa: E402


def timed(fn, seconds: float) -> float:
    """Calls per second of fn, after a second of warm-up (a single warm-up call left the first
    model measured up to 30 % slow: the first calls pay for allocation and kernel selection)."""
    start = time.perf_counter()
    while time.perf_counter() - start < 1.0:
        fn()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def crops_for(reader: PlateReader, n: int) -> np.ndarray:
    files = sorted(SAMPLE_DIR.glob("*.jpg"))
    crops = [prepare_crop(load_image(f), reader.input_size, reader.deskew) for f in files]
    return np.stack([crops[i % len(crops)] for i in range(n)])


def measure(reader: PlateReader, seconds: float) -> dict:
    batch, single = crops_for(reader, 64), crops_for(reader, 1)
    return {"plates_per_s": 64 * timed(lambda: reader.read_prepared(batch), seconds),
            "latency_ms_b1": 1000 / timed(lambda: reader.read_prepared(single), seconds)}


def end_to_end(reader: PlateReader, folder: Path, workers: int) -> float:
    files = sorted(folder.glob("*.jpg"))
    start = time.perf_counter()
    n = sum(1 for _ in reader.read_files(files, batch_size=64, workers=workers))
    return n / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="default: the shipped model")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--files", type=int, default=3000, help="crops in the end-to-end folder")
    parser.add_argument("--tta", choices=tuple(TTA_SHIFTS), default=DEFAULT_TTA,
                        help="test-time augmentation of the shipped model's readers (the seed's reads once)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    shipped = PlateReader.from_pretrained(args.checkpoint, tta=args.tta)
    seed_model = build_model("seed", Tokenizer().num_classes).eval()
    seed = PlateReader(seed_model, Tokenizer(), "seed", decoder="greedy")
    work = Path(tempfile.mkdtemp(prefix="plateocr-speed-"))
    try:
        onnx_path = export_onnx(args.checkpoint, work / "shipped.onnx")
        onnx = PlateReader.from_pretrained(onnx_path, tta=args.tta, onnx_threads=args.threads)
        rows = {f"{shipped.arch} (torch)": measure(shipped, args.seconds),
                f"{shipped.arch} (onnxruntime)": measure(onnx, args.seconds),
                "seed (torch, random weights)": measure(seed, max(args.seconds, 5))}
        folder = work / "crops"
        folder.mkdir()
        sample = sorted(SAMPLE_DIR.glob("*.jpg"))
        for i in range(args.files):
            shutil.copy(sample[i % len(sample)], folder / f"{i:05d}.jpg")
        unslanted = PlateReader.from_pretrained(args.checkpoint, tta=args.tta, deskew=False)
        e2e = {"end_to_end_plates_per_s": end_to_end(shipped, folder, workers=0),
               "end_to_end_plates_per_s_no_deskew": end_to_end(unslanted, folder, workers=0),
               "end_to_end_plates_per_s_1_worker": end_to_end(shipped, folder, workers=1),
               "end_to_end_onnx_plates_per_s": end_to_end(onnx, folder, workers=0)}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"{'model':32s} {'plates/s (b64)':>15s} {'latency b1 (ms)':>16s}")
    for name, r in rows.items():
        print(f"{name:32s} {r['plates_per_s']:15.0f} {r['latency_ms_b1']:16.2f}")
    for name, v in e2e.items():
        print(f"{name:32s} {v:15.0f}")
    c, s = rows[f"{shipped.arch} (torch)"], rows["seed (torch, random weights)"]
    result = {"arch": shipped.arch, "tta": args.tta, "threads": args.threads, "plates_per_s": round(c["plates_per_s"], 1),
              "seed_plates_per_s": round(s["plates_per_s"], 1),
              "ratio": round(c["plates_per_s"] / s["plates_per_s"], 1),
              "latency_ms_b1": round(c["latency_ms_b1"], 2),
              "onnx_plates_per_s": round(rows[f"{shipped.arch} (onnxruntime)"]["plates_per_s"], 1),
              "onnx_latency_ms_b1": round(rows[f"{shipped.arch} (onnxruntime)"]["latency_ms_b1"], 2),
              **{k: round(v, 1) for k, v in e2e.items()}}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
