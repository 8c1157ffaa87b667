"""The recipe of the shipped model: synthetic pre-training, then real fine-tuning.

    python -m plateocr.recipe --real ../shared/data/plates_dev --out runs/recipe

Stage 1 never sees a real plate: balanced provinces and every plate type from the renderer.
Stage 2 fine-tunes on real crops with synthetic plates mixed into every epoch, so the 30 rarely
photographed provinces are not forgotten. The result is copied to plateocr/weights/compact.pt.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .checkpoint import load_checkpoint, save_checkpoint
from .config import TrainConfig
from .train import train

PRETRAIN = dict(data="synthetic", epochs=6, synthetic_val=2_000, synthetic_train=40_000, cache=True, batch_size=32, lr=2e-3,
                threads=2)
FINETUNE = dict(epochs=12, mix_synthetic=3_000, cache=True, batch_size=32, lr=5e-4, threads=2)
SHIPPED = Path(__file__).parent / "weights" / "compact.pt"


def slim(checkpoint: Path, out: Path) -> Path:
    """Keep what reading needs (weights, config, alphabet, metrics), not the optimizer state."""
    full = load_checkpoint(checkpoint)
    keep = {k: full[k] for k in ("arch", "alphabet", "model", "config", "metrics", "history", "epoch")}
    return save_checkpoint(out, keep)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", required=True, help="real labelled crops for stage 2")
    parser.add_argument("--out", default="runs/recipe")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ship", action="store_true", help=f"copy the result to {SHIPPED}")
    args = parser.parse_args(argv)
    out = Path(args.out)
    start = time.time()
    # Stage 1 validates on held-out synthetic plates: no real plate steers it.
    train(TrainConfig(**PRETRAIN, out=str(out / "pretrain"), seed=args.seed), overwrite=True, progress=False)
    stage1 = time.time() - start
    train(TrainConfig(**FINETUNE, data=args.real, out=str(out / "finetune"), seed=args.seed,
                      init_checkpoint=str(out / "pretrain" / "best.pt")), overwrite=True, progress=False)
    minutes = {"pretrain_min": round(stage1 / 60, 1), "finetune_min": round((time.time() - start - stage1) / 60, 1)}
    print(json.dumps(minutes))
    if args.ship:
        slim(out / "finetune" / "best.pt", SHIPPED)
        print(f"shipped {SHIPPED} ({SHIPPED.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
