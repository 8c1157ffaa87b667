"""Synthetic Chinese plates: the built-in default data, realistic enough to transfer to real crops.

Plates follow the GA 36 layouts (see ../shared/PLATE_FORMATS.md): blue 7-character, green
new-energy 8-character (small- and large-car patterns), yellow (front and double-row rear), white
警 and black 港/澳/使/领 plates. Each is drawn at 1 px/mm with the SimHei font from `mplfonts`, then
degraded like a CCPD crop (see `degrade`). Sample i of seed s is always the same image.

>>> image, label, plate_type = synth_sample(seed=0, index=3)
>>> from plateocr.alphabet import is_valid_plate
>>> is_valid_plate(label), plate_type in PLATE_TYPES
(True, True)
"""
from __future__ import annotations

import csv
import io
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from torch.utils.data import Dataset

from .alphabet import ALNUM, DIGITS, ENERGY, PLATE_LETTERS, PLATE_TYPES, PROVINCES, is_valid_plate
from .fonts import PLATE_FONT, font_path

DEFAULT_TYPE_WEIGHTS = {"blue": 0.55, "green": 0.15, "yellow": 0.12, "yellow_double": 0.08,
                        "white": 0.05, "black": 0.05}
PLATE_LETTER_LIST, ALNUM_LIST = list(PLATE_LETTERS), list(ALNUM)

# plate colour, character colour, border colour (RGB)
COLOURS = {"blue": ((10, 60, 175), (245, 245, 245)), "yellow": ((235, 185, 20), (15, 15, 15)),
           "yellow_double": ((235, 185, 20), (15, 15, 15)), "white": ((238, 238, 235), (15, 15, 15)),
           "black": ((20, 22, 25), (240, 240, 240)), "green": ((120, 210, 140), (10, 10, 10))}


# -- labels ------------------------------------------------------------------------------------
def _alnum(rng, n: int, letter_p: float = 0.25) -> str:
    return "".join(rng.choice(PLATE_LETTER_LIST) if rng.random() < letter_p else rng.choice(list(DIGITS))
                   for _ in range(n))


def random_plate(rng: np.random.Generator, plate_type: str | None = None,
                 province_weights: dict[str, float] | None = None) -> tuple[str, str]:
    """A valid plate text and its type; provinces are uniform unless weights are given.

    >>> label, kind = random_plate(np.random.default_rng(0), "green")
    >>> len(label), kind, label[2] in "DF" or label[-1] in "DF"
    (8, 'green', True)
    """
    if plate_type is None:
        plate_type = _pick(rng, DEFAULT_TYPE_WEIGHTS)
    if province_weights:
        province = _pick(rng, province_weights)
    else:
        province = PROVINCES[rng.integers(len(PROVINCES))]
    letter = rng.choice(PLATE_LETTER_LIST)
    if plate_type == "blue":
        label = province + letter + _alnum(rng, 5)
    elif plate_type == "green":
        if rng.random() < 0.8:   # small car: D/F, then one letter-or-digit and four digits
            label = province + letter + rng.choice(list(ENERGY)) + _alnum(rng, 1, 0.4) + _alnum(rng, 4, 0.05)
        else:                    # large vehicle: five digits, then D/F
            label = province + letter + _alnum(rng, 5, 0.0) + rng.choice(list(ENERGY))
    elif plate_type in ("yellow", "yellow_double"):
        r = rng.random()
        suffix = "挂" if r < 0.2 else ("学" if r < 0.3 and plate_type == "yellow" else _alnum(rng, 1))
        label = province + letter + _alnum(rng, 4) + suffix
    elif plate_type == "white":
        label = province + letter + _alnum(rng, 4) + "警"
    elif plate_type == "black":
        label = ("粤Z" + _alnum(rng, 4) + rng.choice(["港", "澳"]) if rng.random() < 0.8
                 else province + letter + _alnum(rng, 4) + rng.choice(["使", "领"]))
    else:
        raise ValueError(f"unknown plate type {plate_type!r}: choose one of {', '.join(PLATE_TYPES)}")
    assert is_valid_plate(label), label
    return label, plate_type


def _pick(rng, weights: dict[str, float]) -> str:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], float)
    return keys[rng.choice(len(keys), p=p / p.sum())]


# -- clean rendering ---------------------------------------------------------------------------
@lru_cache(maxsize=4096)
def _glyph(char: str, w: int, h: int, bold: int) -> Image.Image:
    """The character's ink stretched to fill a w×h mm slot (plate lettering is tall and narrow)."""
    font = ImageFont.truetype(str(font_path(PLATE_FONT)), 160)
    canvas = Image.new("L", (220, 220), 0)
    ImageDraw.Draw(canvas).text((20, 10), char, font=font, fill=255)
    ink = canvas.crop(canvas.getbbox())
    if bold:
        ink = ink.filter(ImageFilter.MaxFilter(2 * bold + 1))
    natural_w = round(ink.width * h / ink.height)
    if natural_w < 0.6 * w:   # a narrow glyph such as 1 stays narrow, centred in its slot
        slot = Image.new("L", (w, h), 0)
        slot.paste(ink.resize((natural_w, h), Image.Resampling.LANCZOS), ((w - natural_w) // 2, 0))
        return slot
    return ink.resize((w, h), Image.Resampling.LANCZOS)


def _slots(label: str, plate_type: str) -> tuple[tuple[int, int], list[tuple[int, int, int, int]], list]:
    """Plate size (mm) and each character's box (x, y, w, h), plus dot positions."""
    if plate_type == "yellow_double":
        upper = [(110, 15, 80, 60), (250, 15, 80, 60)]
        lower = [(27 + i * 80, 90, 65, 110) for i in range(5)]
        return (440, 220), upper + lower, [(220, 45)]
    if len(label) == 8:
        xs = [15, 64] + [131 + i * 56 for i in range(6)]
        return (480, 140), [(x, 25, 43, 90) for x in xs], [(118, 70)]
    xs = [15.5, 72.5] + [163.5 + i * 57 for i in range(5)]
    return (440, 140), [(round(x), 25, 45, 90) for x in xs], [(141, 70)]


def _background(plate_type: str, label: str, size: tuple[int, int]) -> Image.Image:
    w, h = size
    if plate_type == "green":
        if label[-1] in ENERGY:   # large new-energy plates: yellow fading into green
            a, b = np.array([235, 200, 40]), np.array([90, 190, 90])
            t = np.linspace(0, 1, w)[None, :, None]
            grad = a * (1 - t) + b * t
            return Image.fromarray(np.broadcast_to(grad, (h, w, 3)).astype(np.uint8))
        a, b = np.array([235, 245, 235]), np.array([80, 195, 110])   # white-green to green, top down
        t = np.linspace(0, 1, h)[:, None, None] ** 0.8
        return Image.fromarray(np.broadcast_to(a * (1 - t) + b * t, (h, w, 3)).astype(np.uint8))
    return Image.new("RGB", size, COLOURS[plate_type][0])


def render_clean(label: str, plate_type: str, bold: int = 2) -> Image.Image:
    """The plate as issued, at 1 px per mm, without any degradation.

    >>> render_clean("皖A12345", "blue").size
    (440, 140)
    """
    size, slots, dots = _slots(label, plate_type)
    plate = _background(plate_type, label, size)
    ink = COLOURS[plate_type][1]
    draw = ImageDraw.Draw(plate)
    draw.rounded_rectangle((3, 3, size[0] - 4, size[1] - 4), radius=9, outline=ink, width=3)
    for x, y in dots:
        draw.ellipse((x - 5, y - 5, x + 5, y + 5), fill=ink)
    for char, (x, y, w, h) in zip(label, slots):
        colour = (200, 20, 20) if char == "警" else ink
        plate.paste(Image.new("RGB", (w, h), colour), (x, y), _glyph(char, w, h, bold))
    return plate


# -- degradation -------------------------------------------------------------------------------
def degrade(plate: Image.Image, rng: np.random.Generator, double_row: bool = False) -> Image.Image:
    """Make a clean plate look like a CCPD crop: framing, perspective, light, dirt, blur, noise, JPEG."""
    # Half a pixel per mm is still more than the final crop has, and 4× cheaper to degrade.
    plate = plate.resize((plate.width // 2, plate.height // 2), Image.Resampling.BILINEAR, reducing_gap=2.0)
    pw, ph = plate.size
    arr = np.asarray(plate, dtype=np.float32)
    if rng.random() < 0.5:   # uneven light across the plate
        gx = np.linspace(rng.uniform(0.6, 1.1), rng.uniform(0.8, 1.3), pw)[None, :, None]
        gy = np.linspace(rng.uniform(0.8, 1.15), rng.uniform(0.8, 1.15), ph)[:, None, None]
        arr = arr * gx * gy
    if rng.random() < 0.35:  # dirt and stains
        yy, xx = np.mgrid[0:ph, 0:pw]
        for _ in range(rng.integers(1, 6)):
            cx, cy, r = rng.uniform(0, pw), rng.uniform(0, ph), rng.uniform(3, 20)
            mask = np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r)))[..., None]
            arr = arr * (1 - 0.5 * rng.uniform(0.2, 1.0) * mask) + 40 * mask * rng.uniform(0, 0.5)
    plate = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))

    # Frame: the detector's box is loose or tight, with car body around the plate.
    mx, my = rng.uniform(-0.02, 0.10, 2) * pw, rng.uniform(-0.04, 0.18, 2) * ph
    cw, ch = int(pw + mx.sum() + 2), int(ph + my.sum() + 2)
    body = np.clip(rng.normal(rng.uniform(20, 200), rng.uniform(2, 25), (ch, cw, 3))
                   + rng.uniform(-25, 25, 3), 0, 255).astype(np.uint8)
    canvas = Image.fromarray(body)
    canvas.paste(plate, (int(mx[0]), int(my[0])))

    # Perspective: the corners move independently (camera tilt and rotation).
    jitter = rng.normal(0, 0.025, (4, 2)) * np.array([cw, ch])
    if rng.random() < 0.5:
        angle = np.deg2rad(rng.normal(0, 3))
        shift = np.tan(angle) * cw / 2
        jitter[:, 1] += np.array([-shift, shift, shift, -shift])
    src = np.array([[0, 0], [cw, 0], [cw, ch], [0, ch]], float) + jitter
    from .ccpd import _perspective_coefficients
    coeffs = _perspective_coefficients(list(zip([(0, 0), (cw, 0), (cw, ch), (0, ch)], map(tuple, src))))
    canvas = canvas.transform((cw, ch), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR,
                              fillcolor=tuple(int(v) for v in body[0, 0]))

    # Resolution of a CCPD crop: about 90–150 px wide.
    out_w = int(rng.uniform(88, 150))
    out_h = max(12, round(out_w * ch / cw * rng.uniform(0.85, 1.15)))
    if rng.random() < 0.5:
        canvas = canvas.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 1.1)))
    if rng.random() < 0.15:   # horizontal motion blur
        k = int(rng.choice([3, 5]))
        canvas = canvas.filter(ImageFilter.Kernel((k, k), _motion_kernel(k)))
    small = canvas.resize((out_w, out_h), Image.Resampling.BILINEAR, reducing_gap=None)

    arr = np.asarray(small, dtype=np.float32)
    contrast, brightness = rng.uniform(0.55, 1.25), rng.uniform(-50, 40)
    arr = (arr - 128) * contrast + 128 + brightness
    arr = arr * rng.uniform(0.85, 1.15, 3)                       # white balance
    gamma = rng.uniform(0.7, 1.5)
    arr = 255 * (np.clip(arr, 0, 255) / 255) ** gamma
    arr = arr + rng.normal(0, rng.uniform(0, 9), arr.shape)
    small = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=int(rng.uniform(25, 95)))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def _motion_kernel(k: int) -> list[float]:
    kernel = [0.0] * (k * k)
    for i in range(k):
        kernel[(k // 2) * k + i] = 1.0 / k
    return kernel


def render_plate(label: str, plate_type: str, rng: np.random.Generator) -> Image.Image:
    """A degraded, low-resolution crop of the plate, as a detector would cut it from a photo."""
    clean = render_clean(label, plate_type, bold=int(rng.integers(1, 4)))
    return degrade(clean, rng, plate_type == "yellow_double")


def synth_sample(seed: int, index: int, type_weights=None, province_weights=None) -> tuple[Image.Image, str, str]:
    """(image, label, plate_type) for sample `index` of seed `seed`; always the same."""
    rng = np.random.default_rng([seed, index])
    plate_type = _pick(rng, type_weights or DEFAULT_TYPE_WEIGHTS)
    label, plate_type = random_plate(rng, plate_type, province_weights)
    return render_plate(label, plate_type, rng), label, plate_type


class SyntheticPlates(Dataset):
    """n synthetic plates rendered on the fly: item i is (PIL image, label, plate_type)."""

    def __init__(self, n: int, seed: int = 0, type_weights=None, province_weights=None):
        self.n, self.seed = n, seed
        self.type_weights, self.province_weights = type_weights, province_weights

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        if not 0 <= i < self.n:
            raise IndexError(f"synthetic plate {i} out of range 0..{self.n - 1}")
        return synth_sample(self.seed, i, self.type_weights, self.province_weights)


def write_synthetic(n: int, out_dir: str | Path, seed: int = 0, **kwargs) -> Path:
    """Write n plates as LABEL.jpg (LABEL_2.jpg for a repeat) plus manifest.csv; returns the manifest."""
    out = Path(out_dir)
    if out.is_dir() and any(out.glob("*.jpg")):
        raise ValueError(f"{out} already holds images; choose an empty or new folder")
    out.mkdir(parents=True, exist_ok=True)
    seen: dict[str, int] = {}
    rows = []
    for i, (image, label, kind) in enumerate(SyntheticPlates(n, seed, **kwargs)):
        if i >= n:
            break
        seen[label] = seen.get(label, 0) + 1
        name = f"{label}.jpg" if seen[label] == 1 else f"{label}_{seen[label]}.jpg"
        image.save(out / name, quality=95)
        rows.append({"path": name, "label": label, "plate_type": kind})
    manifest = out / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["path", "label", "plate_type"])
        writer.writeheader()
        writer.writerows(rows)
    return manifest
