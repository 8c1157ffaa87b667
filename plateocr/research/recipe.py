"""The recipe of the shipped models: the accurate ensemble, then the fast student distilled from it.

    python -m plateocr.research.recipe --real ../shared/data/plates_dev --out runs/recipe --ship

Stage 1 never sees a real plate: balanced provinces and every plate type from the renderer.
Stage 2 fine-tunes on real crops with synthetic plates mixed into every epoch, so the 30 rarely
photographed provinces are not forgotten. Each member arch of the ensemble (wide and sharp) goes
through both stages and they are joined as one checkpoint (the "accurate" model); then the fast
student (one small network, read once per plate) goes through both stages too, learning the
ensemble's per-frame posteriors in both (so without --teacher, --pretrain-only stops before it).
The plates bundled as the demo sample stay out of stage 2 (`--no-hold-out-sample` trains on them
too), so `evaluate --data sample` scores unseen plates.
`--teacher CKPT` distils the student from a trained ensemble (the shipped one: --teacher
plateocr/weights/wide_sharp.pt) and trains no member. Both models land in OUT as accurate.pt and
fast.pt; --ship [DIR] also writes them under the names the package bundles (wide_sharp.pt,
fast.pt, and fast.int8.onnx, the int8 export a CPU reads) to DIR (default OUT/weights), never into
the installed package. Read one with `--checkpoint PATH` or `PlateReader.from_pretrained(PATH)`;
copying DIR's files into plateocr/weights/ in a source checkout makes them the defaults the wheel
bundles. On a CPU the recipe takes hours: `--resume` with the same arguments goes on where an
interrupted one stopped, each stage from its last finished epoch.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from .. import SAMPLE_DIR
from ..data.datasets import detect_layout, list_records, write_manifest
from ..errors import PlateOCRError
from ..models.checkpoint import as_one_model, load_checkpoint, save_checkpoint
from ..reading.export import export_onnx
from ..reading.reader import INT8_EXPORTS, MODELS
from ..training.config import TrainConfig, check_keys, parse_overrides
from ..training.loop import train

# Two archs whose errors differ (16 of 26 shared, where two fine-tunings of one arch share 23): read
# as one, they make fewer errors than either; each costs about 12.5 minutes through both stages.
MEMBERS = ("wide", "sharp")
# Stage 1: a fixed budget with cosine decay (on the plateau schedule the rate never dropped in 6 epochs).
# bf16 autocast and NHWC convs (amp, channels_last) halve a CPU step with batch augmentation; on a
# CPU without bf16 units `amp` trains in float32 (emulated bf16 would be ~10x slower there).
# Both stages: batches of 32, cosine decay, 2 threads, bf16 autocast and NHWC convolutions.
BOTH_STAGES = dict(cache=True, batch_size=32, lr_schedule="cosine", threads=2, amp=True, channels_last=True)
# It also learns the crops detectors cut (margins up to 30 %, turns up to 10°, half and third
# resolution), so loose and turned boxes read better.
PRETRAIN = dict(
    BOTH_STAGES,
    data="synthetic",
    epochs=10,
    synthetic_train=40_000,
    synthetic_val=2_000,
    lr=2e-3,
    detector_crops=True,
)
# The sharp member's stage 1 also trains on deskewed synthetic crops (the wide one's does not): two
# members that learnt from differently prepared crops err on different plates. Cross-validated over
# three splits (before the renderer's Chinese characters were drawn bold), 0.9818 exact, CER 0.0039,
# province 0.9939, non-皖 0.881, against 0.9801 / 0.0045 / 0.9906 / 0.845 with neither deskewed and
# 0.9790 / 0.0045 / 0.9950 / 0.893 with both. With bold characters: 0.9812 / 0.0043 / 0.9945 / 0.905.
PRETRAIN_BY_ARCH = {"sharp": dict(deskew=True)}


def pretrain_params(arch: str) -> dict:
    """Stage 1's parameters for one member arch."""
    return {**PRETRAIN, **PRETRAIN_BY_ARCH.get(arch, {})}


# Stage 2: the few real plates are repeated (each copy augmented afresh) so they are not drowned by
# the synthetic ones, which stay to keep the rare provinces and plate types alive.
# Its crops, real and synthetic, are deskewed as the reader then deskews them (plateocr.data.deskew):
# 0.9801 of the plates cross-validated (three splits), against 0.9768 when only the reading deskewed.
# A share of the real blue plates is redrawn as green, yellow and white (dark characters on a light
# plate), so real glyph shapes are learnt in both polarities: recoloured plates 0.87 -> 0.92 exact on
# one fold with 30 % of them redrawn, tight blue crops unchanged. With 45 % (cross-validated, on a
# stage 1 of its own): recoloured green / yellow / white 0.964 / 0.969 / 0.969 against 0.957 / 0.952
# / 0.945, tight crops 0.9834 against 0.9801. Detector crops stay out of stage 2: there they cost 0.7
# points on tight crops (0.9768 -> 0.9701 cross-validated; look-alikes such as L/1, S/5, D/0).
# Degraded crops (blur, low resolution, JPEG, the plate left in place) do go into stage 2: on one
# stage 1, half-resolution crops 0.891 -> 0.904, blur sigma 1.5 0.673 -> 0.801, JPEG 15 0.864 ->
# 0.907, tight crops 0.9851 -> 0.9801 (cross-validated, read rectified).
FINETUNE = dict(
    BOTH_STAGES,
    epochs=30,
    real_repeat=4,
    mix_synthetic=2_000,
    lr=1e-3,
    deskew=True,
    recolour_p=0.45,
    degraded_crops=True,
)
# The fast reader: one small network read once per plate, distilled from the accurate ensemble's
# per-frame posteriors in both stages (stage 1 on the members' synthetic detector crops, stage 2 on
# the same deskewed, recoloured real crops). Distilling stage 1 too lifted a convolutional student
# from 0.952 to 0.975 out of fold, but it lost double-row plates: the ensemble emits their upper
# letter right after the province, frames away from its glyph, and five columns of reach cannot
# follow it there. The glance arch adds one self-attention layer over its steps for that reach.
STUDENT = "glance"
DISTILLED = dict(teacher_tta="none", distill_weight=1.0, distill_temperature=2.0)
STUDENT_PRETRAIN = dict(PRETRAIN, **DISTILLED)
# Its stage 2 sees the ensemble's recoloured share and degraded crops, while its teacher reads each
# plate before recolouring and degrading (`distill_clean`): the student learns to read a blurred,
# reduced or compressed plate as the ensemble reads the clean one, where a teacher reading the same
# degraded pixels passes on its own errors. Out of fold over three splits, against a stage 2 without
# the three: exact 0.9845 both, CER 0.0032 against 0.0034, province 0.9956 against 0.9939, recoloured
# 0.965-0.967 against 0.963-0.964; split 0 perturbed, half resolution 0.902 against 0.894, blur
# sigma 1 0.952 against 0.945, JPEG 20 0.927 against 0.920, turned 8 degrees 0.957 against 0.962.
STUDENT_FINETUNE = dict(FINETUNE, **DISTILLED, distill_clean=True)
# How each shipped model reads by default: its views, and the temperature and confidence map that
# make its confidence a probability (fitted by `bench/accuracy.py` on held-out reads of the same
# recipe; see plateocr.scoring.calibration).
READING = {
    "accurate": {"tta": "phase", "temperature": 0.1302, "confidence_map": [0.3568, 2.9247]},
    "fast": {"tta": "none", "temperature": 0.5241, "confidence_map": [1.0385, 0.4386]},
}
# With a cosine schedule the last epoch is the intended model; "best" would be picked on ~60 plates.
SHIPPED_STAGE2 = "last.pt"
# The checkpoints the wheel bundles, which evaluate, predict and PlateReader read by name; --ship
# writes files of these names beside the run, never into the installed package.
SHIPPED = MODELS["fast"]
SHIPPED_ACCURATE = MODELS["accurate"]
for _params in (PRETRAIN, FINETUNE, STUDENT_PRETRAIN, STUDENT_FINETUNE, *PRETRAIN_BY_ARCH.values()):
    check_keys(_params)  # a misspelt parameter fails on import, not after a 17-minute stage


def slim_payload(checkpoint: Path) -> dict:
    """What reading needs (weights, config, alphabet, metrics), not the optimizer state."""
    full = load_checkpoint(checkpoint)
    return {k: full[k] for k in ("arch", "alphabet", "model", "config", "metrics", "history", "epoch")}


def ship(checkpoints: list[Path], out: Path, reading: dict | None = None) -> Path:
    """The slim checkpoint of one model, or the ensemble of several (read as the mean of their
    probabilities), with how it is read by default (`tta`, calibration `temperature`)."""
    return save_checkpoint(out, {**as_one_model([slim_payload(c) for c in checkpoints]), **(reading or {})})


# What may differ when an interrupted stage goes on: where and on how many threads it runs.
RESUMABLE_CHANGES = frozenset({"device", "threads", "workers"})


def run_stage(cfg: TrainConfig, resume: bool) -> None:
    """Train one stage into cfg.out. With `resume`, a stage that has a last.pt goes on from it (to
    the same weights as an uninterrupted run) and a finished one is kept; a run with other
    parameters there is an error, not something to build on."""
    last = Path(cfg.out) / "last.pt"
    if not (resume and last.is_file()):
        train(cfg, overwrite=True, progress=False)
        return
    state = load_checkpoint(last)
    wanted, saved = cfg.to_dict(), state.get("config", {})
    changed = sorted(k for k in wanted if k not in RESUMABLE_CHANGES and saved.get(k) != wanted[k])
    if changed:
        raise PlateOCRError(
            f"--resume: {last} was trained with other parameters ("
            + ", ".join(f"{k}={saved.get(k)!r}, not {wanted[k]!r}" for k in changed[:3])
            + "); use another --out or drop --resume to start it again"
        )
    if state["epoch"] + 1 >= cfg.epochs:
        print(f"{cfg.out}: finished ({cfg.epochs} epochs), kept", file=sys.stderr)
        return
    train(cfg, resume=True, progress=False)


def real_training_data(real: str, out: Path, hold_out: Path | None) -> str:
    """The real crops stage 2 trains on: all of `real`, or a manifest of them without the plates
    bundled in `hold_out` (the demo's sample), so `evaluate --data sample` scores unseen plates."""
    if hold_out is None:
        return real
    held = {p.stem for p in hold_out.glob("*.jpg")}
    records, _ = list_records(real)
    kept = [r for r in records if Path(r.path).stem not in held]
    if not kept:
        raise PlateOCRError(
            f"every real plate in {real} is one of the demo sample's: nothing is left to fine-tune on "
            f"(add --no-hold-out-sample)"
        )
    out.mkdir(parents=True, exist_ok=True)
    manifest = write_manifest(kept, out / "stage2_real.csv")
    print(
        f"stage 2 trains on {len(kept)} of {len(records)} real plates ({len(records) - len(kept)} held out "
        f"in {hold_out})",
        file=sys.stderr,
    )
    return str(manifest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", required=True, help="real labelled crops for stage 2")
    parser.add_argument("--out", default="runs/recipe")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--ship",
        nargs="?",
        const="",
        metavar="DIR",
        help=f"also write the results as {SHIPPED_ACCURATE.name} (the ensemble) and {SHIPPED.name} "
        "(the student), the names the package bundles, to DIR (default OUT/weights)",
    )
    parser.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="change a training parameter in every stage (for ablations; python -m plateocr train --help lists them)",
    )
    parser.add_argument("--pretrain-only", action="store_true", help="stop after stage 1")
    parser.add_argument(
        "--finetune-only",
        action="store_true",
        help="skip stage 1: fine-tune from the stage-1 checkpoints already in --out",
    )
    parser.add_argument(
        "--members",
        metavar="ARCH,ARCH",
        default=",".join(MEMBERS),
        help="train each of these archs through both stages and join them as the accurate "
        f"ensemble (default {','.join(MEMBERS)}; one arch, e.g. wide, gives a single model)",
    )
    parser.add_argument(
        "--student",
        default=STUDENT,
        help=f"arch of the fast single-view reader distilled from the ensemble (default {STUDENT}; 'none': no student)",
    )
    parser.add_argument(
        "--teacher",
        metavar="CHECKPOINT",
        help="distil the student from this accurate model (e.g. plateocr/weights/wide_sharp.pt) "
        "instead of training the ensemble's members first",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="go on with an interrupted recipe in --out: each stage continues from its last.pt and "
        "finished stages are kept (without it, every stage starts again)",
    )
    parser.add_argument(
        "--hold-out-sample",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="do not fine-tune on the real plates bundled as the demo sample, so it scores unseen "
        "plates (default; --no-hold-out-sample fine-tunes on them too)",
    )
    return parser


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.ship is not None and args.pretrain_only:
        parser.error("--ship needs stage 2: drop --pretrain-only")
    if args.pretrain_only and args.finetune_only:
        parser.error("--pretrain-only and --finetune-only leave nothing to do together")
    if args.teacher and args.student == "none":
        parser.error("--teacher is the student's: drop --student none")


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    check_args(parser, args)
    out, changes = Path(args.out), parse_overrides(args.set)
    if not args.pretrain_only:
        detect_layout(args.real)  # a wrong path fails now, not after the 17-minute first stage
    # One member: out/pretrain and out/finetune; several: out/pretrain_ARCH, out/finetune_ARCH
    members = [] if args.teacher else [{"arch": a.strip()} for a in args.members.split(",")]
    student = [] if args.student == "none" else [{"arch": args.student}]
    if args.teacher:
        load_checkpoint(args.teacher)  # a wrong or unreadable teacher fails now, not after stage 1
    # Folders are named by arch (out/pretrain_wide, ...) unless the run trains one model.
    folder = lambda stage, member: (
        out / (f"{stage}_{member['arch']}" if len(members + student) > 1 or args.teacher else stage)
    )
    stage = lambda params, member, **where: TrainConfig.from_dict(
        {**params, **changes, **member, **where, "seed": args.seed}
    )
    pretrain = lambda member, **where: stage(pretrain_params(member["arch"]), member, **where)
    student_pretrain = lambda member, **where: stage(STUDENT_PRETRAIN, member, **where)
    for member in members:
        pretrain(member).validate()  # a bad arch or --set fails now, not after a first stage
    for member in student:
        student_pretrain(member).validate()
    if args.finetune_only:
        for member in members + student:
            if not (folder("pretrain", member) / "best.pt").is_file():
                raise PlateOCRError(f"--finetune-only: no stage-1 checkpoint {folder('pretrain', member) / 'best.pt'}")
    minutes: dict[str, float] = {}
    start = time.time()
    lap = lambda name: minutes.update({name: round((time.time() - start) / 60 - sum(minutes.values()), 1)})
    # Stage 1 validates on held-out synthetic plates: no real plate steers it.
    for member in members if not args.finetune_only else ():
        run_stage(pretrain(member, out=str(folder("pretrain", member))), args.resume)
    lap("pretrain_min")
    real = (
        None if args.pretrain_only else real_training_data(args.real, out, SAMPLE_DIR if args.hold_out_sample else None)
    )
    finetune = lambda params, member, **extra: run_stage(
        stage(
            params,
            member,
            data=real,
            out=str(folder("finetune", member)),
            **extra,
            init_checkpoint=str(folder("pretrain", member) / "best.pt"),
        ),
        args.resume,
    )
    for member in members if not args.pretrain_only else ():
        finetune(FINETUNE, member)
    accurate = Path(args.teacher) if args.teacher else out / "accurate.pt"
    if members and not args.pretrain_only and (student or args.ship is not None):  # the student's teacher
        ship([folder("finetune", member) / SHIPPED_STAGE2 for member in members], accurate, READING["accurate"])
    lap("finetune_min")
    # The student learns from the finished ensemble (just trained, or --teacher) in both stages, so
    # without --teacher, --pretrain-only stops before it.
    for member in student if args.teacher or not args.pretrain_only else ():
        if not args.finetune_only:
            where = dict(out=str(folder("pretrain", member)), teacher=str(accurate))
            run_stage(student_pretrain(member, **where), args.resume)
        if not args.pretrain_only:
            finetune(STUDENT_FINETUNE, member, teacher=str(accurate))
            ship([folder("finetune", member) / SHIPPED_STAGE2], out / "fast.pt", READING["fast"])
    lap("student_min")
    minutes["total_min"] = round((time.time() - start) / 60, 1)
    print(json.dumps(minutes))
    if args.ship is not None:
        built = [(accurate, SHIPPED_ACCURATE.name)] if members else []
        built += [(out / "fast.pt", SHIPPED.name)] if student else []
        write_shipped(built, Path(args.ship) if args.ship else out / "weights")
    return 0


def write_shipped(built: list[tuple[Path, str]], ship_dir: Path) -> None:
    """Copy each built checkpoint to `ship_dir` under the name the package bundles it by, with the
    int8 export that a CPU reads of a model that ships one (INT8_EXPORTS)."""
    ship_dir.mkdir(parents=True, exist_ok=True)
    int8_names = {MODELS[model].name: path.name for model, path in INT8_EXPORTS.items()}
    for checkpoint, name in built:
        shutil.copyfile(checkpoint, ship_dir / name)
        shipped = [ship_dir / name]
        if name in int8_names:
            shipped.append(export_onnx(ship_dir / name, ship_dir / int8_names[name], overwrite=True, int8=True))
        for path in shipped:
            print(f"shipped {path} ({path.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except PlateOCRError as error:  # a bad --set or data path: one line, as in the CLI
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
