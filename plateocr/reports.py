"""`make reports`: run 01 → 02 → 03 with papermill into reports/, then HTML via nbconvert.

    python -m plateocr.reports --params reports/params_full.yaml --out reports

The parameter file has one section per notebook (plus `common`, given to all three); paths in
it are relative to the repository root.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = ("01_explore", "02_train", "03_error_analysis")
PATH_PARAMETERS = ("data_dir", "val_dir", "real_dir", "output_dir", "checkpoint", "synthetic_checkpoint",
                   "predictions")
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


def run_reports(params_file: Path, out: Path) -> dict:
    import papermill
    import yaml
    spec = yaml.safe_load(params_file.read_text(encoding="utf-8")) or {}
    common = spec.get("common", {})
    out.mkdir(parents=True, exist_ok=True)
    for name in NOTEBOOKS:   # regenerate from scratch: nothing of an earlier run survives
        for stale in (out / f"{name}.ipynb", out / f"{name}.html"):
            stale.unlink(missing_ok=True)
        folder = out / name
        for stale in (folder.iterdir() if folder.is_dir() else ()):
            if stale.name not in KEPT_INPUTS:
                shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    timings = {}
    started = time.time()
    for name in NOTEBOOKS:
        params = _absolute({**common, **(spec.get(name) or {}), "output_dir": str(out / name)})
        executed = out / f"{name}.ipynb"
        print(f"running {name} with {json.dumps(params, ensure_ascii=False)}", flush=True)
        start = time.time()
        papermill.execute_notebook(str(REPO / "notebooks" / f"{name}.ipynb"), str(executed),
                                   parameters=params, cwd=str(REPO / "notebooks"), progress_bar=False)
        subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(executed)],
                       check=True, capture_output=True)
        timings[name] = round(time.time() - start, 1)
        print(f"  {name}: {timings[name]} s", flush=True)
    timings["total"] = round(time.time() - started, 1)
    from .provenance import hardware
    timings["hardware"] = hardware("cpu")
    (out / "timings.json").write_text(json.dumps(timings, indent=2) + "\n")
    return timings


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=REPO / "reports" / "params_full.yaml")
    parser.add_argument("--out", type=Path, default=REPO / "reports")
    args = parser.parse_args(argv)
    run_reports(args.params, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
