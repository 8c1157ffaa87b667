"""bench/plate_types.py: per-type accuracy on held-out synthetic plates, and two models paired on them."""

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_two_models_read_the_same_plates_and_their_disagreements_are_counted(tmp_path):
    cmd = [
        sys.executable,
        "bench/plate_types.py",
        "--n",
        "18",
        "--against",
        "accurate",
        "--real",
        str(tmp_path / "absent"),
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    by_type = result["against"]["by_type"]
    assert by_type.keys() == result["accuracy_by_type"].keys() and result["synthetic_n"] == 18
    assert sum(paired["n"] for paired in by_type.values()) == 18
    for plate_type, paired in by_type.items():
        # Plates only one model read right move the two accuracies apart by exactly their difference.
        gap = (paired["only_a"] - paired["only_b"]) / paired["n"]
        assert result["accuracy_by_type"][plate_type] - paired["accuracy"] == pytest.approx(gap, abs=1e-3)
        assert 0 < paired["p_value"] <= 1
    assert "real_accuracy" not in result  # no folder of real crops
