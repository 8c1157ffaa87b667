"""CCPD file-name conventions: raw full-scene photos (annotation in the name) and dl1 crops.

A raw CCPD name is `area-tilt-bbox-vertices-indices-brightness-blur.jpg`; the plate is encoded
as indices into three tables (province, letter, then letters/digits). `crop_plate` warps the
annotated quadrilateral to an upright plate crop.

>>> ann = parse_ccpd_name("025-95_113-154&383_386&473-386&473_177&454_154&383_363&402-0_0_22_27_27_33_16-37-15.jpg")
>>> ann.plate, ann.area, ann.vertices[0]
('皖AY339S', 0.025, (386, 473))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..geometry import homography, pil_perspective

# The tables of the CCPD README, in its order (not the alphabet's): a name's indices point into these.
CCPD_PROVINCES = list("皖沪津渝冀晋蒙辽吉黑苏浙京闽赣鲁豫鄂湘粤桂琼川贵云藏陕甘青宁新警学O")
CCPD_ALPHABETS = list("ABCDEFGHJKLMNPQRSTUVWXYZO")
CCPD_ADS = list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789O")
NO_CHARACTER = "O"  # the last entry of each table: "no character", never the letter O
# 3:1 is near a single-row plate's 440:140 mm and exactly the compact and wide models' 96x32
# input, so the later resize only scales.
CROP_SIZE = (192, 64)


@dataclass(frozen=True)
class CcpdAnnotation:
    """Everything a raw CCPD file name says about its photo (pixel coordinates are (x, y))."""

    area: float  # plate area / photo area, e.g. "025" -> 0.025
    tilt: tuple[int, ...]  # horizontal, vertical tilt in degrees
    bbox: tuple[tuple[int, ...], ...]  # top-left, bottom-right
    vertices: tuple[tuple[int, ...], ...]  # bottom-right, bottom-left, top-left, top-right
    plate: str
    brightness: int
    blur: int


def _ints(field: str, sep: str, counts: tuple[int, ...], what: str) -> tuple[int, ...]:
    values = tuple(int(v) for v in field.split(sep))  # int() raises ValueError on non-integers
    if len(values) not in counts:
        raise ValueError(f"{what} {field!r} has {len(values)} values, expected {' or '.join(map(str, counts))}")
    return values


def _points(field: str, count: int, what: str) -> tuple[tuple[int, ...], ...]:
    points = field.split("_")
    if len(points) != count:
        raise ValueError(f"{what} {field!r} has {len(points)} points, expected {count}")
    return tuple(_ints(p, "&", (2,), what) for p in points)


def parse_ccpd_name(name: str | Path) -> CcpdAnnotation:
    """The annotation encoded in a raw CCPD file name (CCPD2019: 7 indices, CCPD2020: 8).

    Accepts a bare name or a path; a malformed name raises ValueError naming the file.

    >>> ann = parse_ccpd_name("data/0136-0_1-251&467_359&511-359&511_255&505_251&467_355&473-0_0_3_24_30_32_31_29-134-30.jpg")
    >>> ann.plate, ann.tilt, ann.bbox
    ('皖AD06875', (0, 1), ((251, 467), (359, 511)))
    >>> parse_ccpd_name("plate.jpg")
    Traceback (most recent call last):
    ...
    ValueError: plate.jpg: not a CCPD file name: 1 '-'-separated fields, expected 7
    """
    file = Path(name).name
    fields: list[Any] = file.rsplit(".", 1)[0].split("-")  # each field is parsed in place
    try:
        if len(fields) != 7:
            raise ValueError(f"{len(fields)} '-'-separated fields, expected 7")
        area, tilt, bbox, vertices, indices, brightness, blur = fields
        if not area.isdigit():
            raise ValueError(f"area {area!r} is not digits")
        tilt = _ints(tilt, "_", (2,), "tilt")
        bbox, vertices = _points(bbox, 2, "bbox"), _points(vertices, 4, "vertices")
        indices = _ints(indices, "_", (7, 8), "plate indices")
        tables = [CCPD_PROVINCES, CCPD_ALPHABETS] + [CCPD_ADS] * (len(indices) - 2)
        bad = [i for i, table in zip(indices, tables) if not 0 <= i < len(table)]
        if bad:
            raise ValueError(f"plate index {bad[0]} out of range")
        plate = "".join(c for c in (table[i] for i, table in zip(indices, tables)) if c != NO_CHARACTER)
        # The area field is the decimal ratio with its "0." dropped: "025" is 2.5 % of the photo.
        return CcpdAnnotation(float("0." + area), tilt, bbox, vertices, plate, int(brightness), int(blur))
    except ValueError as exc:
        raise ValueError(f"{file}: not a CCPD file name: {exc}") from None


def is_ccpd_name(name: str | Path) -> bool:
    """True when `name` parses as a raw CCPD file name (used to detect a folder's layout).

    >>> is_ccpd_name("025-95_113-154&383_386&473-386&473_177&454_154&383_363&402-0_0_22_27_27_33_16-37-15.jpg")
    True
    >>> is_ccpd_name("0123-皖A12345.jpg")
    False
    """
    try:
        parse_ccpd_name(name)
    except ValueError:
        return False
    return True


def label_from_dl1_name(name: str | Path) -> str:
    """CCPD2019-dl1 crops: the plate is the text between the first '-' and the first '.' after it.

    >>> label_from_dl1_name("0123-皖A12345.jpg")
    '皖A12345'
    """
    file = Path(name).name
    if "-" not in file:
        raise ValueError(f"{file}: a CCPD2019-dl1 name needs '<id>-<plate>.jpg'")
    return file.split("-", 1)[1].split(".", 1)[0]


def crop_plate(image: Image.Image, vertices, size: tuple[int, int] | None = CROP_SIZE) -> Image.Image:
    """Warp the plate quadrilateral to an upright (width, height) rectangle.

    `vertices` are 4 (x, y) points in CCPD order: bottom-right, bottom-left, top-left, top-right.
    `size=None` keeps the plate's own size, from the longer of each pair of opposite edges.

    >>> photo = Image.new("RGB", (720, 1160), "navy")
    >>> crop = crop_plate(photo, [(386, 473), (177, 454), (154, 383), (363, 402)])
    >>> crop.size, crop.getpixel((96, 32))
    ((192, 64), (0, 0, 128))
    >>> crop_plate(photo, [(386, 473), (177, 454), (154, 383), (363, 402)], size=None).size
    (210, 75)
    """
    corners = np.asarray(vertices, dtype=float)
    if corners.shape != (4, 2):
        raise ValueError(f"need 4 (x, y) vertices, got an array of shape {corners.shape}")
    br, bl, tl, tr = corners
    if size is None:
        edge = lambda p, q: float(np.hypot(*(p - q)))
        size = (round(max(edge(tl, tr), edge(bl, br))), round(max(edge(tl, bl), edge(tr, br))))
    w, h = (int(v) for v in size)
    if w < 1 or h < 1:
        raise ValueError(f"crop size must be positive, got {size}")
    if image.mode not in ("L", "RGB", "RGBA", "I", "F"):  # palette or 1-bit: bicubic needs values
        image = image.convert("RGB")
    # PIL maps each output pixel back to the photo: the homography from the crop's corners to the plate's.
    out_to_in = homography([(0, 0), (w, 0), (w, h), (0, h)], [tl, tr, br, bl])
    return image.transform((w, h), Image.Transform.PERSPECTIVE, pil_perspective(out_to_in), Image.Resampling.BICUBIC)
