"""Synthetic Chinese plates: the built-in default data, realistic enough to transfer to real crops.

Plates follow the GA 36 layouts (see ../shared/PLATE_FORMATS.md): blue 7-character, green
new-energy 8-character (small- and large-car patterns), yellow (front and double-row rear), white
警 and black 港/澳/使/领 plates. Glyphs come from the CJK fonts inside the `mplfonts` wheel (1, 3 and
M are drawn in the plate font's own shapes, which no font shipped there has; Chinese characters get
their vertical strokes widened back after the squeeze into their narrow slots); each
plate is drawn clean (`render_clean`, 1 px per mm) and then degraded like a CCPD crop
(`synth_degrade.degrade`). Sample i of seed s is always the same image.

>>> from plateocr.alphabet import is_valid_plate
>>> image, label, plate_type = synth_sample(seed=0, index=3)
>>> is_valid_plate(label), plate_type in PLATE_TYPES, image.mode
(True, True, 'RGB')
"""

from __future__ import annotations

import csv
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from torch.utils.data import Dataset

from ..alphabet import (
    ALNUM,
    CROSS_BORDER,
    DIGITS,
    DIPLOMATIC,
    ENERGY,
    LEARNER,
    PLATE_LETTERS,
    PLATE_TYPES,
    POLICE,
    PROVINCES,
    TRAILER,
    TYPE_FORMATS,
    plate_format,
)
from ..errors import PlateOCRError
from .degrade import degrade
from .fonts import PLATE_FONT, font_path

# Seeds of held-out synthetic sets, far from the small seeds (and seed + train.VAL_SEED_OFFSET) training renders with.
EVAL_SEED = 424_242  # evaluation plates of every type (evaluation.records_for, notebook 03)
TYPE_BENCH_SEED = 9_999_991  # bench/plate_types.py: the same number of plates of each type
DEFAULT_TYPE_WEIGHTS = {
    "blue": 0.55,
    "green": 0.15,
    "yellow": 0.12,
    "yellow_double": 0.08,
    "white": 0.05,
    "black": 0.05,
}
# Noto Sans CJK, emboldened, is closest to the condensed plate lettering (plain 1, open 4, no slashed 0);
# SimHei, a second look, keeps the model from learning one font's quirks.
FONTS = {"noto": "NotoSansCJKsc-Regular.otf", "simhei": PLATE_FONT}
STROKES = {"noto": (2, 3, 4), "simhei": (0, 1, 2)}  # outline px at 100 px/em for weights 0, 1, 2
CLEAN_STYLE = ("noto", 1)

# Mid colours (RGB) and how far a physical plate, its paint and its age move them.
PLATE_RGB = {
    "blue": (15, 75, 190),
    "yellow": (230, 185, 25),
    "yellow_double": (230, 185, 25),
    "white": (235, 236, 232),
    "black": (22, 24, 28),
}
PLATE_SPREAD = {
    "blue": (15, 35, 40),
    "yellow": (20, 20, 25),
    "yellow_double": (20, 20, 25),
    "white": (15, 15, 15),
    "black": (15, 15, 15),
}
DARK_INK, LIGHT_INK, POLICE_RED = (18, 18, 18), (245, 245, 245), (205, 20, 25)
LIGHT_INK_TYPES = ("blue", "black")
HK_MACAU_PREFIX = "粤Z"  # Guangdong's cross-border plates for Hong Kong and Macau vehicles


class SynthError(PlateOCRError, ValueError):
    """Bad synthetic-data arguments: a ValueError that the CLI prints as one line."""


# -- labels ------------------------------------------------------------------------------------
def _alnum(rng, n: int, letter_p: float = 0.3) -> str:
    return "".join(
        PLATE_LETTERS[rng.integers(len(PLATE_LETTERS))] if rng.random() < letter_p else DIGITS[rng.integers(10)]
        for _ in range(n)
    )


def _pick(rng, weights: dict[str, float], allowed, what: str) -> str:
    unknown = sorted(set(weights) - set(allowed))
    if unknown:
        raise SynthError(f"unknown {what} {', '.join(map(repr, unknown))}: choose from {', '.join(allowed)}")
    keys = list(weights)
    cumulative = np.cumsum([weights[k] for k in keys], dtype=float)
    if min(weights.values()) < 0 or cumulative[-1] <= 0:
        raise SynthError(f"{what} weights must be non-negative with a positive sum, got {weights}")
    return keys[int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))]


def random_plate(
    rng: np.random.Generator, plate_type: str | None = None, province_weights: dict[str, float] | None = None
) -> tuple[str, str]:
    """A valid plate text and its type; provinces are uniform unless weights are given.

    >>> from plateocr.alphabet import is_valid_plate
    >>> label, kind = random_plate(np.random.default_rng(0))
    >>> is_valid_plate(label), kind in PLATE_TYPES
    (True, True)
    >>> label, kind = random_plate(np.random.default_rng(0), "green")
    >>> len(label), label[2] in "DF" or label[-1] in "DF"
    (8, True)
    """
    if plate_type is None:
        plate_type = _pick(rng, DEFAULT_TYPE_WEIGHTS, PLATE_TYPES, "plate type")
    if plate_type not in PLATE_TYPES:
        raise SynthError(f"unknown plate type {plate_type!r}: choose one of {', '.join(PLATE_TYPES)}")
    # Uniform by default: real data is mostly one province, so the rare ones must come from here.
    province = (
        _pick(rng, province_weights, PROVINCES, "province")
        if province_weights
        else PROVINCES[rng.integers(len(PROVINCES))]
    )
    letter = PLATE_LETTERS[rng.integers(len(PLATE_LETTERS))]
    if plate_type == "blue":
        label = province + letter + _alnum(rng, 5)
    elif plate_type == "green":
        energy = ENERGY[rng.integers(2)]
        if rng.random() < 0.8:  # small car: D/F first, then five with at most two letters
            serial = list(_alnum(rng, 5, 0.0))
            for pos in rng.choice(5, size=rng.choice(3, p=[0.5, 0.35, 0.15]), replace=False):
                serial[pos] = PLATE_LETTERS[rng.integers(len(PLATE_LETTERS))]
            label = province + letter + energy + "".join(serial)
        else:  # large vehicle: five digits, then D/F
            label = province + letter + _alnum(rng, 5, 0.0) + energy
    elif plate_type in ("yellow", "yellow_double"):
        r = rng.random()
        suffix = TRAILER if r < 0.15 else (LEARNER if r < 0.25 and plate_type == "yellow" else _alnum(rng, 1))
        label = province + letter + _alnum(rng, 4) + suffix
    elif plate_type == "white":
        label = province + letter + _alnum(rng, 4) + POLICE
    else:  # black: Hong Kong / Macau cross-border plates, a few embassy and consulate ones
        label = (
            HK_MACAU_PREFIX + _alnum(rng, 4) + CROSS_BORDER[rng.integers(2)]
            if rng.random() < 0.8
            else province + letter + _alnum(rng, 4) + DIPLOMATIC[rng.integers(2)]
        )
    assert plate_format(label) in TYPE_FORMATS[plate_type], (label, plate_type)
    return label, plate_type


# -- clean rendering ---------------------------------------------------------------------------
@cache
def _font(name: str) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path(FONTS[name])), 100)


def _drawn_glyph(char: str, w: int, h: int, weight: int) -> Image.Image:
    """The plate font's own 1, 3 and M, where every CJK font draws them differently.

    1 is a plain bar (fonts add a flag); 3 has a flat top and a diagonal into its bowl (fonts
    round it, so models trained on them read real 3s as 5s); M's V stops well above the baseline
    (fonts take it down to the bottom, so real Ms read as H). Drawn 4x larger for smooth edges.
    """
    big_w, big_h = 4 * w, 4 * h
    # The 1 is as thin as tuned by eye; 3 and M match the emboldened font strokes around them.
    stroke = max(4, round(big_w * ((0.17 + 0.03 * weight) if char == "1" else (0.21 + 0.035 * weight))))
    canvas = Image.new("L", (big_w, big_h), 0)
    draw = ImageDraw.Draw(canvas)
    half = stroke / 2
    if char == "1":
        draw.rectangle(((big_w - stroke) / 2, 0, (big_w + stroke) / 2, big_h), fill=255)
    elif char == "3":
        waist = 0.46 * big_h
        draw.rectangle((0.06 * big_w, 0, 0.94 * big_w, stroke), fill=255)
        draw.line(((0.94 * big_w - half, half), (0.36 * big_w, waist + half)), fill=255, width=stroke)
        draw.line(((0.36 * big_w, waist + half), (0.52 * big_w, waist + half)), fill=255, width=stroke)
        draw.arc((0.06 * big_w, waist, 0.94 * big_w + half, big_h - 1), -90, 150, fill=255, width=stroke)
    else:  # M
        draw.rectangle((0, 0, stroke, big_h), fill=255)
        draw.rectangle((big_w - stroke, 0, big_w, big_h), fill=255)
        vertex = (big_w / 2, 0.62 * big_h)
        draw.line(((half, half), vertex), fill=255, width=stroke)
        draw.line(((big_w - half, half), vertex), fill=255, width=stroke)
    return canvas.resize((w, h), Image.Resampling.BOX)


DRAWN_GLYPHS = "13M"


@lru_cache(maxsize=8192)
def _glyph(char: str, w: int, h: int, font: str, weight: int) -> Image.Image:
    """The character's ink stretched to fill a w×h px slot (plate lettering is tall and narrow)."""
    if char in DRAWN_GLYPHS:
        return _drawn_glyph(char, w, h, weight)
    # Squeezing a square CJK glyph into a half-width slot keeps its many strokes close together,
    # so Chinese characters get one step less emboldening than letters and digits.
    stroke = max(0, STROKES[font][weight] - (char not in ALNUM))
    canvas = Image.new("L", (200, 200), 0)
    ImageDraw.Draw(canvas).text((40, 30), char, font=_font(font), fill=255, stroke_width=stroke, stroke_fill=255)
    ink = canvas.crop(canvas.getbbox())
    natural_w = round(ink.width * h / ink.height)
    if natural_w < 0.6 * w:  # 1 stays a narrow bar centred in its slot, as on real plates
        slot = Image.new("L", (w, h), 0)
        slot.paste(ink.resize((max(1, natural_w), h), Image.Resampling.LANCZOS), ((w - natural_w) // 2, 0))
        return slot
    if char in ALNUM:
        return ink.resize((w, h), Image.Resampling.LANCZOS)
    return _widen_strokes(ink.resize((4 * w, 4 * h), Image.Resampling.LANCZOS), weight).resize(
        (w, h), Image.Resampling.BOX
    )


def _widen_strokes(ink: Image.Image, weight: int) -> Image.Image:
    """Thicken the vertical strokes of a CJK glyph squeezed into its slot.

    Squeezing a square glyph to the slot's 1:2 thins its vertical strokes about twice as much as
    its horizontal ones, to a hairline at crop resolution; the plate font's Chinese characters are
    bold, and real crops show their strokes nearly as wide as the letters'. Horizontal dilation by
    2 – 3 % of the slot width on each side (more for bolder styles) gives them back.
    """
    reach = round(ink.width * (0.02 + 0.005 * weight))
    pixels = np.asarray(ink)
    wide = pixels.copy()
    for shift in range(1, reach + 1):
        wide[:, shift:] = np.maximum(wide[:, shift:], pixels[:, :-shift])
        wide[:, :-shift] = np.maximum(wide[:, :-shift], pixels[:, shift:])
    return Image.fromarray(wide)


def _layout(label: str, plate_type: str):
    """Plate size (mm), each character's box (x, y, w, h) and the separator dots (x, y, r), in mm."""
    if plate_type == "yellow_double":  # rear plate: province and letter above, five below
        upper = [(110, 15, 80, 60), (250, 15, 80, 60)]
        lower = [(27.5 + i * 80, 90, 65, 110) for i in range(5)]
        return (440, 220), upper + lower, [(220, 45, 5)]
    if len(label) == 8:  # new energy: 43 mm characters, a wide gap after the letter but no dot
        xs = [15.5, 70.5] + [146.5 + i * 55 for i in range(6)]
        return (480, 140), [(x, 25, 43, 90) for x in xs], []
    # 45 mm characters 12 mm apart, a 34 mm gap with a 10 mm dot after the letter
    xs = [15.5, 72.5] + [151.5 + i * 57 for i in range(5)]
    return (440, 140), [(x, 25, 45, 90) for x in xs], [(134.5, 70, 5)]


def _background(label: str, plate_type: str, size: tuple[int, int], rgb) -> Image.Image:
    w, h = size
    if plate_type != "green":
        return Image.new("RGB", size, rgb)
    if label[-1] in ENERGY:  # large new-energy plate: yellow behind the province, green after it
        t = 1 / (1 + np.exp(-(np.linspace(0, 1, w) - 0.3) * 40))
        row = np.array([235, 200, 40]) * (1 - t[:, None]) + np.array(rgb) * t[:, None]
        return Image.fromarray(np.broadcast_to(row[None], (h, w, 3)).astype(np.uint8))
    t = np.linspace(0, 1, h)[:, None] ** 0.8  # small car: near-white at the top fading to green
    col = np.array([236, 246, 236]) * (1 - t) + np.array(rgb) * t
    return Image.fromarray(np.broadcast_to(col[:, None], (h, w, 3)).astype(np.uint8))


def _draw(
    label: str, plate_type: str, scale: float, font: str, weight: int, plate_rgb, ink_rgb, red_rgb=POLICE_RED
) -> Image.Image:
    """The plate at `scale` px per mm in the given style and colours."""
    (w_mm, h_mm), slots, dots = _layout(label, plate_type)
    size = (round(w_mm * scale), round(h_mm * scale))
    plate = _background(label, plate_type, size, plate_rgb)
    draw = ImageDraw.Draw(plate)
    # The raised rim: a thin line in the character colour, inset from the plate's edge.
    inset, line = 3 * scale, max(1, round(2.5 * scale))
    draw.rounded_rectangle(
        (inset, inset, size[0] - 1 - inset, size[1] - 1 - inset), radius=8 * scale, outline=ink_rgb, width=line
    )
    for x, y, r in dots:
        draw.ellipse(((x - r) * scale, (y - r) * scale, (x + r) * scale, (y + r) * scale), fill=ink_rgb)
    for char, (x, y, w, h) in zip(label, slots):
        mask = _glyph(char, round(w * scale), round(h * scale), font, weight)
        plate.paste(red_rgb if char == POLICE else ink_rgb, (round(x * scale), round(y * scale)), mask)
    return plate


def _colours(plate_type: str, rng: np.random.Generator | None = None):
    """(plate, ink) colours: the nominal ones without rng, else a plausible physical variant."""
    if plate_type == "green":
        mid, spread = (70, 190, 105), (25, 25, 25)
    else:
        mid, spread = PLATE_RGB[plate_type], PLATE_SPREAD[plate_type]
    ink = LIGHT_INK if plate_type in LIGHT_INK_TYPES else DARK_INK
    if rng is None:
        return mid, ink
    plate = tuple(int(np.clip(m + rng.uniform(-s, s), 0, 255)) for m, s in zip(mid, spread))
    return plate, tuple(int(np.clip(c + rng.uniform(-25, 25) - (10 if c > 128 else 0), 0, 255)) for c in ink)


GREEN_WEIGHTS = [0.75, 0.25, 0.0]


def render_clean(label: str, plate_type: str) -> Image.Image:
    """The plate as issued, at 1 px per mm, without any degradation; always the same image.

    >>> render_clean("皖A12345", "blue").size, render_clean("粤B1234挂", "yellow_double").size
    ((440, 140), (440, 220))
    """
    if plate_type not in PLATE_TYPES:
        raise SynthError(f"unknown plate type {plate_type!r}: choose one of {', '.join(PLATE_TYPES)}")
    plate_rgb, ink_rgb = _colours(plate_type)
    return _draw(label, plate_type, 1.0, *CLEAN_STYLE, plate_rgb, ink_rgb)


def render_plate(label: str, plate_type: str, rng: np.random.Generator) -> Image.Image:
    """A degraded, low-resolution crop of the plate, as a detector would cut it from a photo.

    >>> crop = render_plate("皖A12345", "blue", np.random.default_rng(0))
    >>> 90 <= crop.width <= 150 and crop.width / crop.height > 2.5
    True
    """
    font = "noto" if rng.random() < 0.7 else "simhei"
    # Real new-energy plates have thin, narrow black characters; the other types bolder ones.
    weight = int(rng.choice(3, p=GREEN_WEIGHTS if plate_type == "green" else [0.3, 0.45, 0.25]))
    plate_rgb, ink_rgb = _colours(plate_type, rng)
    red = (int(rng.uniform(170, 235)), int(rng.uniform(0, 50)), int(rng.uniform(0, 50)))
    # Half a pixel per mm is still about twice what the final crop holds, and 4x cheaper than 1 px/mm.
    plate = _draw(label, plate_type, 0.5, font, weight, plate_rgb, ink_rgb, red)
    return degrade(plate, rng, double_row=plate_type == "yellow_double")


def synth_sample(seed: int, index: int, type_weights=None, province_weights=None) -> tuple[Image.Image, str, str]:
    """(image, label, plate_type) for sample `index` of seed `seed`; always the same.

    >>> a, b = synth_sample(1, 5), synth_sample(1, 5)
    >>> a[0].tobytes() == b[0].tobytes() and a[1:] == b[1:]
    True
    """
    # Its own generator per sample: DataLoader workers and any order of access give the same plates.
    rng = np.random.default_rng([seed, index])
    plate_type = _pick(rng, type_weights or DEFAULT_TYPE_WEIGHTS, PLATE_TYPES, "plate type")
    label, plate_type = random_plate(rng, plate_type, province_weights)
    return render_plate(label, plate_type, rng), label, plate_type


class SyntheticPlates(Dataset):
    """n synthetic plates rendered on the fly: item i is (PIL image, label, plate_type).

    >>> plates = SyntheticPlates(4, seed=2)
    >>> len(plates), plates[3][1] == synth_sample(2, 3)[1]
    (4, True)
    """

    def __init__(self, n: int, seed: int = 0, type_weights=None, province_weights=None):
        self.n, self.seed = n, seed
        self.type_weights, self.province_weights = type_weights, province_weights

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        if not 0 <= i < self.n:
            raise IndexError(f"synthetic plate {i} out of range 0..{self.n - 1}")
        return synth_sample(self.seed, int(i), self.type_weights, self.province_weights)


def write_synthetic(n: int, out_dir: str | Path, seed: int = 0, **kwargs) -> Path:
    """Write n plates as LABEL.jpg (LABEL_2.jpg for a repeat) plus manifest.csv; returns the manifest.

    `kwargs` are SyntheticPlates' type_weights and province_weights. A folder that already holds
    JPEGs is refused, so earlier files are never overwritten or mixed in.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_synthetic(3, Path(tmp) / "plates").name
    'manifest.csv'
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise SynthError(f"{out} is a file, not a folder")
    if out.is_dir() and any(out.glob("*.jpg")):
        raise SynthError(f"{out} already holds images; choose an empty or new folder")
    out.mkdir(parents=True, exist_ok=True)
    seen: dict[str, int] = {}
    rows = []
    plates = SyntheticPlates(n, seed, **kwargs)
    for i in range(n):
        image, label, kind = plates[i]
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
