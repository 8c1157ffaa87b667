"""`make reports`: run 01 → 02 → 03 with papermill into reports/, then HTML via nbconvert.

    python -m plateocr.research.reports --params reports/params_full.yaml --out reports

The parameter file has one section per notebook (plus `common`, given to all three); paths in
it are relative to the repository root. 02_train also takes every TrainConfig field by its name, and
`recipe_stage: pretrain|finetune` starts them from that stage of the recipe; every name is checked
before anything runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ..errors import PlateOCRError

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = ("01_explore", "02_train", "03_error_analysis")
TRAINING_NOTEBOOK = "02_train"
PATH_PARAMETERS = (
    "data_dir",
    "val_dir",
    "real_dir",
    "output_dir",
    "checkpoint",
    "synthetic_checkpoint",
    "predictions",
)
# Inputs committed inside a report's folder (03's out-of-fold readings and their provenance): kept.
KEPT_INPUTS = ("cv_predictions.csv", "cv_predictions.json")


def _absolute(params: dict) -> dict:
    """Paths in the parameter file are relative to the repo; notebooks run in notebooks/."""
    out = dict(params)
    for key in PATH_PARAMETERS:
        value = out.get(key)
        if isinstance(value, str) and value not in ("synthetic", "sample"):
            out[key] = str((REPO / value).resolve())
    return out


def notebook_parameters(name: str, section: dict, declared: set[str]) -> dict:
    """A section of the parameter file as papermill parameters; a name the notebook does not take
    (its parameters cell, and for 02_train every TrainConfig field) fails in one line.

    >>> notebook_parameters("02_train", {"recipe_stage": "pretrain", "ema_decay": 0.9}, {"data_dir"})["lr"]
    0.002
    >>> notebook_parameters("02_train", {"epoch": 3}, {"data_dir"})
    Traceback (most recent call last):
    ...
    plateocr.errors.PlateOCRError: 02_train: unknown parameter(s) epoch (its parameters cell and TrainConfig's fields)
    """
    from dataclasses import fields

    from ..training.config import TrainConfig
    from .recipe import FINETUNE, PRETRAIN

    params = dict(section)
    stage = params.pop("recipe_stage", None)
    stages = {"pretrain": PRETRAIN, "finetune": FINETUNE}
    if stage is not None and stage not in stages:
        raise PlateOCRError(f"{name}: recipe_stage {stage!r}: choose one of {', '.join(stages)}")
    # The notebook's own parameters name the data; the stage's data and run folder are the recipe's.
    params = {**{k: v for k, v in stages.get(stage, {}).items() if k not in ("data", "val", "out")}, **params}
    takes = declared | ({f.name for f in fields(TrainConfig)} if name == TRAINING_NOTEBOOK else set())
    unknown = sorted(set(params) - takes)
    if unknown:
        raise PlateOCRError(
            f"{name}: unknown parameter(s) {', '.join(unknown)} (its parameters cell"
            + (" and TrainConfig's fields)" if name == TRAINING_NOTEBOOK else ")")
        )
    return params


def run_reports(params_file: Path, out: Path) -> dict:
    import papermill
    import yaml

    spec = yaml.safe_load(params_file.read_text(encoding="utf-8")) or {}
    common = spec.get("common", {})
    declared = {name: set(papermill.inspect_notebook(str(REPO / "notebooks" / f"{name}.ipynb"))) for name in NOTEBOOKS}
    sections = {
        name: notebook_parameters(name, {**common, **(spec.get(name) or {})}, declared[name]) for name in NOTEBOOKS
    }  # a wrong name fails before the 20-minute run
    out.mkdir(parents=True, exist_ok=True)
    for name in NOTEBOOKS:  # regenerate from scratch: nothing of an earlier run survives
        for stale in (out / f"{name}.ipynb", out / f"{name}.html"):
            stale.unlink(missing_ok=True)
        folder = out / name
        for stale in folder.iterdir() if folder.is_dir() else ():
            if stale.name not in KEPT_INPUTS:
                shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    timings: dict = {}
    started = time.time()
    for name in NOTEBOOKS:
        params = _absolute({**sections[name], "output_dir": str(out / name)})
        executed = out / f"{name}.ipynb"
        print(f"running {name} with {json.dumps(params, ensure_ascii=False)}", flush=True)
        start = time.time()
        papermill.execute_notebook(
            str(REPO / "notebooks" / f"{name}.ipynb"),
            str(executed),
            parameters=params,
            cwd=str(REPO / "notebooks"),
            progress_bar=False,
        )
        subprocess.run(
            [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(executed)],
            check=True,
            capture_output=True,
        )
        timings[name] = round(time.time() - start, 1)
        print(f"  {name}: {timings[name]} s", flush=True)
    timings["total"] = round(time.time() - started, 1)
    from ..training.provenance import hardware

    timings["hardware"] = hardware("cpu")
    (out / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    return timings


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=REPO / "reports" / "params_full.yaml")
    parser.add_argument("--out", type=Path, default=REPO / "reports")
    args = parser.parse_args(argv)
    try:
        run_reports(args.params, args.out)
    except PlateOCRError as error:  # an unknown training parameter in the file: one line
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
