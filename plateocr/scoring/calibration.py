"""Confidence that means what it says: a fitted temperature, expected calibration error, reliability.

A read's confidence is P(plate | image) summed over CTC alignments (plateocr.reading.decoding). Averaging
views and ensemble members flattens the per-frame posteriors, so a right read of an accurate model
can score 0.4. A temperature T rescales the frame log-probabilities (log_softmax(lp / T)) before
that sum; fitted on plates the model never trained on, it makes the confidences of right and wrong
reads match how often they are right. T changes no reading, only its confidence.

>>> expected_calibration_error([0.9, 0.9, 0.2, 0.2], [True, True, False, False], bins=10)
0.15
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..reading.decoding import sequence_confidence

# Temperatures tried when fitting: a log-spaced grid, then a finer one around the best.
TEMPERATURE_RANGE = (0.1, 5.0)
GRID_POINTS = 60
ECE_BINS = 15


def correctness_nll(confidences, correct) -> float:
    """Mean negative log-likelihood of right/wrong under the confidences (the fit's objective)."""
    c = np.clip(np.asarray(confidences, float), 1e-6, 1 - 1e-6)
    y = np.asarray(correct, bool)
    return float(-np.mean(np.where(y, np.log(c), np.log(1 - c))))


def fit_temperature(log_probs: torch.Tensor, sequences: list[list[int]], correct: list[bool]) -> float:
    """The temperature whose confidences best predict which reads are right ((T, B, C) log-probs of
    held-out plates, the token ids read, and whether each read was right)."""
    if not sequences:
        raise ValueError("fit_temperature needs at least one read")
    lo, hi = map(math.log, TEMPERATURE_RANGE)
    best = 1.0
    for _ in range(2):  # a coarse grid, then a fine one around its best point
        grid = np.exp(np.linspace(lo, hi, GRID_POINTS))
        losses = [correctness_nll(sequence_confidence(log_probs, sequences, float(t)), correct) for t in grid]
        i = int(np.argmin(losses))
        best = float(grid[i])
        lo, hi = math.log(grid[max(0, i - 1)]), math.log(grid[min(len(grid) - 1, i + 1)])
    return round(best, 4)


def reliability(confidences, correct, bins: int = ECE_BINS) -> list[dict]:
    """Per confidence bin: its range, the reads in it, their mean confidence and their accuracy."""
    c, y = np.asarray(confidences, float), np.asarray(correct, bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(c, edges[1:-1], right=True), 0, bins - 1)
    rows = []
    for b in range(bins):
        inside = which == b
        rows.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "n": int(inside.sum()),
                "confidence": float(c[inside].mean()) if inside.any() else None,
                "accuracy": float(y[inside].mean()) if inside.any() else None,
            }
        )
    return rows


def expected_calibration_error(confidences, correct, bins: int = ECE_BINS) -> float:
    """Σ over confidence bins of (reads in bin / reads) · |accuracy − mean confidence|."""
    n = len(confidences)
    if not n:
        return 0.0
    return round(
        sum(
            r["n"] / n * abs(r["accuracy"] - r["confidence"]) for r in reliability(confidences, correct, bins) if r["n"]
        ),
        6,
    )
