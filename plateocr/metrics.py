"""Plate-reading metrics: exact-plate accuracy, CER (via a local `evaluate` module), per position.

Every function takes predictions and references as equal-length sequences of strings; an empty
(or None) prediction is a plate the reader returned nothing for.

>>> summarize(["皖A12345", "皖A12346"], ["皖A12345", "皖A12345"])["accuracy"]
0.5
>>> round(cer(["皖A12346"], ["皖A12345"]), 4)
0.1429
"""
from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from .errors import PlateOCRError

# Shipped inside the package (pyproject package-data "metric_modules/*/*.py") and loaded by path,
# so `evaluate` never looks for a hub module.
CER_MODULE = Path(__file__).parent / "metric_modules" / "cer"

_compute_lock = threading.Lock()   # an evaluate module buffers inputs between add and compute


@lru_cache(maxsize=1)
def _cer_metric():
    """The local CER module, loaded once per process.

    `evaluate` copies cer.py into HF_MODULES_CACHE (under a file lock, so parallel loads are safe)
    and imports it from there. keep_in_memory avoids its default Arrow cache files under
    HF_EVALUATE_CACHE, which would also need locks and a writable home.
    """
    import warnings
    with warnings.catch_warnings():
        # evaluate imports tqdm.auto, which warns in a Jupyter kernel without ipywidgets; we show no bars.
        warnings.filterwarnings("ignore", message="IProgress not found")
        import evaluate   # heavy (pulls in datasets, pyarrow, pandas): only scoring needs it
    try:
        return evaluate.load(str(CER_MODULE), module_type="metric", keep_in_memory=True)
    except OSError as exc:
        hint = (f"; evaluate copies it into HF_MODULES_CACHE={evaluate.config.HF_MODULES_CACHE}, "
                "point that at a writable folder" if (CER_MODULE / "cer.py").is_file() else "")
        raise PlateOCRError(f"cannot load the CER metric from {CER_MODULE}: {exc}{hint}") from exc


def _texts(predictions, references) -> tuple[list[str], list[str]]:
    preds = ["" if p is None else str(p) for p in predictions]
    refs = ["" if r is None else str(r) for r in references]
    if len(preds) != len(refs):
        raise ValueError(f"{len(preds)} predictions but {len(refs)} references")
    return preds, refs


def cer(predictions, references) -> float:
    """Character error rate over all plates: total edits / total reference characters.

    A Chinese character counts as one character; an empty prediction costs all its characters.

    >>> cer(["苏A12345", ""], ["皖A12345", "京AD12345"])   # 1 substitution + 8 deletions over 15
    0.6
    >>> cer([], [])
    0.0
    """
    preds, refs = _texts(predictions, references)
    if not refs:
        return 0.0
    with _compute_lock:
        return float(_cer_metric().compute(predictions=preds, references=refs)["cer"])


def exact_accuracy(predictions, references) -> float:
    """Fraction of plates read exactly right (0.0 when there are none).

    >>> exact_accuracy(["皖A12345", "皖A1234"], ["皖A12345", "皖A12345"])
    0.5
    """
    preds, refs = _texts(predictions, references)
    return sum(p == r for p, r in zip(preds, refs)) / max(1, len(refs))


def per_position_accuracy(predictions, references) -> list[float]:
    """Accuracy at each character position, over the plates whose reference has that position.

    A prediction too short to have the position counts as wrong there; characters a prediction
    has beyond its reference's length are not scored here (CER counts them).

    >>> per_position_accuracy(["皖A12345", "苏A1234"], ["皖A12345", "皖A12345"])
    [0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5]
    >>> per_position_accuracy(["京AD12345", "皖A12345"], ["京AD12345", "皖A12345"])[7]
    1.0
    """
    preds, refs = _texts(predictions, references)
    longest = max((len(r) for r in refs), default=0)
    out = []
    for i in range(longest):
        pairs = [(p, r) for p, r in zip(preds, refs) if len(r) > i]
        out.append(sum(len(p) > i and p[i] == r[i] for p, r in pairs) / len(pairs))
    return out


def province_accuracy(predictions, references) -> float:
    """Fraction of plates whose first character (the province) is right.

    >>> province_accuracy(["苏A12345", "皖B12345", ""], ["皖A12345", "皖A12345", "皖A12345"])
    0.3333333333333333
    """
    preds, refs = _texts(predictions, references)
    return sum(p[:1] == r[:1] for p, r in zip(preds, refs)) / max(1, len(refs))


def summarize(predictions, references) -> dict:
    """All plate metrics in one dict: n, accuracy, cer, per_position_accuracy, province_accuracy.

    >>> s = summarize(["皖A12345", "苏A1234"], ["皖A12345", "皖A12345"])
    >>> s["n"], s["accuracy"], round(s["cer"], 4), s["province_accuracy"]
    (2, 0.5, 0.1429, 0.5)
    """
    preds, refs = _texts(predictions, references)
    return {"n": len(refs), "accuracy": exact_accuracy(preds, refs), "cer": cer(preds, refs),
            "per_position_accuracy": per_position_accuracy(preds, refs),
            "province_accuracy": province_accuracy(preds, refs)}
