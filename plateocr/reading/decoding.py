"""CTC decoding: greedy best path, and plate-grammar-constrained beam search.

Both return (plate, confidence) pairs, where confidence is P(plate | image) under the model: the
sum over all CTC alignments of that string (exp of minus its CTC loss).

>>> import torch
>>> from plateocr.alphabet import Tokenizer
>>> tok = Tokenizer()
>>> ids = [tok.encode(c)[0] for c in "皖A12345"]
>>> frames = [i for c in ids for i in (c, 0)]           # each character then a blank
>>> log_probs = torch.full((len(frames), 1, tok.num_classes), -20.0)
>>> log_probs[torch.arange(len(frames)), 0, frames] = 0.0
>>> decode_greedy(log_probs, tok)[0][0], decode_constrained(log_probs, tok)[0][0]
('皖A12345', '皖A12345')
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from ..alphabet import BLANK, FIRST_CHAR_ID, PLATE_FORMATS, Tokenizer, is_valid_plate

BEAM_WIDTH = 12
PRUNE_LOG_PROB = math.log(1e-4)  # characters less likely than this in a frame are not extended


def _best_path(log_probs: torch.Tensor) -> list[list[int]]:
    out = []
    # Python lists: per-row numpy calls on a few dozen frames cost more than the loop.
    for row in log_probs.argmax(-1).T.tolist():  # B, T
        out.append([i for t, i in enumerate(row) if i >= FIRST_CHAR_ID and (t == 0 or i != row[t - 1])])
    return out


def sequence_confidence(log_probs: torch.Tensor, sequences: list[list[int]], temperature: float = 1.0) -> list[float]:
    """P(sequence | image) for each batch item, summed over all CTC alignments, with the frame
    posteriors softened (T > 1) or sharpened (T < 1) by a calibration temperature (plateocr.scoring.calibration)."""
    if not sequences:
        return []
    lp = log_probs.float()
    if temperature != 1.0:
        lp = (lp / temperature).log_softmax(-1)
    targets = torch.tensor([i for s in sequences for i in s], dtype=torch.long)
    # Lengths as tuples, which ctc_loss documents beside tensors: two fewer tensors built per call.
    lengths, frames = tuple(len(s) for s in sequences), (lp.shape[0],) * len(sequences)
    nll = F.ctc_loss(lp, targets, frames, lengths, blank=BLANK, reduction="none", zero_infinity=False)  # type: ignore[arg-type]
    return [float(math.exp(-x)) if math.isfinite(x) else 0.0 for x in nll.tolist()]


def decode_greedy(log_probs: torch.Tensor, tokenizer: Tokenizer, temperature: float = 1.0) -> list[tuple[str, float]]:
    """Best-path decoding of (T, B, C) log-probabilities."""
    seqs = _best_path(log_probs)
    conf = sequence_confidence(log_probs, seqs, temperature)
    return [(tokenizer.decode(s), c) for s, c in zip(seqs, conf)]


@lru_cache(maxsize=8)
def _grammar(alphabet: str) -> tuple[tuple[frozenset[int], ...], ...]:
    """The plate formats as token-id sets per position, for this alphabet."""
    tok = Tokenizer(alphabet)
    return tuple(
        tuple(frozenset(i for i in tok.encode(s) if i >= FIRST_CHAR_ID) for s in sets)
        for sets in PLATE_FORMATS.values()
    )


def _allowed_next(formats, prefix: tuple[int, ...]) -> set[int]:
    allowed: set[int] = set()
    for sets in formats:
        if len(sets) > len(prefix) and all(c in sets[k] for k, c in enumerate(prefix)):
            allowed |= sets[len(prefix)]
    return allowed


def _is_complete(formats, prefix: tuple[int, ...]) -> bool:
    return any(len(sets) == len(prefix) and all(c in sets[k] for k, c in enumerate(prefix)) for sets in formats)


def _logsumexp(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def _add_path(beams: dict[tuple, list[float]], prefix: tuple, pb: float, pnb: float) -> None:
    """Add the probabilities of one more path (ending in a blank, or not) to `prefix`'s."""
    cur = beams.setdefault(prefix, [-math.inf, -math.inf])
    cur[0] = _logsumexp(cur[0], pb)
    cur[1] = _logsumexp(cur[1], pnb)


def constrained_beam_search(log_probs: np.ndarray, formats, beam_width: int = BEAM_WIDTH) -> list[int] | None:
    """Most probable plate-grammar string for one (T, C) log-probability matrix (CTC prefix beam)."""
    beams: dict[tuple, tuple[float, float]] = {(): (0.0, -math.inf)}  # prefix -> (blank, non-blank)
    allowed_cache: dict[tuple, set[int]] = {}
    # Python floats: arithmetic on numpy scalars, one at a time, costs several times as much.
    frames = log_probs.tolist()
    candidate_ids = [np.nonzero(row > PRUNE_LOG_PROB)[0].tolist() for row in log_probs]
    for frame, candidates in zip(frames, candidate_ids):
        blank = frame[BLANK]
        new: dict[tuple, list[float]] = {}
        for prefix, (pb, pnb) in beams.items():
            total = _logsumexp(pb, pnb)
            _add_path(new, prefix, total + blank, -math.inf)
            if prefix:
                _add_path(new, prefix, -math.inf, pnb + frame[prefix[-1]])
            if prefix not in allowed_cache:
                allowed_cache[prefix] = _allowed_next(formats, prefix)
            allowed = allowed_cache[prefix]
            for c in candidates:
                if c == BLANK or c not in allowed:
                    continue
                # A repeated character needs a blank between its two occurrences.
                extend = pb if prefix and c == prefix[-1] else total
                _add_path(new, prefix + (c,), -math.inf, extend + frame[c])
        ranked = sorted(new.items(), key=lambda kv: -_logsumexp(*kv[1]))[:beam_width]
        beams = {k: (v[0], v[1]) for k, v in ranked}
    complete = [(k, _logsumexp(*v)) for k, v in beams.items() if _is_complete(formats, k)]
    if not complete:
        return None
    return list(max(complete, key=lambda kv: kv[1])[0])


def decode_constrained(
    log_probs: torch.Tensor, tokenizer: Tokenizer, temperature: float = 1.0, beam_width: int = BEAM_WIDTH
) -> list[tuple[str, float]]:
    """The most probable valid plate for each batch item.

    A greedy result that already is a valid plate is kept (it is almost always the grammar's best
    string too, and it costs nothing); only the rest run the constrained beam search. Where no
    valid plate can be formed (too few frames carry characters) the greedy string is returned,
    with its own probability: the reader then marks the result `valid=False`.
    """
    seqs = _best_path(log_probs)
    formats = _grammar(tokenizer.alphabet)
    lp = None
    for b, seq in enumerate(seqs):
        if is_valid_plate(tokenizer.decode(seq)):
            continue
        if lp is None:
            lp = log_probs.float().permute(1, 0, 2).cpu().numpy()
        found = constrained_beam_search(lp[b], formats, beam_width)
        if found is not None:
            seqs[b] = found
    conf = sequence_confidence(log_probs, seqs, temperature)
    return [(tokenizer.decode(s), c) for s, c in zip(seqs, conf)]
