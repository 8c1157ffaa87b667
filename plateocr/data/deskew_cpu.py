"""`deskew.deskew_batch` for uint8 crops on a CPU, compiled with numba: the same arithmetic, pixel
for pixel, in one pass over each crop.

In torch, deskewing is some 90 tensor ops, and on one crop each costs microseconds of dispatch
whatever its size: a single plate took 0.4 ms to deskew, as long as the int8 model took to read it.
This kernel takes about 0.06 ms and gives the same bytes (tests/test_deskew.py compares them):
- every value is float32 where torch's is, with Python constants rounded as torch rounds them;
- the histograms add in the order of torch's scatter_add_, and the cumulative sums in float64, as
  torch's CPU cumsum adds float32;
- grid_sample's CPU kernel fuses its multiply-adds (FMA) on CPUs that have them (AVX2 and up), so
  those steps are rounded once here too, through float64, where the product of two float32 values
  is exact.

numba compiles the kernel on its first use on a machine (a few seconds) and keeps it in its
on-disk cache; a process that loads it from there starts in well under a second.
"""

from __future__ import annotations

import numba
import numpy as np

from .deskew import EDGE_PERCENTILE, LUMA, MIN_EDGES, MOSTLY_HORIZONTAL, SLOPE_BINS, STRENGTH_BINS, STRENGTH_MAX

F32 = np.float32
_LUMA_R, _LUMA_G, _LUMA_B = (F32(c) for c in LUMA)
_STRENGTH_WIDTH = F32(STRENGTH_MAX / STRENGTH_BINS)
_EDGE_SHARE = F32(EDGE_PERCENTILE / 100)
_HORIZONTAL = F32(MOSTLY_HORIZONTAL)
_SLOPE_LOW = F32(-1 / MOSTLY_HORIZONTAL)
_SLOPE_WIDTH = F32(2 / MOSTLY_HORIZONTAL / SLOPE_BINS)
_HALF = F32(0.5)


def deskew_crops(images: np.ndarray) -> np.ndarray:
    """(B, 3, H, W) uint8 crops, any strides → a new C-contiguous (B, 3, H, W) uint8 array, each
    crop sheared as `deskew.deskew_batch` shears it."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] != 3 or min(images.shape[2:]) < 2:
        raise ValueError(
            f"expected (B, 3, H, W) uint8 crops of at least 2 × 2 pixels, got {images.dtype} {images.shape}"
        )
    out = np.empty(images.shape, np.uint8)
    _deskew(images, out)
    return out


@numba.njit(cache=True, nogil=True)
def _centre(i, n):
    """Pixel i's centre in grid_sample's [-1, 1] coordinates, as `deskew._pixel_centres` has it."""
    return (F32(i) + _HALF) * F32(2 / n) - F32(1)


@numba.njit(cache=True, nogil=True)
def _fma(a, b, c):
    """a·b + c rounded once to float32, as a fused multiply-add rounds it."""
    return F32(np.float64(a) * np.float64(b) + np.float64(c))


@numba.njit(cache=True, nogil=True)
def _first_reaching(cumulative, share):
    """torch.searchsorted(cumulative, cumulative[-1] · share), clamped to the last bin."""
    target = cumulative[-1] * share
    for i in range(len(cumulative)):
        if cumulative[i] >= target:
            return i
    return len(cumulative) - 1


@numba.njit(cache=True, nogil=True)
def _cumulative(histogram):
    """Running sums added in float64 and stored as float32, as torch's CPU cumsum makes them."""
    out = np.empty(len(histogram), np.float32)
    total = 0.0
    for i in range(len(histogram)):
        total += histogram[i]
        out[i] = total
    return out


@numba.njit(cache=True, nogil=True)
def _gradient(i, n, before, after):
    """`deskew._gradient` at i of n: the central difference inside, one-sided at the borders."""
    if i == 0 or i == n - 1:
        return after - before
    return (after - before) / F32(2)


@numba.njit(cache=True, nogil=True)
def _slant(pixels, grey, gx, gy, strength):
    """`deskew.batch_slant` of one (3, H, W) float32 crop."""
    _, h, w = pixels.shape
    for y in range(h):
        for x in range(w):
            grey[y, x] = pixels[0, y, x] * _LUMA_R + pixels[1, y, x] * _LUMA_G + pixels[2, y, x] * _LUMA_B
    counts = np.zeros(STRENGTH_BINS, np.float32)
    for y in range(h):
        above, below = max(y - 1, 0), min(y + 1, h - 1)
        for x in range(w):
            left, right = max(x - 1, 0), min(x + 1, w - 1)
            gy[y, x] = _gradient(y, h, grey[above, x], grey[below, x])
            gx[y, x] = _gradient(x, w, grey[y, left], grey[y, right])
    for y in range(h):  # a loop of its own, which the compiler vectorises
        for x in range(w):
            strength[y, x] = np.hypot(gx[y, x], gy[y, x])
    for y in range(h):
        for x in range(w):
            counts[min(max(int(strength[y, x] / _STRENGTH_WIDTH), 0), STRENGTH_BINS - 1)] += 1
    threshold = (F32(_first_reaching(_cumulative(counts), _EDGE_SHARE)) + _HALF) * _STRENGTH_WIDTH
    weights = np.zeros(SLOPE_BINS, np.float32)
    edges = 0
    for y in range(h):
        for x in range(w):
            if abs(gx[y, x]) > _HORIZONTAL * abs(gy[y, x]) and strength[y, x] > threshold:
                edges += 1
                slope = gy[y, x] / gx[y, x]
                weights[min(max(int((slope - _SLOPE_LOW) / _SLOPE_WIDTH), 0), SLOPE_BINS - 1)] += strength[y, x]
    if edges < MIN_EDGES:
        return F32(0)
    return _SLOPE_LOW + (F32(_first_reaching(_cumulative(weights), _HALF)) + _HALF) * _SLOPE_WIDTH


@numba.njit(cache=True, nogil=True)
def _shear(pixels, k, out):
    """grid_sample (bilinear, border, align_corners=False) of one crop at the sheared grid that
    `deskew.deskew_torch` builds, rounded into uint8."""
    _, h, w = pixels.shape
    lean = k * F32(h) / F32(w)
    xs = np.empty(w, np.float32)
    for x in range(w):
        xs[x] = _centre(x, w)
    for y in range(h):
        ys = _centre(y, h)
        iy = min(max(_fma(ys + F32(1), F32(h) / F32(2), F32(-0.5)), F32(0)), F32(h - 1))
        y0 = int(iy)  # the floor: iy >= 0
        y1 = min(y0 + 1, h - 1)
        down = iy - F32(y0)
        up = F32(1) - down
        for x in range(w):
            ix = min(max(_fma(xs[x] - lean * ys + F32(1), F32(w) / F32(2), F32(-0.5)), F32(0)), F32(w - 1))
            x0 = int(ix)
            x1 = min(x0 + 1, w - 1)
            right = ix - F32(x0)
            left = F32(1) - right
            for c in range(3):
                # A zero weight adds exactly nothing: rows sit on pixel centres (one row counts) and
                # most columns are sampled off-centre (both count).
                value = pixels[c, y0, x0] * (up * left)
                if right != 0:
                    value = _fma(pixels[c, y0, x1], up * right, value)
                if down != 0:
                    value = _fma(pixels[c, y1, x0], down * left, value)
                    value = _fma(pixels[c, y1, x1], down * right, value)
                out[c, y, x] = np.uint8(np.rint(value))


@numba.njit("void(uint8[:, :, :, :], uint8[:, :, :, ::1])", cache=True, nogil=True)
def _deskew(images, out):
    _, _, h, w = images.shape
    pixels = np.empty((3, h, w), np.float32)
    grey, gx, gy, strength = np.empty((4, h, w), np.float32)
    for b in range(images.shape[0]):
        for c in range(3):
            for y in range(h):
                for x in range(w):
                    pixels[c, y, x] = images[b, c, y, x]
        _shear(pixels, _slant(pixels, grey, gx, gy, strength), out[b])
