"""Find the plate inside a detector's box: turn it level and cut the box tight around it.

Detectors hand over loose boxes (margins of 10-30 % of the plate) and plates turned in-plane, where
CCPD's hand-annotated crops are tight and nearly level; the models learnt mostly the latter. Before
a single-row crop is read, its tilt is measured (the slope that lines its near-horizontal edges up
into the sharpest row profile: the plate's top and bottom borders and the characters' tops and
bottoms), the crop is turned level, and the plate is found as the band of rows richest in upright
strokes (the characters), widened to the plate's height, and the columns of that band that hold
strokes. Where that box covers nearly all of the crop, the crop is left uncut. Everything is
measured on a small grey copy; the original is then turned, cut and resized to the model's input
in one resampling. It costs about 0.56 ms a 94 × 24 crop on one core (AVX2; 0.72 with the tilt
search's sums in numpy instead of its compiled kernel, `rectify_cpu`), about as much as the default
model's read: `plateocr predict` therefore finds the plates in worker processes while the model
reads (`reading.reader.default_workers`, `bench/speed.py`).

Out of fold on plates_dev (split 0, `bench/robustness.py`), the accurate ensemble read boxes with
30 % margins 0.955 instead of 0.846 and plates turned 8° 0.959 instead of 0.857, tight crops 0.983
instead of 0.975, blurred ones (σ 1) 0.949 instead of 0.937; green plates (recoloured) 0.3 points
worse. Crops under 16 rows (half resolution and less) are read as they are. It trims the top or
bottom of some tight crops: the band's height is the less certain of its two estimates.
docs/experiments.md has the variants tried.

>>> from PIL import Image, ImageDraw
>>> plate = Image.new("RGB", (94, 24), (20, 60, 200))
>>> for x in range(8, 90, 12):
...     ImageDraw.Draw(plate).rectangle((x, 5, x + 5, 19), fill=(240, 240, 240))
>>> loose = Image.new("RGB", (150, 40), (90, 90, 90))
>>> loose.paste(plate, (30, 9))
>>> tight = rectify(loose)
>>> 88 <= tight.width <= 104 and 20 <= tight.height <= 30
True
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import cast

import numpy as np
from PIL import Image

from .compiled import kernels

# The grey copy's height: at 32 rows the tilt of level plates spread 1.5 times as wide.
WORK_HEIGHT = 48
# Near-horizontal edges count by how much their vertical gradient exceeds their horizontal one,
# where that is in the crop's strongest quarter.
EDGE_PERCENTILE, MIN_EDGES = 75, 20
# The tilt is searched in steps of 1.5°, then 0.25° around the best. Plates_dev crops turned 8°
# (`perturbations.rotation`): 90 % measured within 1.25° of the turn, where the median slope of
# their edges was within 4°.
TILT_STEPS_DEGREES = (1.5, 0.25)
# Below this tilt, turning the crop would only blur it.
MIN_TILT_DEGREES, MAX_TILT_DEGREES = 1.5, 15.0
# The coarse search's angles: a coarse step apart across ±MAX_TILT_DEGREES.
COARSE_DEGREES = tuple(
    np.arange(-MAX_TILT_DEGREES, MAX_TILT_DEGREES + TILT_STEPS_DEGREES[1], TILT_STEPS_DEGREES[0]).tolist()
)
# Rows of the character band: where the upright-stroke energy is above this share of its peak.
BAND_THRESHOLD = 0.45
# Columns of the plate: where the band's stroke energy is above this share of its peak.
COLUMN_THRESHOLD = 0.12
# The tight CCPD crops of plates_dev are 1.92 times as tall as that band (median; 5-95 %: 1.6-2.4)
# and as wide as their stroke columns (95 %: 1.03 times).
PLATE_PER_BAND_HEIGHT, PLATE_PER_STROKE_WIDTH = 1.92, 1.02
# A box this close to the whole crop is the crop: leave it uncut.
KEEP_IF_AREA_ABOVE = 0.85
# Bands narrower or lower than these shares of the crop are not a plate (leave the crop as it is).
MIN_WIDTH_SHARE, MIN_HEIGHT_SHARE = 0.3, 0.2
# A plate fewer pixels tall than this reads better with its surround than cut out and blown up.
MIN_CUT_HEIGHT = 12
# A crop fewer rows tall than this is read as it is: turning it blurs it more than its tilt costs
# (half-resolution crops, 12 rows, read 0.920 as they are and 0.910 rectified, out of fold).
MIN_RECTIFY_HEIGHT = 16


def _gradients(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Central differences on the interior pixels: (gx, gy), each (H-2, W-2)."""
    return grey[1:-1, 2:] - grey[1:-1, :-2], grey[2:, 1:-1] - grey[:-2, 1:-1]


def _grey(image: Image.Image) -> np.ndarray:
    """The grey work copy (mode "L") as float pixels."""
    return np.asarray(image, dtype=np.float32)


def tilt(grey: np.ndarray, level_below: float = 0.0) -> float:
    """dy/dx of the crop's near-horizontal edges (y grows downwards); 0 where there are too few.

    The slope whose shear lines those edges up into the fewest rows: the plate's borders and the
    characters' tops and bottoms make the row profile of edge strength sharpest (largest sum of
    squares) there. Searched coarse, then fine around the coarse best; 0 without the fine search
    where it could only find a tilt under `level_below` degrees (one its caller treats as level).
    """
    gx, gy = _gradients(grey)
    horizontal = np.maximum(np.abs(gy) - np.abs(gx), 0.0).ravel()
    at = int(horizontal.size * EDGE_PERCENTILE / 100)
    edges = np.flatnonzero(horizontal > np.partition(horizontal, at)[at])
    if edges.size < MIN_EDGES:
        return 0.0
    height, width = gy.shape
    compiled = kernels("rectify_cpu")  # the same sums in the same order, in compiled loops
    # Each column's histogram of edge strength over rows, summed cumulatively across the columns: a
    # shear moves a run of neighbouring columns by the same number of rows, so a run's histogram is
    # one difference of two cumulative sums (a few runs for a small slope instead of every edge).
    if compiled is not None:
        cumulative = compiled.cumulative_columns(horizontal.reshape(height, width), edges)
    else:
        rows, column_of = np.divmod(edges, width)
        per_column = np.bincount(column_of * height + rows, horizontal[edges], width * height)
        cumulative = np.zeros((width + 1, height))
        np.cumsum(per_column.reshape(width, height), axis=0, out=cumulative[1:])
    bin_of_row = np.arange(height)

    def sharpest(degrees: tuple[float, ...]) -> float:
        """The slope, of those of `degrees`, whose shear gives the sharpest profile."""
        slopes, first, last, offsets, size = _shear_runs(width, height, degrees)
        if compiled is not None:
            return float(slopes[compiled.sharpest(cumulative, first, last, offsets, len(slopes), size)])
        histograms = cumulative[last] - cumulative[first]
        profiles = np.bincount((offsets[:, None] + bin_of_row).ravel(), histograms.ravel(), size)
        return float(slopes[np.argmax(np.square(profiles.reshape(len(slopes), -1)).sum(1))])

    coarse, fine = TILT_STEPS_DEGREES
    best = np.degrees(np.arctan(sharpest(COARSE_DEGREES)))
    if abs(best) + coarse <= level_below:
        return 0.0
    return sharpest(tuple((best + np.arange(-coarse, coarse + fine / 2, fine)).tolist()))


@lru_cache(maxsize=256)
def _shear_runs(width: int, height: int, degrees: tuple[float, ...]):
    """How a shear by each angle moves `width` columns: the angles' slopes (dy/dx); per run of
    neighbouring columns moved by the same number of rows, its first and last column (+1) and the
    bin of its row 0 in the angles' joint profile (each angle's profile a span of `height` + 2
    `width` bins, so that rows offset by the width are never negative); and the number of bins.
    The same for every crop of that width: `tilt` works it out once (nearly half its cost)."""
    slopes = np.tan(np.radians(np.array(degrees)))
    centred = np.arange(width) - (width - 1) / 2
    shifts = np.rint(slopes[:, None] * centred).astype(np.intp)
    starts = np.ones(shifts.shape, bool)
    starts[:, 1:] = shifts[:, 1:] != shifts[:, :-1]
    run = np.flatnonzero(starts)
    angle_of, first = np.divmod(run, width)
    last = np.append(run[1:], starts.size) - angle_of * width  # an angle's last run ends at its last column
    span = height + 2 * width
    return slopes, first, last, angle_of * span + width - shifts.ravel()[run], len(degrees) * span


def _run_around_peak(profile: np.ndarray, share: float) -> tuple[int, int]:
    """The contiguous run of indices around the profile's peak where it exceeds `share` of the peak."""
    peak = int(np.argmax(profile))
    below = profile <= share * profile[peak]
    before, after = np.flatnonzero(below[:peak]), np.flatnonzero(below[peak:])
    return (int(before[-1]) + 1 if len(before) else 0), (peak + int(after[0]) if len(after) else len(profile))


def plate_box(grey: np.ndarray) -> tuple[float, float, float, float] | None:
    """(left, top, right, bottom) of the plate in a level grey crop, or None where the crop shows
    no band of characters that could be one."""
    gx, gy = _gradients(grey)
    strokes = np.where(np.abs(gx) > np.abs(gy), np.abs(gx), 0.0)
    rows = np.convolve(strokes.sum(1), np.ones(3) / 3, mode="same")
    if rows.max() <= 0:
        return None
    top, bottom = _run_around_peak(rows, BAND_THRESHOLD)
    band = bottom - top
    width = max(1, band // 2)  # about a character's stroke spacing
    columns = np.convolve(strokes[top:bottom].sum(0), np.ones(width) / width, mode="same")
    on = np.flatnonzero(columns > COLUMN_THRESHOLD * columns.max())
    h, w = grey.shape
    if not len(on) or (on[-1] + 1 - on[0]) < MIN_WIDTH_SHARE * w or band < MIN_HEIGHT_SHARE * h:
        return None
    # +1: gradients are on the interior pixels.
    cx, cy = (on[0] + on[-1] + 1) / 2 + 1, (top + bottom) / 2 + 1
    half_w, half_h = (on[-1] + 1 - on[0]) * PLATE_PER_STROKE_WIDTH / 2, band * PLATE_PER_BAND_HEIGHT / 2
    return max(0.0, cx - half_w), max(0.0, cy - half_h), min(float(w), cx + half_w), min(float(h), cy + half_h)


def locate_plate(image: Image.Image) -> tuple[float, tuple[float, float, float, float] | None]:
    """Where the single-row plate in `image` is: the angle in degrees that levels it (anticlockwise
    about the crop's centre, as PIL's `rotate` turns; 0 where it is level enough) and its box in the
    levelled crop (left, top, right, bottom, in the crop's pixels), or None where the box would be
    nearly all of the crop or the crop shows no band of characters. A crop under MIN_RECTIFY_HEIGHT
    rows is (0.0, None): read as it is."""
    if image.height < MIN_RECTIFY_HEIGHT:
        return 0.0, None
    scale = WORK_HEIGHT / image.height
    # Measured in grey from the start: turning one channel costs a third of turning three.
    small = image.convert("L").resize((max(8, round(image.width * scale)), WORK_HEIGHT), Image.Resampling.BILINEAR)
    degrees = float(np.degrees(np.arctan(tilt(_grey(small), level_below=MIN_TILT_DEGREES))))
    if not MIN_TILT_DEGREES < abs(degrees) < MAX_TILT_DEGREES:
        degrees = 0.0
    grey = _grey(_turn(small, degrees) if degrees else small)
    box = plate_box(grey)
    if box is None or (box[2] - box[0]) * (box[3] - box[1]) > KEEP_IF_AREA_ABOVE * grey.size:
        return degrees, None
    if (box[3] - box[1]) / scale < MIN_CUT_HEIGHT:
        return degrees, None
    return degrees, (box[0] / scale, box[1] / scale, box[2] / scale, box[3] / scale)


def _fill(image: Image.Image) -> tuple[int, ...] | int:
    """The crop's mean colour (grey level for a grey crop), for the corners a turn uncovers."""
    # A one-pixel box-filtered copy is the mean: a seventh of the cost of averaging in numpy.
    return cast("tuple[int, ...] | int", image.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0)))


def _turn(image: Image.Image, degrees: float) -> Image.Image:
    # PIL turns anticlockwise for a positive angle, which levels an edge falling to the right
    # (positive dy/dx, y down).
    return image.rotate(degrees, resample=Image.Resampling.BILINEAR, fillcolor=_fill(image))


def rectify(image: Image.Image, size: tuple[int, int] | None = None) -> Image.Image:
    """The single-row plate in `image`, turned level and cut tight, at `size` (h, w; None: the
    box's own size); `image` itself where it is level and tight already.

    Turning, cutting and resizing are one resampling: a turn and then a resize blurred small crops
    enough to cost accuracy (out of fold, half-resolution crops 0.779 against 0.852 read as they are).
    """
    image = image if image.mode == "RGB" else image.convert("RGB")
    degrees, box = locate_plate(image)
    if not degrees and box is None:
        return image
    left, top, right, bottom = box or (0.0, 0.0, float(image.width), float(image.height))
    out_h, out_w = size or (max(1, round(bottom - top)), max(1, round(right - left)))
    # A box much larger than the output is reduced first: an affine transform does not antialias.
    step = max(1, int(min((right - left) / out_w, (bottom - top) / out_h) / 2))
    if step > 1:
        image = image.reduce(step)
        left, top, right, bottom = (v / step for v in (left, top, right, bottom))
    # Output pixel (u, v) -> levelled crop (left + u·sx, top + v·sy) -> the crop as given, turned
    # back about its centre (the matrix PIL's `rotate` builds).
    turn = -math.radians(degrees)
    a, b, d, e = math.cos(turn), math.sin(turn), -math.sin(turn), math.cos(turn)
    cx, cy = image.width / 2, image.height / 2
    c, f = cx - (a * cx + b * cy), cy - (d * cx + e * cy)
    sx, sy = (right - left) / out_w, (bottom - top) / out_h
    coefficients = (a * sx, b * sy, a * left + b * top + c, d * sx, e * sy, d * left + e * top + f)
    return image.transform(
        (out_w, out_h), Image.Transform.AFFINE, coefficients, Image.Resampling.BILINEAR, fillcolor=_fill(image)
    )
