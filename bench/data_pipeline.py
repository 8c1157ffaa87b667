"""Training data pipeline throughput: images/s decoded and prepared by DataLoader workers, then augmented.

    python bench/data_pipeline.py [--files 5000] [--workers 0 1 2]

Builds a folder of CCPD-sized crops, lists it once (as training does: no per-epoch rescans), then
times one pass per worker count, lazily decoded, one pass over a RAM cache, and the training loop's
batch augmentation (plateocr.data.transforms.BatchAugment, batches of 32 as the recipe's). Last line: one
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

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from plateocr import SAMPLE_DIR  # noqa: E402
from plateocr.alphabet import Tokenizer  # noqa: E402
from plateocr.data.datasets import CropDataset, list_records, make_collate  # noqa: E402
from plateocr.data.transforms import BatchAugment  # noqa: E402


def images_per_s(dataset, workers: int) -> float:
    loader = DataLoader(
        dataset,
        batch_size=64,
        num_workers=workers,
        collate_fn=make_collate(Tokenizer()),
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
    )
    start = time.perf_counter()
    n = sum(len(batch.labels) for batch in loader)
    return n / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="plateocr-data-"))
    try:
        sample = sorted(SAMPLE_DIR.glob("*.jpg"))
        for i in range(args.files):
            src = sample[i % len(sample)]
            shutil.copy(src, work / f"{src.stem}_{i}.jpg")
        start = time.perf_counter()
        records, _ = list_records(work)
        listing = len(records) / (time.perf_counter() - start)
        result = {"files": len(records), "listing_files_per_s": round(listing)}
        print(f"listing: {listing:,.0f} files/s")
        for workers in args.workers:
            rate = images_per_s(CropDataset(records, (32, 96)), workers)
            result[f"lazy_images_per_s_{workers}_workers"] = round(rate)
            print(f"lazy decode, {workers} worker(s): {rate:,.0f} images/s")
        start = time.perf_counter()
        cached = CropDataset(records, (32, 96), cache=True)
        result["cache_build_images_per_s"] = round(len(records) / (time.perf_counter() - start))
        rate = images_per_s(cached, 0)
        result["cached_images_per_s_0_workers"] = round(rate)
        print(
            f"cached, 0 workers: {rate:,.0f} images/s (cache built at {result['cache_build_images_per_s']:,} images/s)"
        )
        batch = torch.stack([cached[i][0] for i in range(32)])
        augment, start, rounds = BatchAugment(), time.perf_counter(), 200
        for _ in range(rounds):
            augment(batch)
        rate = rounds * len(batch) / (time.perf_counter() - start)
        result["batch_augmented_images_per_s"] = round(rate)
        print(f"batch augmentation, 1 thread: {rate:,.0f} images/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
