import numpy as np
import pytest
import torch

from plateocr.reading.decoding import sequence_confidence
from plateocr.scoring.calibration import (
    expected_calibration_error,
    fit_confidence_map,
    fit_temperature,
    map_confidences,
    reliability,
)


def test_a_calibrated_model_has_no_calibration_error():
    rng = np.random.default_rng(0)
    confidences = rng.uniform(0, 1, 20_000)
    correct = rng.uniform(0, 1, 20_000) < confidences  # right exactly as often as it says
    assert expected_calibration_error(confidences, correct) < 0.02
    assert expected_calibration_error(confidences, ~correct) > 0.3


def test_reliability_bins_hold_every_read_once():
    rows = reliability([0.05, 0.5, 0.51, 0.99, 1.0], [False, True, False, True, True], bins=10)
    assert sum(r["n"] for r in rows) == 5
    assert rows[-1]["n"] == 2 and rows[-1]["accuracy"] == 1.0


def _under_confident_reads(n: int = 400, seed: int = 0):
    """Frame posteriors of a model that is right on 95 % of its reads but spreads its mass (like an
    average over views): the fitted temperature must sharpen them (T < 1)."""
    g = torch.Generator().manual_seed(seed)
    t, c = 12, 10
    sequences, correct, frames = [], [], []
    for i in range(n):
        seq = torch.randint(3, c, (4,), generator=g).tolist()
        logits = torch.full((t, c), 0.0)
        for k, token in enumerate(seq):
            logits[3 * k, token] = 2.0  # the read's characters, each in its own frame
        logits[1::3, 0] = 2.0  # blanks between them
        right = i % 20 != 0
        if not right:  # a wrong read: another character nearly as likely in one frame
            logits[0, (seq[0] + 1 - 3) % (c - 3) + 3] = 1.9
        frames.append(logits.log_softmax(-1))
        sequences.append(seq)
        correct.append(right)
    return torch.stack(frames, 1), sequences, correct


def test_a_fitted_temperature_makes_confidence_match_accuracy():
    log_probs, sequences, correct = _under_confident_reads()
    before = sequence_confidence(log_probs, sequences)
    t = fit_temperature(log_probs, sequences, correct)
    after = sequence_confidence(log_probs, sequences, t)
    assert t < 1.0
    assert expected_calibration_error(after, correct) < expected_calibration_error(before, correct)
    assert np.median([a for a, r in zip(after, correct) if r]) > np.median([b for b, r in zip(before, correct) if r])


def test_fit_temperature_needs_reads():
    with pytest.raises(ValueError, match="at least one read"):
        fit_temperature(torch.zeros(4, 0, 5), [], [])


def test_a_fitted_confidence_map_recovers_how_often_reads_are_right():
    """Reads right with probability σ(2 · logit(c) + 1): the fit finds that map, and the mapped
    confidences are calibrated where the raw ones are not."""
    rng = np.random.default_rng(0)
    confidences = rng.uniform(0.05, 0.95, 20_000)
    logit = np.log(confidences / (1 - confidences))
    correct = rng.uniform(0, 1, len(confidences)) < 1 / (1 + np.exp(-(2 * logit + 1)))
    slope, intercept = fit_confidence_map(confidences, correct)
    assert slope == pytest.approx(2.0, abs=0.1) and intercept == pytest.approx(1.0, abs=0.1)
    mapped = map_confidences(confidences, (slope, intercept))
    assert expected_calibration_error(mapped, correct) < 0.02 < expected_calibration_error(confidences, correct)


def test_a_confidence_map_fitted_on_right_reads_alone_stays_finite():
    slope, intercept = fit_confidence_map([0.6, 0.8, 0.95, 0.99], [True] * 4)
    assert np.isfinite([slope, intercept]).all() and intercept > 0
    with pytest.raises(ValueError, match="at least one read"):
        fit_confidence_map([], [])
