"""Plate metrics; CER through jiwer, checked against a plain edit distance."""

import json
import os
import random
import subprocess
import sys
import textwrap

import pytest

from plateocr.scoring.metrics import (
    cer,
    exact_accuracy,
    paired_difference,
    per_position_accuracy,
    province_accuracy,
    summarize,
)
from tests.conftest import REPO


def edit_distance(a: str, b: str) -> int:
    """Plain Levenshtein distance, an independent check on jiwer."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def test_cer_counts_each_chinese_character_once():
    assert cer(["皖A12346"], ["皖A12345"]) == pytest.approx(1 / 7)
    assert cer(["苏A12345"], ["皖A12345"]) == pytest.approx(1 / 7)
    assert cer(["京AD12345"], ["京AF12345"]) == pytest.approx(1 / 8)
    assert cer(["皖A12345", "京AD12345"], ["皖A12345", "京AD12345"]) == 0.0


def test_cer_of_missing_and_extra_characters():
    assert cer(["A12345"], ["皖A12345"]) == pytest.approx(1 / 7)
    assert cer(["皖A123456"], ["皖A12345"]) == pytest.approx(1 / 7)
    assert cer([""], ["皖A12345"]) == 1.0  # nothing read: every character deleted
    assert cer([None], ["皖A12345"]) == 1.0
    assert cer(["", "皖A12345"], ["皖A12345", "皖A12345"]) == 0.5
    assert cer([], []) == 0.0


def test_cer_is_corpus_level_and_agrees_with_levenshtein():
    # Over all plates (edits / reference characters), not a mean of per-plate rates.
    assert cer(["皖A1234", ""], ["皖A12345", "AB"]) == pytest.approx(3 / 9)
    rng = random.Random(0)
    chars = "皖苏京粤ABCDEFGHJKLMNP0123456789"
    refs = ["".join(rng.choices(chars, k=rng.choice([7, 8]))) for _ in range(300)]
    preds = []
    for ref in refs:
        p = list(ref)
        for _ in range(rng.randint(0, 3)):
            op, i = rng.choice("sdi"), rng.randrange(len(p) + 1)
            if op == "i":
                p.insert(i, rng.choice(chars))
            elif p and i < len(p):
                p[i : i + 1] = [] if op == "d" else [rng.choice(chars)]
        preds.append("".join(p))
    expected = sum(edit_distance(p, r) for p, r in zip(preds, refs)) / sum(map(len, refs))
    assert cer(preds, refs) == pytest.approx(expected)


def test_plate_level_metrics():
    preds, refs = ["皖A12345", "苏A12345", "皖A1234"], ["皖A12345", "皖A12345", "皖A12345"]
    assert exact_accuracy(preds, refs) == pytest.approx(1 / 3)
    assert province_accuracy(preds, refs) == pytest.approx(2 / 3)
    assert per_position_accuracy(preds, refs) == pytest.approx([2 / 3, 1, 1, 1, 1, 1, 2 / 3])
    s = summarize(preds, refs)
    assert set(s) == {"n", "accuracy", "cer", "per_position_accuracy", "province_accuracy"}
    assert s["n"] == 3 and s["accuracy"] == pytest.approx(1 / 3) and s["cer"] == pytest.approx(2 / 21)
    json.dumps(s)  # goes into metrics.json as is


def test_per_position_counts_only_plates_that_have_the_position():
    preds, refs = ["皖A12345", "京AD1234", ""], ["皖A12345", "京AD12345", "沪B54321"]
    assert per_position_accuracy(preds, refs) == pytest.approx([2 / 3] * 7 + [0.0])
    assert per_position_accuracy([], []) == []


def test_empty_and_mismatched_inputs():
    assert summarize([], []) == {
        "n": 0,
        "accuracy": 0.0,
        "cer": 0.0,
        "per_position_accuracy": [],
        "province_accuracy": 0.0,
    }
    assert exact_accuracy([None, ""], ["皖A12345", "皖A12345"]) == 0.0
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        cer(["皖A12345", "皖A12345"], ["皖A12345"])
    with pytest.raises(ValueError):
        summarize(["皖A12345"], [])


def test_paired_difference_counts_only_the_plates_the_readers_part_on():
    a = [True] * 90 + [True] * 7 + [False] * 1 + [False] * 2
    b = [True] * 90 + [False] * 7 + [True] * 1 + [False] * 2
    split = paired_difference(a, b)
    assert (split["only_a"], split["only_b"]) == (7, 1)
    # 8 plates parted 7 to 1: P(|X - 4| >= 3) for X ~ Binomial(8, 1/2) = 2 * (1 + 8) / 256
    assert split["p_value"] == round(18 / 256, 4)
    assert paired_difference(b, a)["p_value"] == split["p_value"]  # two-sided
    assert paired_difference(a, a) == {"only_a": 0, "only_b": 0, "p_value": 1.0}
    with pytest.raises(ValueError):
        paired_difference(a, b[:-1])


CHILD = textwrap.dedent("""
    import socket, sys
    def refuse(*args, **kwargs):
        raise AssertionError(f"network use: {args}")
    socket.socket.connect = socket.create_connection = socket.getaddrinfo = refuse
    from plateocr.scoring import metrics
    heavy = [m for m in ("evaluate", "datasets", "pandas", "matplotlib") if m in sys.modules]
    assert not heavy, f"importing plateocr.scoring.metrics imported {heavy}"
    print(metrics.cer(["皖A12346", ""], ["皖A12345", "京AD12345"]))
""")


@pytest.mark.slow
def test_cer_needs_no_network_and_no_heavy_imports():
    python_path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))  # keep any --target installs
    env = {**os.environ, "PYTHONPATH": python_path}
    proc = subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=REPO, text=True, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert float(proc.stdout.split()[-1]) == pytest.approx(9 / 15)
