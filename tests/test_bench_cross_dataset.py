"""bench/cross_dataset.py on the fixture trees: train on CCPD2019's train split, score CCPD2020's test."""

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_trains_on_one_set_and_scores_another(ccpd_trees, tmp_path):
    root, green = ccpd_trees
    proc = subprocess.run(
        [
            sys.executable,
            "bench/cross_dataset.py",
            "--train",
            root,
            "--train-split",
            "train",
            "--val-split",
            "val",
            "--test",
            green,
            "--split",
            "test",
            "--arch",
            "compact",
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--tta",
            "none",
            "--out",
            tmp_path / "run",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["cross_dataset"]["n"] == 2 and result["cross_dataset"]["data"] == "CCPD2020 (test)"
    assert 0 <= result["in_domain_validation"]["accuracy"] <= 1 and (tmp_path / "run" / "best.pt").is_file()
    assert "5 training and 3 validation plates" in proc.stderr  # split/train.txt and split/val.txt
