"""bench/accuracy.py end to end on a few sample plates: its table, JSON line, predictions and provenance."""

import csv
import importlib.util
import json
import shutil
import subprocess
import sys

import pytest

from plateocr import SAMPLE_DIR
from plateocr.data.datasets import list_records
from plateocr.errors import PlateOCRError
from plateocr.reading.devices import resolve_device
from tests.conftest import REPO


@pytest.mark.slow
def test_cross_validation_writes_every_held_out_plate_once_with_its_provenance(tiny_run, tmp_path):
    data = tmp_path / "plates"
    data.mkdir()
    for f in sorted(SAMPLE_DIR.glob("*.jpg"))[:12]:
        shutil.copy(f, data / f.name)
    predictions = tmp_path / "cv_predictions.csv"
    cmd = [sys.executable, "bench/accuracy.py", "--pretrained", str(tiny_run[0] / "best.pt"), "--data", str(data)]
    cmd += ["--folds", "2", "--predictions", str(predictions), "--keep", str(tmp_path / "keep")]
    cmd += ["--set", "epochs=1", "--set", "mix_synthetic=16", "--set", "real_repeat=1", "--set", "amp=false"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["plates"] == 12 and 0 <= result["constrained_phase_deskew_accuracy"] <= 1
    assert {"recoloured_green_constrained_phase_deskew_accuracy", "calibration"} <= result.keys()

    with open(predictions, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["label"] for r in rows) == sorted(p.stem for p in data.glob("*.jpg"))
    assert {r["fold"] for r in rows} == {"0", "1"} and all(not r["path"].startswith("/") for r in rows)
    meta = json.loads(predictions.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["default_reading"] == "constrained_phase_deskew" and meta["result"] == result
    assert (
        meta["data"]["n_files"] == 12
        and len(meta["stage1"][0]["sha256"]) == 64
        and meta["git_commit"]
        and meta["device"] == str(resolve_device("auto"))  # where the fine-tunings ran
    )
    assert sorted(p.parent.name for p in (tmp_path / "keep").glob("fold*/last.pt")) == [
        "fold0_member0",
        "fold1_member0",
    ]
    # An interrupted run goes on: the finished fold is kept, the lost one trained again, same scores.
    shutil.rmtree(tmp_path / "keep" / "fold1_member0")
    proc = subprocess.run([*cmd, "--resume"], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "fold0_member0: finished (1 epochs), kept" in proc.stderr and "fold1_member0: finished" not in proc.stderr
    resumed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {k: v for k, v in resumed.items() if k != "minutes"} == {k: v for k, v in result.items() if k != "minutes"}
    # The kept folds' plate lists are never overwritten by a run that would split the plates otherwise.
    proc = subprocess.run([*cmd, "--resume", "--seed", "1"], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "train_0.csv lists other training plates" in proc.stderr


def test_a_fold_s_plate_list_is_written_once_and_never_replaced_by_another(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_accuracy", REPO / "bench" / "accuracy.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    records, _ = list_records(str(SAMPLE_DIR))
    for keep in (tmp_path, tmp_path / "keep"):  # without --keep the list lives in the scratch folder itself
        path = keep / "train_0.csv"
        assert bench.fold_manifest(records[:10], path, tmp_path) == path
        assert bench.fold_manifest(records[:10], path, tmp_path) == path  # the same list again: kept
        with pytest.raises(PlateOCRError, match="train_0.csv lists other training plates"):
            bench.fold_manifest(records[10:20], path, tmp_path)
        assert path.read_text(encoding="utf-8").count("\n") == 11
