"""CPU reading speed of three readers in one run: the default, the accurate ensemble and the seed arch.

    python bench/speed.py [--model fast|accurate] [--checkpoint CKPT] [--threads 2] [--seconds 3] [--files 3000]

Each shipped reader is read as `PlateReader.from_pretrained(name)` reads it by default (on a CPU,
the default model through its shipped int8 export; `default_precision`), with its views, deskewing
and decoder, at batch 64 and one plate at a time (`plates_per_s`, `latency_ms_b1`); and the same
model with torch (`torch_*`: its checkpoint, bf16 convolutions on a CPU with bf16 units) and with
onnxruntime (`onnx_*`: its float32 export; `onnx_int8_*`: its int8 export). End to end from a
folder of JPEG crops (decoding, pre-processing and finding the plate inside each box included; the
default reader also without that last step, `end_to_end_unrectified_plates_per_s`, and with torch,
`end_to_end_torch_plates_per_s`). End to end reads as the CLI reads a folder: `default_workers`
processes prepare the crops while the model reads (`end_to_end_one_process_plates_per_s`: the
default reader all in one process, each step in turn).
The seed arch (the original notebook's 36 M-parameter CRNN, random weights, one view, greedy
decoding) is measured in the same run, at batch 64, in slices between the slices of every batch-64
and end-to-end measurement (`SeedClock`, `paired`): each ratio divides a reader's rate by the
seed's rate over the same stretch of the run, so a machine whose speed drifts (a shared 2-core
machine read the seed 27 and 37 plates/s four minutes apart) moves both sides alike.
`seed_plates_per_s` is the mean of all its slices (`seed_plates_per_s_range`: the slowest and the
fastest). The seed is read in float32, as the original notebook read it, and also in the torch
readers' own precision (bf16 convolutions on a CPU with bf16 units): `ratio` compares with the
first, `torch_ratio_same_precision` with the second. Prints a table and, as its last line, one
JSON object.
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
from plateocr.data.images import load_image, prepare_crop  # noqa: E402
from plateocr.models.crnn import build_model  # noqa: E402
from plateocr.reading.export import export_onnx  # noqa: E402
from plateocr.reading.reader import DEFAULT_MODEL, MODELS, default_workers  # noqa: E402
from plateocr.reading.tta import TTA_SHIFTS  # noqa: E402


def timed(fn, seconds: float, warm_up: float = 1.0) -> float:
    """Calls per second of fn over `seconds` (at least one call), after `warm_up` seconds of calls
    (a single warm-up call left the first model measured up to 30 % slow: the first calls pay for
    allocation and kernel selection)."""
    start = time.perf_counter()
    while time.perf_counter() - start < warm_up:
        fn()
    n, start = 0, time.perf_counter()
    while n == 0 or time.perf_counter() - start < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


class SeedClock:
    """The seed arch's plates a second at batch 64, one slice at a time (one batch takes it about 2 s
    on 2 cores), every slice kept for the run's mean and range."""

    def __init__(self, seed: PlateReader):
        self.seed, self.batch, self.rates = seed, crops_for(seed, 64), []
        timed(self.read, 0.0, warm_up=3.0)

    def read(self) -> None:
        self.seed.read_prepared(self.batch)

    def slice(self) -> float:
        self.rates.append(64 * timed(self.read, 1.0, warm_up=0.0))
        return self.rates[-1]


def paired(rate, clock: SeedClock, rounds: int) -> tuple[float, float]:
    """Mean plates a second of `rate()` (one slice of a reader's measurement) and of the seed, in
    `rounds` alternating slices of each."""
    rates, seed_rates = [], []
    for _ in range(rounds):
        rates.append(rate())
        seed_rates.append(clock.slice())
    return sum(rates) / rounds, sum(seed_rates) / rounds


def crops_for(reader: PlateReader, n: int) -> np.ndarray:
    files = sorted(SAMPLE_DIR.glob("*.jpg"))
    crops = [prepare_crop(load_image(f), reader.input_size) for f in files]
    return np.stack([crops[i % len(crops)] for i in range(n)])


def measure(reader: PlateReader, seconds: float, clock: SeedClock, rounds: int = 4) -> dict:
    """Plates a second at batch 64, paired with the seed's (`seed_plates_per_s`), and one plate's latency."""
    batch, single = crops_for(reader, 64), crops_for(reader, 1)
    read_batch = lambda: reader.read_prepared(batch)  # noqa: E731
    timed(read_batch, 0.0)
    plates_per_s, seed_rate = paired(lambda: 64 * timed(read_batch, seconds / rounds, 0.0), clock, rounds)
    return {
        "plates_per_s": plates_per_s,
        "seed_plates_per_s": seed_rate,
        "latency_ms_b1": 1000 / timed(lambda: reader.read_prepared(single), seconds),
    }


def end_to_end(reader: PlateReader, folder: Path, rectify: bool = True, workers: int | None = None) -> float:
    """Plates a second read from JPEG files, each box's plate found first (as readers do by
    default) or, with `rectify` False, read as the box is; prepared in `workers` processes (None:
    as many as the CLI would use, `default_workers`)."""
    files = sorted(folder.glob("*.jpg"))
    default, reader.rectify = reader.rectify, rectify
    try:
        workers = default_workers(reader, len(files)) if workers is None else workers
        start = time.perf_counter()
        n = sum(1 for _ in reader.read_files(files, batch_size=64, workers=workers))
        return n / (time.perf_counter() - start)
    finally:
        reader.rectify = default


def sample_folder(folder: Path, n: int) -> Path:
    folder.mkdir()
    sample = sorted(SAMPLE_DIR.glob("*.jpg"))
    for i in range(n):
        shutil.copy(sample[i % len(sample)], folder / f"{i:05d}.jpg")
    return folder


def profile(name: str, model: str, work: Path, folder: Path, args, clock: SeedClock, end_to_end_rounds: int) -> dict:
    """Batch and single-plate speed of `model` as `from_pretrained` reads it by default, with torch
    and with onnxruntime (its float32 and its int8 export), and end to end from JPEG files (the
    default way in `end_to_end_rounds` runs, each beside a slice of the seed)."""
    reader = PlateReader.from_pretrained(model)
    checkpoint = MODELS.get(model, Path(model))
    torch_reader = reader if reader.onnx_session is None else PlateReader.from_pretrained(checkpoint)
    onnx_path = export_onnx(checkpoint, work / f"{name}.onnx")
    onnx = PlateReader.from_pretrained(onnx_path, tta=reader.tta, onnx_threads=args.threads)
    if reader.precision == "int8":  # the shipped int8 export is what a fresh export writes (tested)
        int8 = reader
    else:
        int8_path = export_onnx(checkpoint, work / f"{name}_int8.onnx", int8=True)
        int8 = PlateReader.from_pretrained(int8_path, tta=reader.tta, onnx_threads=args.threads)
    speeds = {"torch": measure(torch_reader, args.seconds, clock), "onnx": measure(onnx, args.seconds, clock)}
    speeds["int8"] = measure(int8, args.seconds, clock)
    default = speeds["int8"] if reader is int8 else speeds["torch"]
    files_per_s, seed_rate = paired(lambda: end_to_end(reader, folder), clock, end_to_end_rounds)
    return {
        "arch": reader.arch,
        "tta": reader.tta,
        "deskew": reader.deskew,
        "default_precision": reader.precision,
        **default,
        "torch_plates_per_s": speeds["torch"]["plates_per_s"],
        "torch_seed_plates_per_s": speeds["torch"]["seed_plates_per_s"],
        "torch_latency_ms_b1": speeds["torch"]["latency_ms_b1"],
        "torch_precision": torch_reader.precision,
        "onnx_plates_per_s": speeds["onnx"]["plates_per_s"],
        "onnx_latency_ms_b1": speeds["onnx"]["latency_ms_b1"],
        "onnx_int8_plates_per_s": speeds["int8"]["plates_per_s"],
        "onnx_int8_latency_ms_b1": speeds["int8"]["latency_ms_b1"],
        "end_to_end_workers": default_workers(reader, args.files),
        "end_to_end_plates_per_s": files_per_s,
        "end_to_end_seed_plates_per_s": seed_rate,
        "end_to_end_torch_plates_per_s": end_to_end(torch_reader, folder),
        "end_to_end_unrectified_plates_per_s": end_to_end(reader, folder, rectify=False),
        "end_to_end_one_process_plates_per_s": end_to_end(reader, folder, workers=0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", choices=tuple(MODELS), default=DEFAULT_MODEL, help="the shipped model measured as the default reader"
    )
    parser.add_argument("--checkpoint", help="measure this checkpoint as the default reader instead")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--files", type=int, default=3000, help="crops in the end-to-end folder")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    models = {"default": args.checkpoint or args.model, "accurate": "accurate"}
    seed_model = build_model("seed", Tokenizer().num_classes).eval()
    seed = PlateReader(seed_model, Tokenizer(), "seed", decoder="greedy", precision="float32")
    seed_same = PlateReader(seed_model, Tokenizer(), "seed", decoder="greedy")
    work = Path(tempfile.mkdtemp(prefix="plateocr-speed-"))
    try:
        folder = sample_folder(work / "crops", args.files)
        clock = SeedClock(seed)
        rows = {
            name: profile(name, model, work, folder, args, clock, end_to_end_rounds=3 if name == "default" else 1)
            for name, model in models.items()
        }
        seed_rate, seed_single = sum(clock.rates) / len(clock.rates), crops_for(seed, 1)
        rows["seed"] = {
            "arch": "seed, float32",
            "tta": "none",
            "plates_per_s": seed_rate,
            "seed_plates_per_s": seed_rate,
            "latency_ms_b1": 1000 / timed(lambda: seed.read_prepared(seed_single), args.seconds),
        }
        if seed_same.autocast_dtype is not None:
            rows["seed_same"] = {
                "arch": "seed, as the readers",
                "tta": "none",
                **measure(seed_same, max(args.seconds, 5), clock, rounds=1),
            }
    finally:
        shutil.rmtree(work, ignore_errors=True)

    precision = seed_same.precision
    print(f"torch readers' convolutions: {precision} (seed row: float32)")
    nan = float("nan")
    print(
        f"{'reader':10s} {'arch':14s} {'views':>5s} {'reads in':>9s} {'b64 /s':>7s} {'b1 ms':>6s} "
        f"{'torch b64':>10s} {'b1 ms':>6s} {'onnx b64':>9s} {'b1 ms':>6s} {'int8 b64':>9s} {'b1 ms':>6s} "
        f"{'JPEG /s':>8s} {'x seed':>7s}"
    )
    for name, r in rows.items():
        views = len(TTA_SHIFTS[r["tta"]])
        print(
            f"{name:10s} {r['arch']:14s} {views:5d} {r.get('default_precision', 'float32'):>9s} "
            f"{r['plates_per_s']:7.0f} {r['latency_ms_b1']:6.2f} "
            f"{r.get('torch_plates_per_s', nan):10.0f} {r.get('torch_latency_ms_b1', nan):6.2f} "
            f"{r.get('onnx_plates_per_s', nan):9.0f} {r.get('onnx_latency_ms_b1', nan):6.2f} "
            f"{r.get('onnx_int8_plates_per_s', nan):9.0f} {r.get('onnx_int8_latency_ms_b1', nan):6.2f} "
            f"{r.get('end_to_end_plates_per_s', nan):8.0f} {r['plates_per_s'] / r['seed_plates_per_s']:7.1f}"
        )
    d, a = rows["default"], rows["accurate"]
    torch_ratio = d["torch_plates_per_s"] / d["torch_seed_plates_per_s"]
    result = {
        "arch": d["arch"],
        "tta": d["tta"],
        "threads": args.threads,
        "default_precision": d["default_precision"],
        "plates_per_s": round(d["plates_per_s"], 1),
        "seed_plates_per_s": round(seed_rate, 1),
        "seed_plates_per_s_range": [round(min(clock.rates), 1), round(max(clock.rates), 1)],
        "ratio": round(d["plates_per_s"] / d["seed_plates_per_s"], 1),
        "latency_ms_b1": round(d["latency_ms_b1"], 2),
        "torch_precision": precision,
        "torch_plates_per_s": round(d["torch_plates_per_s"], 1),
        "torch_ratio": round(torch_ratio, 1),
        "torch_latency_ms_b1": round(d["torch_latency_ms_b1"], 2),
        "seed_same_precision_plates_per_s": round(rows.get("seed_same", rows["seed"])["plates_per_s"], 1),
        "torch_ratio_same_precision": round(
            d["torch_plates_per_s"] / rows["seed_same"]["plates_per_s"] if "seed_same" in rows else torch_ratio, 1
        ),
        "onnx_plates_per_s": round(d["onnx_plates_per_s"], 1),
        "onnx_latency_ms_b1": round(d["onnx_latency_ms_b1"], 2),
        "onnx_int8_plates_per_s": round(d["onnx_int8_plates_per_s"], 1),
        "onnx_int8_latency_ms_b1": round(d["onnx_int8_latency_ms_b1"], 2),
        "end_to_end_plates_per_s": round(d["end_to_end_plates_per_s"], 1),
        "end_to_end_ratio": round(d["end_to_end_plates_per_s"] / d["end_to_end_seed_plates_per_s"], 1),
        "end_to_end_workers": d["end_to_end_workers"],
        "end_to_end_torch_plates_per_s": round(d["end_to_end_torch_plates_per_s"], 1),
        "end_to_end_unrectified_plates_per_s": round(d["end_to_end_unrectified_plates_per_s"], 1),
        "end_to_end_one_process_plates_per_s": round(d["end_to_end_one_process_plates_per_s"], 1),
        "accurate_arch": a["arch"],
        "accurate_plates_per_s": round(a["plates_per_s"], 1),
        "accurate_ratio": round(a["plates_per_s"] / a["seed_plates_per_s"], 1),
        "accurate_latency_ms_b1": round(a["latency_ms_b1"], 2),
        "accurate_end_to_end_plates_per_s": round(a["end_to_end_plates_per_s"], 1),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
