"""The recipe of the shipped model: synthetic pre-training, then real fine-tuning, of each member.

    python -m plateocr.recipe --real ../shared/data/plates_dev --out runs/recipe --ship

Stage 1 never sees a real plate: balanced provinces and every plate type from the renderer.
Stage 2 fine-tunes on real crops with synthetic plates mixed into every epoch, so the 30 rarely
photographed provinces are not forgotten. Each member arch (wide and sharp) goes through both
stages; --ship joins them into one ensemble checkpoint, plateocr/weights/wide_sharp.pt
(24 minutes in all on 2 CPU cores).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .checkpoint import as_one_model, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .datasets import detect_layout
from .errors import PlateOCRError
from .reader import DEFAULT_CHECKPOINT
from .train import train

# Two archs whose errors differ (16 of 26 shared, where two fine-tunings of one arch share 23): read
# as one, they make fewer errors than either; each costs about 12.5 minutes through both stages.
MEMBERS = ("wide", "sharp")
# Stage 1: a fixed budget with cosine decay (on the plateau schedule the rate never dropped in 6 epochs).
# bf16 autocast and NHWC convs (amp, channels_last) halve a CPU step with batch augmentation; on a
# CPU without bf16 units `amp` trains in float32 (emulated bf16 would be ~10x slower there).
PRETRAIN = dict(data="synthetic", epochs=10, synthetic_train=40_000, synthetic_val=2_000, cache=True,
                batch_size=32, lr=2e-3, lr_schedule="cosine", threads=2, amp=True, channels_last=True)
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
# Its crops, real and synthetic, are deskewed as the reader then deskews them (plateocr.deskew):
# 0.9801 of the plates cross-validated (three splits), against 0.9768 when only the reading deskewed.
FINETUNE = dict(epochs=30, real_repeat=4, mix_synthetic=2_000, cache=True, batch_size=32, lr=1e-3,
                lr_schedule="cosine", threads=2, amp=True, channels_last=True, deskew=True)
# With a cosine schedule the last epoch is the intended model; "best" would be picked on ~60 plates.
SHIPPED_STAGE2 = "last.pt"
SHIPPED = DEFAULT_CHECKPOINT   # what --ship writes is what evaluate, predict and PlateReader read


def slim_payload(checkpoint: Path) -> dict:
    """What reading needs (weights, config, alphabet, metrics), not the optimizer state."""
    full = load_checkpoint(checkpoint)
    return {k: full[k] for k in ("arch", "alphabet", "model", "config", "metrics", "history", "epoch")}


def ship(checkpoints: list[Path], out: Path) -> Path:
    """The slim checkpoint of one model, or the ensemble of several (read as the mean of their probabilities)."""
    return save_checkpoint(out, as_one_model([slim_payload(c) for c in checkpoints]))


def parse_overrides(pairs) -> dict:
    """KEY=VALUE strings as TrainConfig overrides; values are read as JSON where they can be.

    >>> parse_overrides(["type_loss_weight=0", "synthetic_types=blue,green"])
    {'type_loss_weight': 0, 'synthetic_types': 'blue,green'}
    """
    overrides = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: --set takes KEY=VALUE, got {pair!r}")
        try:
            overrides[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key.strip()] = value
    return overrides


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", required=True, help="real labelled crops for stage 2")
    parser.add_argument("--out", default="runs/recipe")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ship", action="store_true", help=f"copy the result to {SHIPPED}")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="change a training parameter in both stages (for ablations)")
    parser.add_argument("--pretrain-only", action="store_true", help="stop after stage 1")
    parser.add_argument("--finetune-only", action="store_true",
                        help="skip stage 1: fine-tune from the stage-1 checkpoints already in --out")
    parser.add_argument("--members", metavar="ARCH,ARCH", default=",".join(MEMBERS),
                        help="train each of these archs through both stages and ship them as one ensemble "
                             f"(default {','.join(MEMBERS)}; one arch, e.g. wide, ships a single model)")
    args = parser.parse_args(argv)
    if args.ship and args.pretrain_only:
        parser.error("--ship needs stage 2: drop --pretrain-only")
    if args.pretrain_only and args.finetune_only:
        parser.error("--pretrain-only and --finetune-only leave nothing to do together")
    out, changes = Path(args.out), parse_overrides(args.set)
    if not args.pretrain_only:
        detect_layout(args.real)   # a wrong path fails now, not after the 17-minute first stage
    # One member: out/pretrain and out/finetune; several: out/pretrain_ARCH, out/finetune_ARCH
    members = [{"arch": a.strip()} for a in args.members.split(",")]
    folder = lambda stage, member: out / (f"{stage}_{member['arch']}" if len(members) > 1 else stage)
    stage = lambda params, member, **where: TrainConfig.from_dict(
        {**params, **changes, **member, **where, "seed": args.seed})
    pretrain = lambda member, **where: stage(pretrain_params(member["arch"]), member, **where)
    for member in members:
        pretrain(member).validate()   # a bad arch or --set fails now, not after a first stage
        if args.finetune_only and not (folder("pretrain", member) / "best.pt").is_file():
            raise PlateOCRError(f"--finetune-only: no stage-1 checkpoint {folder('pretrain', member) / 'best.pt'}")
    start = time.time()
    # Stage 1 validates on held-out synthetic plates: no real plate steers it.
    for member in members if not args.finetune_only else ():
        train(pretrain(member, out=str(folder("pretrain", member))), overwrite=True, progress=False)
    stage1 = time.time() - start
    if args.pretrain_only:
        print(json.dumps({"pretrain_min": round(stage1 / 60, 1)}))
        return 0
    for member in members:
        train(stage(FINETUNE, member, data=args.real, out=str(folder("finetune", member)),
                    init_checkpoint=str(folder("pretrain", member) / "best.pt")), overwrite=True, progress=False)
    minutes = {"pretrain_min": round(stage1 / 60, 1), "finetune_min": round((time.time() - start - stage1) / 60, 1)}
    print(json.dumps(minutes))
    if args.ship:
        ship([folder("finetune", member) / SHIPPED_STAGE2 for member in members], SHIPPED)
        print(f"shipped {SHIPPED} ({SHIPPED.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except PlateOCRError as error:   # a bad --set or data path: one line, as in the CLI
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
