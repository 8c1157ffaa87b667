"""Does the int8 ONNX export read as its float32 model does? Plates read differently, per condition.

    python bench/int8.py [--checkpoint CKPT_OR_MODEL_NAME] [--n 1800] [--real ../shared/data/plates_dev]

The checkpoint (default: the default model) is read in float32 with torch and through its int8
export (`plateocr export --int8`) on the same crops: plates_dev as it is, recoloured and under each
perturbation of `bench/robustness.py` (seed 0), and held-out synthetic plates of every type. It
prints, per condition, both exact accuracies and the plates whose readings differ. The shipped
model trained on plates_dev, so its accuracies there are not out of fold; the differences measure
the quantization alone, on crops it never saw in these forms. Runs on this machine's CPU: on x86
CPUs without VNNI units, onnxruntime's int8 products behave differently from those with them.
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from robustness import conditions, perturbed  # noqa: E402  (bench/ is this script's folder)

from plateocr import PlateReader  # noqa: E402
from plateocr.alphabet import PLATE_TYPES  # noqa: E402
from plateocr.data.datasets import list_records  # noqa: E402
from plateocr.data.images import load_image  # noqa: E402
from plateocr.data.perturbations import KINDS  # noqa: E402
from plateocr.reading.export import export_onnx  # noqa: E402
from plateocr.scoring.evaluation import read_records, records_for  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def compare(readers: dict[str, PlateReader], images: list, labels: list[str]) -> dict:
    plates = {name: [r.plate for r in reader.read(images)] for name, reader in readers.items()}
    exact = {name: sum(p == t for p, t in zip(read, labels)) / len(labels) for name, read in plates.items()}
    return {
        "n": len(labels),
        "float32": round(exact["float32"], 4),
        "int8": round(exact["int8"], 4),
        "differ": sum(a != b for a, b in zip(plates["float32"], plates["int8"])),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a checkpoint, or a shipped model's name (default: the default model)")
    parser.add_argument("--n", type=int, default=1800, help="held-out synthetic plates (all types)")
    parser.add_argument("--real", default=str(REPO.parent / "shared" / "data" / "plates_dev"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="plateocr-int8-") as tmp:
        readers = {
            "float32": PlateReader.from_pretrained(args.checkpoint, precision="float32"),
            "int8": PlateReader.from_pretrained(export_onnx(args.checkpoint, Path(tmp) / "int8.onnx", int8=True)),
        }
        if Path(args.real).is_dir():
            records = list_records(args.real)[0]
            crops = [load_image(r.path) for r in records]
            labels = [r.label for r in records]
            for kind, strength in conditions(KINDS):
                images = [perturbed(image, kind, strength, 0, i) for i, image in enumerate(crops)]
                rows[f"{kind} {strength:g}" if strength else kind] = compare(readers, images, labels)
        from plateocr.synth.render import TYPE_BENCH_SEED, write_synthetic

        write_synthetic(args.n, Path(tmp) / "s", seed=TYPE_BENCH_SEED, type_weights={t: 1.0 for t in PLATE_TYPES})
        synthetic = records_for(Path(tmp) / "s", tmp)
        read = {name: read_records(reader, synthetic)[0] for name, reader in readers.items()}
        for plate_type in PLATE_TYPES:
            pairs = [(a, b) for a, b in zip(read["float32"], read["int8"]) if a["true_type"] == plate_type]
            rows[f"synthetic {plate_type}"] = {
                "n": len(pairs),
                "float32": round(sum(a["correct"] for a, _ in pairs) / max(1, len(pairs)), 4),
                "int8": round(sum(b["correct"] for _, b in pairs) / max(1, len(pairs)), 4),
                "differ": sum(a["plate"] != b["plate"] for a, b in pairs),
            }
    print(f"{'condition':26s} {'n':>5s} {'float32':>8s} {'int8':>8s} {'differ':>7s}")
    for name, row in rows.items():
        print(f"{name:26s} {row['n']:5d} {row['float32']:8.4f} {row['int8']:8.4f} {row['differ']:7d}")
    total = sum(r["differ"] for r in rows.values())
    result = {
        "checkpoint": readers["float32"].source,
        "plates": sum(r["n"] for r in rows.values()),
        "differ": total,
        "conditions": rows,
    }
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
