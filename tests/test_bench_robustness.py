"""bench/robustness.py --held-out: shipped models on crops they never trained on, under each perturbation."""

import json
import shutil
import subprocess
import sys

import pytest

from plateocr import SAMPLE_DIR, PlateReader
from tests.conftest import REPO


@pytest.mark.slow
def test_held_out_crops_are_read_by_the_shipped_model_as_it_reads_and_in_float32(tmp_path):
    crops = sorted(SAMPLE_DIR.glob("*.jpg"))[:6]
    for f in crops:
        shutil.copy(f, tmp_path / f.name)
    cmd = [sys.executable, "bench/robustness.py", "--held-out", "fast", "--data", str(tmp_path), "--kinds", "blur"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # The clean row is what the reader itself reads of those crops.
    reader = PlateReader.from_pretrained("fast")
    exact = sum(r.plate == f.stem for r, f in zip(reader.read(crops), crops)) / len(crops)
    assert result["fast|clean|0"] == pytest.approx(exact, abs=1e-4)
    names = {key.split("|")[0] for key in result if "|" in key}
    conditions = {tuple(key.split("|")[1:]) for key in result if "|" in key}
    # Also read in float32 where the default is not (on a CPU `fast` reads through its int8 export).
    assert names == {"fast", "fast/float32"} if reader.precision != "float32" else names == {"fast"}
    assert {("clean", "0"), ("recoloured_green", "0"), ("blur", "1")} <= conditions
    assert all(0 <= v <= 1 for key, v in result.items() if "|" in key)


def test_one_source_of_crops_is_asked_for():
    proc = subprocess.run(
        [sys.executable, "bench/robustness.py", "--held-out", "fast", "--raw", "x"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "one of --model" in proc.stderr
