"""Plate-reading metrics: exact-plate accuracy, CER (via a local `evaluate` module), per position.

>>> summarize(["皖A12345", "皖A12346"], ["皖A12345", "皖A12345"])["accuracy"]
0.5
>>> round(cer(["皖A12346"], ["皖A12345"]), 4)
0.1429
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

CER_MODULE = Path(__file__).parent / "metric_modules" / "cer"


@lru_cache(maxsize=1)
def _cer_metric():
    import evaluate   # heavy; only scoring needs it
    return evaluate.load(str(CER_MODULE), module_type="metric")


def cer(predictions: list[str], references: list[str]) -> float:
    """Character error rate over all plates (edits / reference characters)."""
    if not references:
        return 0.0
    return float(_cer_metric().compute(predictions=list(predictions), references=list(references))["cer"])


def exact_accuracy(predictions, references) -> float:
    return sum(p == r for p, r in zip(predictions, references)) / max(1, len(references))


def per_position_accuracy(predictions, references) -> list[float]:
    """Accuracy at each character position, over the plates that have that position."""
    longest = max((len(r) for r in references), default=0)
    out = []
    for i in range(longest):
        pairs = [(p, r) for p, r in zip(predictions, references) if len(r) > i]
        out.append(sum(len(p) > i and p[i] == r[i] for p, r in pairs) / len(pairs))
    return out


def province_accuracy(predictions, references) -> float:
    return sum(p[:1] == r[:1] for p, r in zip(predictions, references)) / max(1, len(references))


def summarize(predictions, references) -> dict:
    """n, accuracy (exact plate), cer, per_position_accuracy and province_accuracy."""
    predictions, references = list(predictions), list(references)
    return {"n": len(references), "accuracy": exact_accuracy(predictions, references),
            "cer": cer(predictions, references),
            "per_position_accuracy": per_position_accuracy(predictions, references),
            "province_accuracy": province_accuracy(predictions, references)}
