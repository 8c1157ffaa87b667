"""Confidence that means what it says: a fitted temperature and confidence map, calibration error, reliability.

A read's confidence is P(plate | image) summed over CTC alignments (plateocr.reading.decoding). Averaging
views and ensemble members flattens the per-frame posteriors, so a right read of an accurate model
can score 0.4. A temperature T rescales the frame log-probabilities (log_softmax(lp / T)) before
that sum. One frame-level parameter cannot both lift the many right reads at 0.5-0.9 and keep the
few wrong ones low, so a logistic map of the plate's log-odds follows it (Platt scaling:
σ(slope · logit(p) + intercept)). Both are fitted on plates the model never trained on, so that
confidences match how often reads are right; both are monotone, so they change no reading and no
ranking, only the confidence.

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
# The confidence map's fit pulls gently towards the identity (slope 1, intercept 0), so that a set
# of reads with no wrong one left (plates of one half of a fold split) still gives a finite map.
MAP_RIDGE = 1e-2
IDENTITY_MAP = (1.0, 0.0)


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


def _log_odds(confidences) -> np.ndarray:
    c = np.minimum(np.maximum(np.asarray(confidences, float), 1e-9), 1 - 1e-9)  # np.clip's overhead is 10 µs
    return np.log(c) - np.log1p(-c)


def fit_confidence_map(confidences, correct) -> tuple[float, float]:
    """(slope, intercept) of the logistic map of log-odds that best predicts which reads are right
    (maximum likelihood by Newton's method, with a weak pull towards the identity).

    >>> fit_confidence_map([0.5] * 9 + [0.2], [True] * 9 + [False])[1] > 0   # right more often than 0.5 says
    True
    """
    x, y = _log_odds(confidences), np.asarray(correct, float)
    if not len(x):
        raise ValueError("fit_confidence_map needs at least one read")
    features = np.stack([x, np.ones_like(x)], 1)
    prior = np.array(IDENTITY_MAP)
    params = prior.copy()
    for _ in range(50):
        p = 1 / (1 + np.exp(-(features @ params)))
        gradient = features.T @ (p - y) + MAP_RIDGE * (params - prior)
        hessian = (features * (p * (1 - p))[:, None]).T @ features + MAP_RIDGE * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        params -= step
        if np.abs(step).max() < 1e-9:
            break
    return round(float(params[0]), 4), round(float(params[1]), 4)


def map_confidences(confidences, confidence_map: tuple[float, float]) -> list[float]:
    """Confidences through a fitted (slope, intercept) map; the identity map leaves them as they are.

    >>> map_confidences([0.5, 0.9], (1.0, 0.0)), [round(c, 3) for c in map_confidences([0.5], (1.0, 2.0))]
    ([0.5, 0.9], [0.881])
    """
    if tuple(confidence_map) == IDENTITY_MAP:
        return [float(c) for c in confidences]
    slope, intercept = confidence_map
    return (1 / (1 + np.exp(-(slope * _log_odds(confidences) + intercept)))).tolist()


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
