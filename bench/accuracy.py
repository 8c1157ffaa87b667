"""Cross-validated real-plate accuracy of the training recipe on plates_dev.

    python bench/accuracy.py --pretrained runs/pretrain/best.pt [--folds 5] [--data ../shared/data/plates_dev]
    python bench/accuracy.py --pretrained runs/recipe/pretrain_wide/best.pt runs/recipe/pretrain_sharp/best.pt
                                # several stage-1 checkpoints: each is fine-tuned, the ensemble is scored
        [--set KEY=VALUE ...]   # fine-tuning changes for an ablation, as in python -m plateocr.research.recipe
        [--predictions cv.csv]  # every held-out plate's label and readings, for error analysis
        [--train-fraction 0.5]  # fine-tune on part of each fold's training plates (a learning curve)
        [--keep DIR]            # keep the fine-tuned fold checkpoints (for later analysis)
        [--keep DIR --reuse]    # score the fold checkpoints a run kept, without fine-tuning again
        [--keep DIR --resume]   # go on with an interrupted run: each fold from its last.pt, finished ones kept
        [--jobs 10]             # run the fine-tunings at once in separate processes (many cores or a GPU)
    python bench/accuracy.py --recipe student --pretrained runs/recipe/pretrain_glance/best.pt \
        --teacher runs/cv5      # the default (fast) student's stage 2, each fold distilled from the
                                # ensemble fold models an ensemble run kept (--keep runs/cv5, same --seed)

The synthetic pre-training never sees a real plate, so it is shared by all folds. Each fold is
then left out of the real fine-tuning (the recipe's second stage, same parameters as the shipped
model; with several stage-1 checkpoints, each member is fine-tuned and they are read as one
ensemble) and scored with greedy and with plate-grammar-constrained decoding, the latter also with
test-time augmentation (`constrained_shift`, `constrained_phase`; see plateocr.reading.tta) and on crops
with their slant taken out (`constrained_deskew`: how the default student reads; and
`constrained_phase_deskew`: how the accurate ensemble reads; see plateocr.data.deskew). The held-out
crops are also read recoloured as green, yellow and white plates (`recoloured_*` rows: real glyphs,
dark on light; see plateocr.data.recolour).
Prints a table and, as its last line, one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from plateocr import PlateReader  # noqa: E402
from plateocr.alphabet import Tokenizer  # noqa: E402
from plateocr.data.datasets import cv_folds, list_records, write_manifest  # noqa: E402
from plateocr.data.images import load_image  # noqa: E402
from plateocr.data.recolour import RECOLOURED, recolour_image  # noqa: E402
from plateocr.errors import PlateOCRError  # noqa: E402
from plateocr.models.checkpoint import as_one_model, load_checkpoint  # noqa: E402
from plateocr.reading.decoding import sequence_confidence  # noqa: E402
from plateocr.reading.devices import resolve_device  # noqa: E402
from plateocr.research.recipe import FINETUNE, SHIPPED_STAGE2, STUDENT_FINETUNE, run_stage, ship  # noqa: E402
from plateocr.scoring.calibration import (  # noqa: E402
    expected_calibration_error,
    fit_confidence_map,
    fit_temperature,
    map_confidences,
    reliability,
)
from plateocr.scoring.evaluation import read_records  # noqa: E402
from plateocr.scoring.metrics import summarize  # noqa: E402
from plateocr.training.config import TrainConfig, parse_overrides  # noqa: E402
from plateocr.training.loop import train  # noqa: E402
from plateocr.training.provenance import checkpoint_identity, files_fingerprint, provenance  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# How each model is read: (decoder, test-time augmentation, deskew); the rows of the table.
READINGS = {
    "greedy": ("greedy", "none", False),
    "constrained": ("constrained", "none", False),
    "constrained_shift": ("constrained", "shift", False),
    "constrained_phase": ("constrained", "phase", False),
    "constrained_deskew": ("constrained", "none", True),
    "constrained_phase_deskew": ("constrained", "phase", True),
}
MEMBER_READINGS = ("constrained", "constrained_deskew")  # each member of an ensemble alone
# Stage 2 of each recipe, and how its model reads by default (the reading also scored on the
# recoloured held-out folds): the accurate ensemble with four deskewed views, the student once.
RECIPES = {"ensemble": (FINETUNE, "constrained_phase_deskew"), "student": (STUDENT_FINETUNE, "constrained_deskew")}


def write_predictions(
    path: Path, fold_of: dict, rows: dict, before: dict, members: list[dict], calibrated: list[float]
) -> None:
    """One line per held-out plate: what each model and decoder read, beside the label, and the
    default reading's confidence at the fitted temperature."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            ["fold", "path", "label", *READINGS, "confidence", "synthetic_only_constrained"]
            + [f"member{i}_{key}" for i in range(len(members)) for key in ("constrained", "confidence")]
            + ["calibrated_confidence"]
        )
        for i, c in enumerate(rows["constrained"]):
            w.writerow(
                [
                    fold_of[c["path"]],
                    repo_relative(c["path"]),
                    c["label"],
                    *(rows[r][i]["plate"] for r in READINGS),
                    round(c["confidence"], 4),
                    before["constrained"][i]["plate"],
                ]
                + [
                    v
                    for m in members
                    for v in (m["constrained"][i]["plate"], round(m["constrained"][i]["confidence"], 4))
                ]
                + [round(calibrated[i], 4)]
            )


def repo_relative(path: str) -> str:
    """A data path as the repository sees it (../shared/...), so a committed CSV holds no machine's paths."""
    return os.path.relpath(Path(path).resolve(), REPO)


def write_provenance(
    path: Path, result: dict, default_reading: str, args, records, device: str, wall_time_s: float
) -> None:
    """Beside the predictions: which column is the default reading, its fitted temperature, the
    stage-1 checkpoints, the summary and how the run was made (commit, versions, data, hardware)."""
    meta = {
        "default_reading": default_reading,
        "temperature": result["calibration"]["temperature"],
        "confidence_map": result["calibration"]["confidence_map"],
        "recipe": args.recipe,
        "stage1": [{**checkpoint_identity(p), "checkpoint": repo_relative(p)} for p in args.pretrained],
        "result": result,
        **provenance(
            {k: v for k, v in vars(args).items() if k != "predictions"},
            files_fingerprint(r.path for r in records),
            device,
            round(wall_time_s, 1),
        ),
    }
    path.write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def posteriors(payload: dict, reading: str, records) -> torch.Tensor:
    """(T, B, C) log-probabilities each record's reading was decoded from, as `reading` reads it: the
    plate found in its box and the layout kept, loaded as `read_files` loads it."""
    reader = reader_for(payload, reading)
    return reader.read_with_posteriors([load_image(r.path, reader.input_size) for r in records])[1]


def calibrate(log_probs: torch.Tensor, rows: list[dict]) -> tuple[dict, list[float]]:
    """Temperature and confidence map fitted on all held-out reads, and the calibration error they
    leave, measured by cross-fitting (both fitted on one half of the plates, scored on the other,
    both ways) so that no read scores its own fit."""
    tokenizer = Tokenizer()
    sequences = [tokenizer.encode(r["plate"]) for r in rows]
    correct = [r["plate"] == r["label"] for r in rows]

    def fit(on: list[int]) -> tuple[float, tuple[float, float]]:
        right = [correct[i] for i in on]
        t = fit_temperature(log_probs[:, on], [sequences[i] for i in on], right)
        return t, fit_confidence_map(at_temperature(on, t), right)

    def at_temperature(on: list[int], t: float) -> list[float]:
        return sequence_confidence(log_probs[:, on], [sequences[i] for i in on], t)

    everyone = list(range(len(rows)))
    before = sequence_confidence(log_probs, sequences)
    temperature, confidence_map = fit(everyone)
    crossfit, temperature_only = [0.0] * len(rows), [0.0] * len(rows)
    halves = [everyone[0::2], everyone[1::2]]
    for fit_on, score_on in (halves, halves[::-1]):
        t, m = fit(fit_on)
        sharpened = at_temperature(score_on, t)
        for i, c_t, c in zip(score_on, sharpened, map_confidences(sharpened, m)):
            temperature_only[i], crossfit[i] = c_t, c
    median_right = lambda conf: float(np.median([c for c, ok in zip(conf, correct) if ok])) if any(correct) else 0.0
    report = {
        "temperature": temperature,
        "confidence_map": list(confidence_map),
        "ece_uncalibrated": expected_calibration_error(before, correct),
        "ece_temperature_only_crossfit": expected_calibration_error(temperature_only, correct),
        "ece_calibrated_crossfit": expected_calibration_error(crossfit, correct),
        "median_confidence_right_uncalibrated": round(median_right(before), 4),
        "median_confidence_right_calibrated": round(median_right(crossfit), 4),
        "reliability_calibrated": reliability(crossfit, correct, bins=10),
    }
    return report, map_confidences(at_temperature(everyone, temperature), confidence_map)


def scores(rows) -> dict:
    preds, refs = [r["plate"] for r in rows], [r["label"] for r in rows]
    s = summarize(preds, refs)
    rare = [(p, r) for p, r in zip(preds, refs) if r[0] != "皖"]
    return {
        "accuracy": s["accuracy"],
        "cer": s["cer"],
        "province_accuracy": s["province_accuracy"],
        "non_wan_accuracy": sum(p == r for p, r in rare) / max(1, len(rare)),
        "non_wan_n": len(rare),
    }


def fine_tune(job) -> str:
    """One member fine-tuned without one fold (a process-pool task); returns its checkpoint's path."""
    manifest, stage1, arch, changes, seed, out, recipe, resume = job
    cfg = TrainConfig.from_dict(
        {
            **RECIPES[recipe][0],
            **changes,
            "arch": arch,
            "data": manifest,
            "out": out,
            "init_checkpoint": stage1,
            "seed": seed,
        }
    )
    if resume:
        run_stage(cfg, resume=True)
    else:
        train(cfg, progress=False)  # a --keep DIR that holds a run already is an error, not overwritten
    return f"{out}/{SHIPPED_STAGE2}"


def reader_for(payload: dict, reading: str) -> PlateReader:
    decoder, tta, deskew = READINGS[reading]
    return PlateReader.from_checkpoint(payload, decoder, tta=tta, deskew=deskew)


def read(payload: dict, reading: str, records) -> list[dict]:
    return read_records(reader_for(payload, reading), records)[0]


def read_recoloured(payload: dict, reading: str, records, colour: str) -> list[dict]:
    """The records' crops redrawn as `colour` plates (dark characters) and read; same labels."""
    images = [recolour_image(load_image(r.path), colour) for r in records]
    return [
        {"path": r.path, "label": r.label, "plate": res.plate, "confidence": res.confidence}
        for r, res in zip(records, reader_for(payload, reading).read(images))
    ]


def fold_checkpoints(keep: Path, fold: int) -> list[Path]:
    """The fine-tuned members of one fold, as `--keep DIR` leaves them (bench/robustness.py reads them)."""
    return sorted(keep.glob(f"fold{fold}_member*/{SHIPPED_STAGE2}"))


def fold_manifest(records, path: Path, tmp: Path) -> Path:
    """The fold's training plates listed at `path`, beside the kept folds, so that a resumed fold's
    parameters name the same file; one that lists other plates there (another --seed or --data) is
    an error, never overwritten."""
    fresh = write_manifest(records, tmp / f"listed_{path.name}")  # never `path` itself (no --keep)
    if path.is_file() and path.read_bytes() != fresh.read_bytes():
        raise PlateOCRError(f"{path} lists other training plates: a run with other --seed, --folds or --data kept it")
    path.parent.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(fresh, path))


def fold_teacher(teacher: str | None, fold: int, tmp: Path) -> dict:
    """{"teacher": path} of the ensemble fine-tuned without `fold`, joined from a --keep DIR of this
    bench, when `teacher` is such a folder; {} otherwise (one teacher for every fold, or none)."""
    if not teacher or not Path(teacher).is_dir():
        return {}
    members = fold_checkpoints(Path(teacher), fold)
    if not members:
        raise PlateOCRError(
            f"{teacher} holds no fold{fold}_member*/{SHIPPED_STAGE2}: pass the --keep DIR of an ensemble run"
        )
    return {"teacher": str(ship(members, tmp / f"teacher_{fold}.pt"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pretrained",
        required=True,
        nargs="+",
        help="stage-1 (synthetic) checkpoint; several: fine-tune each and read them as an ensemble",
    )
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "plates_dev"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="change a fine-tuning parameter (ablations; the stage-1 checkpoint should match)",
    )
    parser.add_argument("--predictions", help="write each held-out plate's fold, label and readings to this CSV")
    parser.add_argument(
        "--train-fraction",
        type=float,
        default=1.0,
        help="fine-tune on this share of each fold's training plates; held-out folds stay whole",
    )
    parser.add_argument("--keep", metavar="DIR", help="keep each fold's fine-tuned checkpoints in DIR/foldK_memberI")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --keep DIR: read the fold checkpoints a run with the same --pretrained, --seed and "
        "--folds left there, instead of fine-tuning them again",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="with --keep DIR: go on with a run that stopped there, each fold's fine-tuning from its "
        "last.pt; finished ones are kept (same arguments)",
    )
    parser.add_argument(
        "--recipe",
        choices=RECIPES,
        default="ensemble",
        help="stage 2 of the accurate ensemble's recipe, or of the fast student's",
    )
    parser.add_argument(
        "--teacher",
        help="student recipe: the checkpoint it distils, or the --keep DIR of the ensemble's own run of "
        "this bench (same --seed and --folds), so that each fold distils an ensemble that never saw it",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="fine-tunings (folds × members) run at once, each in its own process (many cores or a GPU)",
    )
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error(f"--jobs must be a positive integer, got {args.jobs}")
    if (args.reuse or args.resume) and not args.keep:
        parser.error("--reuse and --resume read the fold checkpoints of --keep DIR: give --keep")
    if not 0 < args.train_fraction <= 1:
        parser.error(f"--train-fraction must be in (0, 1], got {args.train_fraction}")
    try:
        changes = parse_overrides(args.set)
    except PlateOCRError as error:  # an unknown or mistyped key: one line
        parser.error(str(error))
    if args.teacher and not Path(args.teacher).is_dir():
        changes["teacher"] = str(Path(args.teacher).resolve())
    default_reading = RECIPES[args.recipe][1]

    records, _ = list_records(args.data)
    folds = cv_folds(records, args.folds, args.seed)
    rows = {name: [] for name in READINGS}
    before = {name: [] for name in READINGS}
    members = [{r: [] for r in MEMBER_READINGS} for _ in args.pretrained] if len(args.pretrained) > 1 else []
    recoloured = {colour: [] for colour in RECOLOURED}
    held_out_log_probs = []
    fold_of = {r.path: k for k, fold in enumerate(folds) for r in fold}
    start = time.time()
    stage1 = [load_checkpoint(p) for p in args.pretrained]
    # The recipe pre-trains members on differently prepared crops (recipe.PRETRAIN_BY_ARCH), which an
    # ensemble checkpoint refuses; every reading here says itself whether it deskews, so read them as one.
    synthetic_only = as_one_model([{**c, "config": {**c["config"], "deskew": False}} for c in stage1])
    with tempfile.TemporaryDirectory(prefix="plateocr-cv-") as tmp:
        runs = Path(args.keep) if args.keep else Path(tmp)
        jobs = []  # every (fold, member) fine-tuning; the same seed for a fold's members
        for k in range(args.folds):
            rest = [r for j, f in enumerate(folds) if j != k for r in f]
            rest = rest[: round(args.train_fraction * len(rest))]  # already shuffled: a random subset
            manifest = str(fold_manifest(rest, runs / f"train_{k}.csv", Path(tmp)))
            fold_changes = {**changes, **fold_teacher(args.teacher, k, runs)}
            jobs += [
                (
                    manifest,
                    path,
                    model["arch"],
                    fold_changes,
                    args.seed + k,
                    str(runs / f"fold{k}_member{i}"),
                    args.recipe,
                    args.resume,
                )
                for i, (path, model) in enumerate(zip(args.pretrained, stage1))
            ]
        if args.reuse:
            tuned_paths = [f"{job[5]}/{SHIPPED_STAGE2}" for job in jobs]
            missing = [p for p in tuned_paths if not Path(p).is_file()]
            if missing:
                parser.error(f"--reuse: no fold checkpoint {missing[0]} (a run with --keep {args.keep} leaves them)")
        elif args.jobs == 1:
            tuned_paths = list(map(fine_tune, jobs))
        else:  # spawn: each fine-tuning runs in a fresh interpreter with its own torch threads
            with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
                tuned_paths = list(pool.map(fine_tune, jobs))
        for k, held_out in enumerate(folds):
            tuned = [load_checkpoint(p) for p in tuned_paths[k * len(stage1) : (k + 1) * len(stage1)]]
            fine_tuned = as_one_model(tuned)
            for reading in rows:
                rows[reading] += read(fine_tuned, reading, held_out)
                before[reading] += read(synthetic_only, reading, held_out)
            for mine, member in zip(members, tuned):
                for reading in mine:
                    mine[reading] += read(member, reading, held_out)
            for colour, table in recoloured.items():
                table += read_recoloured(fine_tuned, default_reading, held_out, colour)
            held_out_log_probs.append(posteriors(fine_tuned, default_reading, held_out))
            fold = scores(rows["constrained"][-len(held_out) :])
            print(f"fold {k + 1}/{args.folds}: {len(folds[k])} plates, exact {fold['accuracy']:.4f}", file=sys.stderr)
    result = {
        "folds": args.folds,
        "plates": len(records),
        "minutes": round((time.time() - start) / 60, 1),
        "changes": changes,
        "train_fraction": args.train_fraction,
    }
    print(f"{'':34s} {'exact':>8s} {'CER':>8s} {'province':>9s} {'non-皖':>8s}")
    tables = [("synthetic only", "synthetic_only_", before), ("fine-tuned", "", rows)]
    tables += [(f"member {i} ({model['arch']})", f"member{i}_", m) for i, (model, m) in enumerate(zip(stage1, members))]
    # Real glyphs as dark characters on light plates: a proxy for plates of other colours (plateocr.data.recolour).
    tables += [
        (f"recoloured {colour}", f"recoloured_{colour}_", {default_reading: r}) for colour, r in recoloured.items()
    ]
    for name, prefix, table in tables:
        for reading, r in table.items():
            s = scores(r)
            print(
                f"{name + ' / ' + reading:34s} {s['accuracy']:8.4f} {s['cer']:8.4f} "
                f"{s['province_accuracy']:9.4f} {s['non_wan_accuracy']:8.4f}"
            )
            result.update({f"{prefix}{reading}_{key}": round(v, 4) for key, v in s.items()})
    calibration, calibrated = calibrate(torch.cat(held_out_log_probs, 1), rows[default_reading])
    print(
        f"calibration of {default_reading}: temperature {calibration['temperature']}, confidence map "
        f"{calibration['confidence_map']}, ECE {calibration['ece_uncalibrated']:.4f} -> "
        f"{calibration['ece_temperature_only_crossfit']:.4f} (temperature) -> "
        f"{calibration['ece_calibrated_crossfit']:.4f} (both; cross-fitted), "
        f"median confidence of right reads {calibration['median_confidence_right_uncalibrated']:.3f} -> "
        f"{calibration['median_confidence_right_calibrated']:.3f}"
    )
    result["calibration"] = calibration
    if args.predictions:
        write_predictions(Path(args.predictions), fold_of, rows, before, members, calibrated)
        # The device the fine-tunings ran on, as TrainConfig resolves it.
        device = str(resolve_device(str(changes.get("device", TrainConfig().device))))
        write_provenance(
            Path(args.predictions).with_suffix(".json"),
            result,
            default_reading,
            args,
            records,
            device,
            time.time() - start,
        )
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except PlateOCRError as error:  # a --keep DIR of another run, a wrong --teacher: one line
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
