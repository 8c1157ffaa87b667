"""Scoring a PlateReader on a labelled data set: the figures `evaluate` prints and 03 plots."""

from __future__ import annotations

import time
from collections import Counter

from ..alphabet import PLATE_TYPES
from ..data.datasets import PlateRecord
from ..reading.reader import PlateReader
from ..synth.render import EVAL_SEED
from .metrics import summarize


def read_records(
    reader: PlateReader, records: list[PlateRecord], batch_size: int = 64, workers: int = 0
) -> tuple[list[dict], float]:
    """One row per record (truth, prediction, confidence, validity, types, error) and the plates/s
    achieved; an unreadable image is a row with its `error` set, read as an empty plate."""
    start = time.perf_counter()
    rows = []
    # Raw CCPD photos carry their plate's corners: the plate is warped out of the photo, in the workers.
    results = list(reader.read_files([r.path for r in records], batch_size, workers, [r.vertices for r in records]))
    elapsed = time.perf_counter() - start
    for rec, res in zip(records, results):
        rows.append(
            {
                "path": rec.path,
                "label": rec.label,
                "plate": res.plate,
                "confidence": res.confidence,
                "valid": res.valid,
                "true_type": rec.plate_type,
                "plate_type": res.plate_type,
                "error": res.error,
                "correct": res.plate == rec.label,
            }
        )
    return rows, len(records) / max(elapsed, 1e-9)


def summarize_rows(rows: list[dict]) -> dict:
    """Exact accuracy, CER, per-position/province/type accuracy, the type confusion table, and the
    counts of unreadable images and of reads that are no valid plate."""
    summary = summarize([r["plate"] for r in rows], [r["label"] for r in rows])
    by_type: dict[str, list[bool]] = {}
    for r in rows:
        by_type.setdefault(r["true_type"], []).append(r["correct"])
    summary["accuracy_by_type"] = {t: sum(v) / len(v) for t, v in sorted(by_type.items())}
    summary["type_accuracy"] = sum(r["true_type"] == r["plate_type"] for r in rows) / max(1, len(rows))
    confusion = Counter((r["true_type"], r["plate_type"]) for r in rows)
    summary["type_confusion"] = {
        t: {p: confusion[(t, p)] for p in PLATE_TYPES if confusion[(t, p)]}
        for t in PLATE_TYPES
        if any(confusion[(t, p)] for p in PLATE_TYPES)
    }
    summary["unreadable"] = sum(r["error"] is not None for r in rows)
    summary["invalid"] = sum(r["error"] is None and not r["valid"] for r in rows)
    return summary


def evaluate_reader(
    reader: PlateReader, records: list[PlateRecord], batch_size: int = 64, workers: int = 0
) -> tuple[dict, list[dict]]:
    rows, plates_per_s = read_records(reader, records, batch_size, workers)
    summary = summarize_rows(rows)
    summary["plates_per_s"] = round(plates_per_s, 1)
    return summary, rows


def records_for(data_dir, workdir, synthetic_n: int = 600, synthetic_seed: int = EVAL_SEED) -> list[PlateRecord]:
    """Labelled records to evaluate on; "synthetic" renders held-out plates of every type to `workdir`
    (a seed that no training run uses), re-using them when already there."""
    from pathlib import Path

    from ..data.datasets import MANIFEST, SYNTHETIC, list_records

    if str(data_dir) == SYNTHETIC:
        from ..synth.render import write_synthetic

        workdir = Path(workdir)
        if not (workdir / MANIFEST).exists():
            write_synthetic(synthetic_n, workdir, seed=synthetic_seed)
        data_dir = workdir
    return list_records(data_dir, held_out=True)[0]
