"""The one plane-to-plane mapping both the CCPD crops and the synthetic camera need."""

from __future__ import annotations

import numpy as np


def homography(src, dst) -> np.ndarray:
    """The 3x3 matrix H taking each of four points src to its dst: (u, v, 1) ~ H (x, y, 1).

    u = (a x + b y + c) / (g x + h y + 1), and v likewise with d, e, f; each pair of points gives
    two linear equations in a..h.

    >>> homography([(0, 0), (1, 0), (1, 1), (0, 1)], [(0, 0), (2, 0), (2, 2), (0, 2)]).round(6).tolist()
    [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0]]
    """
    a, b = [], []
    for (x, y), (u, v) in zip(src, dst):
        a += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        b += [u, v]
    try:
        coefficients = np.linalg.solve(np.array(a, float), np.array(b, float))
    except np.linalg.LinAlgError:
        raise ValueError(f"degenerate quadrilateral (three corners on a line): {list(zip(src, dst))}") from None
    return np.append(coefficients, 1.0).reshape(3, 3)


def pil_perspective(out_to_in: np.ndarray) -> list[float]:
    """PIL's 8 PERSPECTIVE coefficients of a homography from output pixels to input pixels."""
    return (out_to_in / out_to_in[2, 2]).ravel()[:8].tolist()
