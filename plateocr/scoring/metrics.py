"""Plate-reading metrics: exact-plate accuracy, CER (via jiwer), per position.

Every function takes predictions and references as equal-length sequences of strings; an empty
(or None) prediction is a plate the reader returned nothing for.

>>> summarize(["皖A12345", "皖A12346"], ["皖A12345", "皖A12345"])["accuracy"]
0.5
>>> round(cer(["皖A12346"], ["皖A12345"]), 4)
0.1429
"""

from __future__ import annotations

import math

import jiwer


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
    # jiwer 4 scores "" against a reference as all deletions (what an unread plate should cost);
    # its CER is corpus-level and splits strings into characters, not words.
    return float(jiwer.cer(refs, preds))


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
    return {
        "n": len(refs),
        "accuracy": exact_accuracy(preds, refs),
        "cer": cer(preds, refs),
        "per_position_accuracy": per_position_accuracy(preds, refs),
        "province_accuracy": province_accuracy(preds, refs),
    }


def paired_difference(correct_a, correct_b) -> dict:
    """Two readers on the same plates: the plates only `a` read right, those only `b` read right,
    and the exact two-sided McNemar p-value (binomial, the chance that readers equally good part
    at least this unevenly). Differences of a few plates in a thousand are often chance.

    >>> paired_difference([True] * 10 + [False] * 2, [True] * 8 + [False] * 2 + [True] * 2)
    {'only_a': 2, 'only_b': 2, 'p_value': 1.0}
    >>> paired_difference([True] * 9, [False] * 9)["p_value"]
    0.0039
    """
    a, b = [bool(x) for x in correct_a], [bool(x) for x in correct_b]
    if len(a) != len(b):
        raise ValueError(f"{len(a)} readings against {len(b)}")
    only_a = sum(x and not y for x, y in zip(a, b))
    only_b = sum(y and not x for x, y in zip(a, b))
    n, k = only_a + only_b, min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return {"only_a": only_a, "only_b": only_b, "p_value": round(min(1.0, 2 * tail), 4)}
