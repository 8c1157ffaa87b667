"""Reading plate crops from disk or memory and turning them into model input.

Every path into the model (training, evaluation, the reader, ONNX) goes through `prepare_crop`,
so pre-processing exists exactly once.

>>> from PIL import Image
>>> crop = Image.new("RGB", (94, 24), (20, 60, 200))
>>> prepare_crop(crop, (32, 96)).shape
(32, 96, 3)
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import ImageError
from .deskew import deskew_prepared
from .rectify import rectify as rectify_plate

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
MIN_SIDE = 8  # smaller than this holds no readable characters
MAX_PIXELS = 50_000_000  # a larger "crop" is a mistake or a decompression bomb
# A crop narrower than this (width / height) is taken as a double-row plate: 440x220 mm rear
# plates have aspect 2.0, single-row plates 3.1 (440x140) and CCPD crops are 3-4.
DOUBLE_ROW_MAX_ASPECT = 2.5
# Between these aspects a box can hold either layout: a single-row plate turned in-plane has a
# squarer box (a 94x24 CCPD crop turned 10 degrees: 2.4) and a loosely boxed double-row plate a wider
# one. There the reader reads both layouts and keeps the better reading (`row_layouts`).
AMBIGUOUS_ASPECT = (1.9, 2.8)
# On a double-row plate the upper row (province + letter) fills roughly the top 35-40 %, but the
# gap between the rows moves with the detector's margins: it is looked for (`row_split`) between a
# quarter and half of the crop's height.
DOUBLE_ROW_SPLIT_RANGE = (0.25, 0.5)
# The upper row's crop reaches this share of the height past the split: the split (the quietest
# rows) often falls on the upper characters' last rows, and a crop that ended there cut their bottom
# (held-out synthetic double-row plates, the shipped model: 0.911 exact with no margin, 0.931 with it).
UPPER_ROW_MARGIN = 0.04


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB copy of any PIL mode: grey, palette, RGBA (alpha dropped), 16-bit and float images."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(image, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        image = Image.fromarray(((arr - lo) * scale).astype(np.uint8), "L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return image.convert("RGB")


def load_image(path: str | Path, target_size: tuple[int, int] | None = None) -> Image.Image:
    """Decode an image file as RGB; raises ImageError saying why it cannot be read.

    `target_size` (h, w) lets JPEG decoding skip detail the model will not see (draft mode).
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageError(f"{path}: empty file (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                w, h = image.size
                if w * h > MAX_PIXELS:
                    raise ImageError(f"{path}: {w}x{h} px is too large for a plate crop")
                if target_size is not None and image.format == "JPEG":
                    image.draft("RGB", (target_size[1] * 2, target_size[0] * 2))
                image.load()
                rgb = to_rgb(image)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{path}: not a readable image ({exc})") from None
    check_size(rgb, path)
    return rgb


def check_size(image: Image.Image, name: object = "image") -> None:
    if min(image.size) < MIN_SIDE:
        raise ImageError(
            f"{name}: {image.size[0]}x{image.size[1]} px is too small for a plate (at least {MIN_SIDE} px per side)"
        )


def is_double_row(image: Image.Image) -> bool:
    w, h = image.size
    return w / h < DOUBLE_ROW_MAX_ASPECT


def row_layouts(image: Image.Image) -> tuple[bool, ...]:
    """Whether to read `image` as a double-row plate: (False,) or (True,) where its aspect decides,
    (False, True) where it does not (see AMBIGUOUS_ASPECT).

    >>> row_layouts(Image.new("RGB", (94, 24))), row_layouts(Image.new("RGB", (88, 40)))
    ((False,), (False, True))
    """
    w, h = image.size
    if AMBIGUOUS_ASPECT[0] <= w / h <= AMBIGUOUS_ASPECT[1]:
        return (False, True)
    return (is_double_row(image),)


def row_split(image: Image.Image) -> int:
    """The pixel row between the upper and lower rows of a double-row plate: the middle of the
    quietest run of rows (least horizontal change in the central columns, where the upper row's
    characters are) within DOUBLE_ROW_SPLIT_RANGE of the height."""
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    h, w = grey.shape
    strokes = np.abs(np.diff(grey[:, w // 5 : w - w // 5], axis=1)).sum(1)
    low, high = (max(1, round(share * h)) for share in DOUBLE_ROW_SPLIT_RANGE)
    window = np.convolve(strokes, np.ones(3) / 3, mode="same")[low : max(low + 1, high)]
    # The run: rows within a tenth of the window's range of its quietest, around the quietest.
    quiet = window <= window.min() + 0.1 * (window.max() - window.min())
    start = end = int(np.argmin(window))
    while start > 0 and quiet[start - 1]:
        start -= 1
    while end + 1 < len(window) and quiet[end + 1]:
        end += 1
    return low + (start + end + 1) // 2


def join_rows(image: Image.Image) -> Image.Image:
    """Put the upper row of a double-row plate to the left of the lower row, as one row.

    The same CRNN then reads both layouts; the upper row's centre three fifths hold its two
    characters, and its crop reaches a little past the split (UPPER_ROW_MARGIN).
    """
    w, h = image.size
    split = row_split(image)
    upper = image.crop((w // 5, 0, w - w // 5, min(h, split + round(UPPER_ROW_MARGIN * h))))
    lower = image.crop((0, split, w, h))
    scale = lower.height / max(1, upper.height)
    upper = upper.resize((max(1, round(upper.width * scale)), lower.height), Image.Resampling.BILINEAR)
    joined = Image.new("RGB", (upper.width + lower.width, lower.height))
    joined.paste(upper, (0, 0))
    joined.paste(lower, (upper.width, 0))
    return joined


def prepare_crop(
    image: Image.Image, input_size: tuple[int, int], deskew: bool = False, double_row: bool | None = None
) -> np.ndarray:
    """H×W×3 uint8 array of the size the model takes, double-row plates joined into one row and,
    with `deskew`, the slant of a plate seen from one side taken out (see plateocr.data.deskew).
    `double_row` None: the crop's aspect says whether it is one (`is_double_row`)."""
    image = to_rgb(image)
    check_size(image)
    if is_double_row(image) if double_row is None else double_row:
        image = join_rows(image)
    h, w = input_size
    resized = np.array(image.resize((w, h), Image.Resampling.BILINEAR, reducing_gap=2.0), dtype=np.uint8)
    if deskew:  # as the reader deskews its batches (plateocr.data.deskew)
        return deskew_prepared(resized[None])[0].numpy().copy()
    return resized  # a writable copy: torch.from_numpy needs one


def prepare_layouts(image: Image.Image, input_size: tuple[int, int], rectify: bool = False) -> list[np.ndarray]:
    """`prepare_crop` in each layout the crop may hold: one, or both where its aspect is ambiguous
    (not deskewed: the reader deskews whole batches). With `rectify`, the single-row layout reads the
    plate found inside the box, turned level and cut tight (plateocr.data.rectify)."""
    image = to_rgb(image)
    return [
        prepare_crop(
            image if double or not rectify else rectify_plate(image, input_size), input_size, double_row=double
        )
        for double in row_layouts(image)
    ]
