"""The costly half of `rectify.tilt`, compiled with numba: the same sums in the same order, so the
same tilts.

`tilt` scores each candidate angle by the sharpness of the sheared row profile of edge strength. In
numpy that is a fancy-indexing pass, a bincount and a sum of squares per search, some 0.2 ms of a
crop's 0.3 ms tilt search. Here it is one loop:
- the columns' cumulative histograms add the columns in order, in float64, as `np.cumsum` does;
- each profile adds its runs' histograms in bincount's order (run by run, row by row);
- the sum of squares copies numpy's pairwise summation (blocks of eight partial sums, halves above
  128 values), which is what `ndarray.sum` does along a contiguous row.

tests/test_rectify.py compares the tilts with the numpy path's on real crops.
"""

from __future__ import annotations

import numba
import numpy as np

# numpy's pairwise summation: its unrolled partial sums, and the length above which it halves.
_PARTIAL_SUMS, _PAIRWISE_BLOCK = 8, 128


@numba.njit(cache=True, nogil=True)
def _pairwise_sum(values, start, n):
    """sum(values[start:start + n]) as numpy adds a contiguous float64 row."""
    if n < _PARTIAL_SUMS:
        total = 0.0
        for i in range(n):
            total += values[start + i]
        return total
    if n <= _PAIRWISE_BLOCK:
        partial = values[start : start + _PARTIAL_SUMS].copy()
        i = _PARTIAL_SUMS
        while i < n - n % _PARTIAL_SUMS:
            for j in range(_PARTIAL_SUMS):
                partial[j] += values[start + i + j]
            i += _PARTIAL_SUMS
        total = ((partial[0] + partial[1]) + (partial[2] + partial[3])) + (
            (partial[4] + partial[5]) + (partial[6] + partial[7])
        )
        while i < n:
            total += values[start + i]
            i += 1
        return total
    half = n // 2
    half -= half % _PARTIAL_SUMS
    return _pairwise_sum(values, start, half) + _pairwise_sum(values, start + half, n - half)


@numba.njit("float64[:, ::1](float32[:, ::1], int64[::1])", cache=True, nogil=True)
def cumulative_columns(horizontal, edges):
    """(width + 1, height) running sums over the columns of the edge strengths at `edges` (flat
    indices into the (height, width) `horizontal`), row 0 zeros: `tilt`'s `cumulative`."""
    height, width = horizontal.shape
    per_column = np.zeros((width, height))
    for e in edges:
        row, column = e // width, e % width
        per_column[column, row] = horizontal[row, column]
    cumulative = np.zeros((width + 1, height))
    for column in range(width):
        for row in range(height):
            cumulative[column + 1, row] = cumulative[column, row] + per_column[column, row]
    return cumulative


@numba.njit("int64(float64[:, ::1], int64[::1], int64[::1], int64[::1], int64, int64)", cache=True, nogil=True)
def sharpest(cumulative, first, last, offsets, angles, size):
    """The index of the angle whose sheared profile has the largest sum of squares, the profiles
    built from `rectify._shear_runs`' runs (`first`, `last`, `offsets`) over `angles` angles."""
    height = cumulative.shape[1]
    profiles = np.zeros(size)
    for run in range(len(first)):
        for row in range(height):
            profiles[offsets[run] + row] += cumulative[last[run], row] - cumulative[first[run], row]
    span = size // angles
    squares = profiles * profiles
    best, best_score = 0, -1.0
    for angle in range(angles):
        score = _pairwise_sum(squares, angle * span, span)
        if score > best_score:
            best, best_score = angle, score
    return best
