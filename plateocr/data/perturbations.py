"""Crops as a real detector hands them over: loose boxes, rotation, low resolution, blur, JPEG, light.

Each perturbation takes a tight plate crop and a seeded generator and returns a PIL image; the
same crop, kind, strength and seed give the same pixels. A loose box and a rotation need context
around the plate. Raw photos (CCPD's layout) have it and are cut with a margin around the annotated
corners (`loose_crop_from_photo`); a tight crop has none, so it is set on a synthetic surround:
its own border colours smeared outwards, shaded and noisy like a car body, which holds no
character-like strokes to read.

>>> import numpy as np
>>> from PIL import Image
>>> crop = Image.new("RGB", (94, 24), (20, 60, 200))
>>> loose = perturb(crop, "loose_box", 0.3, np.random.default_rng(0))
>>> loose.width > crop.width and loose.height > crop.height
True
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

# kind -> the strengths the robustness bench reads by default, mildest first.
DEFAULT_STRENGTHS = {
    "loose_box": (0.1, 0.2, 0.3),  # margin on each side, as a fraction of the plate's width/height
    "rotation": (4.0, 8.0, 10.0),  # degrees, the sign drawn at random
    "scale": (0.5, 0.33),  # the crop's size, as a fraction
    "blur": (1.0, 1.5),  # Gaussian sigma in pixels of a 94 × 24 crop
    "jpeg": (30, 20, 15),  # JPEG quality
    "dark": (0.45,),  # brightness factor
    "overexposed": (1.8,),  # brightness factor
}
KINDS = tuple(DEFAULT_STRENGTHS)
# Each side's margin of a loose box is drawn between a third of the nominal one and all of it
# (0.3: 10-30 % of the plate): detectors' boxes are not centred on the plate.
MARGIN_JITTER = 2 / 3
# Tight crops are scaled to this height before blur, so a sigma means the same on any crop size.
REFERENCE_HEIGHT = 24


def _margins(strength: float, rng: np.random.Generator) -> np.ndarray:
    """Left, top, right, bottom margins as fractions of the plate's size, each within
    [strength · (1 - MARGIN_JITTER), strength]."""
    return strength * (1 - MARGIN_JITTER * rng.random(4))


def surround(crop: Image.Image, margins_px: tuple[int, int, int, int], rng: np.random.Generator) -> Image.Image:
    """The crop set inside a synthetic car-body surround of the given pixel margins (l, t, r, b)."""
    left, top, right, bottom = margins_px
    arr = np.asarray(crop.convert("RGB"), np.float32)
    padded = np.pad(arr, ((top, bottom), (left, right), (0, 0)), mode="edge")
    body = np.array(rng.uniform(30, 200, 3), np.float32)
    h, w = padded.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    # The smeared border fades into a body colour with a soft gradient and sensor noise.
    distance = np.maximum.reduce(
        [left - xs, xs - (left + crop.width - 1), top - ys, ys - (top + crop.height - 1), np.zeros_like(xs)]
    )
    fade = np.clip(distance / max(2.0, 0.5 * min(crop.height, crop.width)), 0, 1)[..., None]
    gradient = 1 + rng.uniform(-0.25, 0.25) * (ys / max(1, h - 1) - 0.5)[..., None]
    outside = (1 - fade) * padded + fade * body * gradient
    outside += rng.normal(0, 6, outside.shape)
    inside = np.zeros((h, w, 1), bool)
    inside[top : top + crop.height, left : left + crop.width] = True
    return Image.fromarray(np.clip(np.where(inside, padded, outside), 0, 255).astype(np.uint8))


def loose_box(crop: Image.Image, strength: float, rng: np.random.Generator) -> Image.Image:
    m = _margins(strength, rng)
    px = (round(m[0] * crop.width), round(m[1] * crop.height), round(m[2] * crop.width), round(m[3] * crop.height))
    return surround(crop, px, rng)


def rotation(crop: Image.Image, degrees: float, rng: np.random.Generator) -> Image.Image:
    """The plate turned in-plane by ±degrees, cut as the axis-aligned box around its turned corners."""
    angle = degrees * rng.choice((-1.0, 1.0))
    w, h = crop.size
    a = math.radians(abs(angle))
    box_w, box_h = w * math.cos(a) + h * math.sin(a), w * math.sin(a) + h * math.cos(a)
    pad = math.ceil((w + h) * math.sin(a)) + 4  # enough that no corner of the cut leaves the canvas
    canvas = surround(crop, (pad, pad, pad, pad), rng)
    turned = canvas.rotate(angle, resample=Image.Resampling.BILINEAR)
    cx, cy = canvas.width / 2, canvas.height / 2
    return turned.crop((round(cx - box_w / 2), round(cy - box_h / 2), round(cx + box_w / 2), round(cy + box_h / 2)))


def scale(crop: Image.Image, factor: float, rng: np.random.Generator) -> Image.Image:
    w, h = crop.size
    return crop.resize((max(8, round(w * factor)), max(8, round(h * factor))), Image.Resampling.BOX)


def blur(crop: Image.Image, sigma: float, rng: np.random.Generator) -> Image.Image:
    return crop.filter(ImageFilter.GaussianBlur(sigma * crop.height / REFERENCE_HEIGHT))


def jpeg(crop: Image.Image, quality: float, rng: np.random.Generator) -> Image.Image:
    buffer = io.BytesIO()
    crop.convert("RGB").save(buffer, "JPEG", quality=int(quality))
    return Image.open(buffer).convert("RGB")


def brightness(crop: Image.Image, factor: float, rng: np.random.Generator) -> Image.Image:
    return ImageEnhance.Brightness(crop).enhance(factor)


PERTURBATIONS = {
    "loose_box": loose_box,
    "rotation": rotation,
    "scale": scale,
    "blur": blur,
    "jpeg": jpeg,
    "dark": brightness,
    "overexposed": brightness,
}


def perturb(crop: Image.Image, kind: str, strength: float, rng: np.random.Generator) -> Image.Image:
    """One perturbation of a tight crop, drawn from `rng` where it has a random part."""
    if kind not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {kind!r}: choose one of {', '.join(KINDS)}")
    return PERTURBATIONS[kind](crop.convert("RGB"), strength, rng)


def loose_crop_from_photo(photo: Image.Image, vertices, strength: float, rng: np.random.Generator) -> Image.Image:
    """An axis-aligned box around a plate's four annotated corners in a full photo, grown by margins
    of up to `strength` of the plate's size on each side (real context, as a detector would cut it)."""
    xs, ys = [x for x, _ in vertices], [y for _, y in vertices]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    m = _margins(strength, rng)
    w, h = x1 - x0, y1 - y0
    box = (
        max(0, round(x0 - m[0] * w)),
        max(0, round(y0 - m[1] * h)),
        min(photo.width, round(x1 + m[2] * w)),
        min(photo.height, round(y1 + m[3] * h)),
    )
    return photo.crop(box)
