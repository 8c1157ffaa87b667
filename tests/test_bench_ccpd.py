"""bench/ccpd.py on the fixture trees: a row per subset, the overall row, CCPD2020's, a JSON last line."""

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_the_bench_prints_a_row_per_subset(ccpd_trees):
    root, green = ccpd_trees
    proc = subprocess.run(
        [sys.executable, "bench/ccpd.py", "--root", root, "--root2020", green, "--tta", "none"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    subsets = ["ccpd_db", "ccpd_blur", "ccpd_fn", "ccpd_challenge", "test (all)", "ccpd_green"]
    assert [line[:16].strip() for line in lines[1:-1]] == subsets
    result = json.loads(lines[-1])
    assert list(result["subsets"]) == subsets
    assert {name: r["n"] for name, r in result["subsets"].items()} == {
        "ccpd_db": 2,
        "ccpd_blur": 2,
        "ccpd_fn": 1,
        "ccpd_challenge": 1,
        "test (all)": 6,
        "ccpd_green": 2,
    }
    for r in result["subsets"].values():
        assert set(r) == {"n", "accuracy", "cer", "province_accuracy", "plates_per_s"} and r["plates_per_s"] > 0
    assert result["skipped"] == 1 and "listed in split/ccpd_blur.txt but missing" in proc.stderr
