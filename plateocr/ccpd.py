"""CCPD file-name conventions: raw full-scene photos (annotation in the name) and dl1 crops.

A raw CCPD name is `area-tilt-bbox-vertices-indices-brightness-blur.jpg`; the plate is encoded
as indices into three tables (province, letter, then letters/digits).

>>> ann = parse_ccpd_name("025-95_113-154&383_386&473-386&473_177&454_154&383_363&402-0_0_22_27_27_33_16-37-15.jpg")
>>> ann.plate, ann.vertices[0]
('皖AY339S', (386, 473))
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

PROVINCES = ["皖", "沪", "津", "渝", "冀", "晋", "蒙", "辽", "吉", "黑", "苏", "浙", "京", "闽", "赣", "鲁",
             "豫", "鄂", "湘", "粤", "桂", "琼", "川", "贵", "云", "藏", "陕", "甘", "青", "宁", "新", "警",
             "学", "O"]
ALPHABETS = list("ABCDEFGHJKLMNPQRSTUVWXYZO")
ADS = list("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789O")
NO_CHARACTER = "O"   # a placeholder in the tables, not the letter O
PLATE_ASPECT = 440 / 140


@dataclass(frozen=True)
class CcpdAnnotation:
    area: int
    tilt: tuple[int, int]
    bbox: tuple[tuple[int, int], tuple[int, int]]
    vertices: tuple[tuple[int, int], ...]   # bottom-right, bottom-left, top-left, top-right
    plate: str
    brightness: int
    blur: int


def _points(field: str) -> tuple[tuple[int, int], ...]:
    return tuple((int(x), int(y)) for x, y in (p.split("&") for p in field.split("_")))


def parse_ccpd_name(name: str | Path) -> CcpdAnnotation:
    """The annotation encoded in a raw CCPD file name; ValueError names the file if malformed."""
    stem = Path(name).name.rsplit(".", 1)[0]
    fields = stem.split("-")
    try:
        if len(fields) != 7:
            raise ValueError(f"{len(fields)} '-'-separated fields instead of 7")
        tilt = tuple(int(v) for v in fields[1].split("_"))
        bbox = _points(fields[2])
        vertices = _points(fields[3])
        indices = [int(i) for i in fields[4].split("_")]
        if len(tilt) != 2 or len(bbox) != 2 or len(vertices) != 4 or len(indices) not in (7, 8):
            raise ValueError("tilt, bbox, vertices or plate indices have the wrong count")
        chars = [PROVINCES[indices[0]], ALPHABETS[indices[1]]] + [ADS[i] for i in indices[2:]]
        if min(indices) < 0:
            raise IndexError
    except IndexError:
        raise ValueError(f"{Path(name).name}: plate index out of range in CCPD name") from None
    except ValueError as exc:
        raise ValueError(f"{Path(name).name}: not a CCPD file name ({exc})") from None
    plate = "".join(c for c in chars if c != NO_CHARACTER)
    return CcpdAnnotation(int(fields[0]), tilt, bbox, vertices, plate, int(fields[5]), int(fields[6]))


def is_ccpd_name(name: str | Path) -> bool:
    """True when `name` parses as a raw CCPD file name."""
    try:
        parse_ccpd_name(name)
        return True
    except ValueError:
        return False


def label_from_dl1_name(name: str | Path) -> str:
    """CCPD2019-dl1 crops: the plate is the text between the first '-' and the first '.'.

    >>> label_from_dl1_name("0123-皖A12345.jpg")
    '皖A12345'
    """
    base = Path(name).name
    if "-" not in base:
        raise ValueError(f"{base}: a CCPD2019-dl1 name needs '<id>-<plate>.jpg'")
    return base.split("-", 1)[1].split(".", 1)[0]


def _perspective_coefficients(dst_to_src: list[tuple[tuple[float, float], tuple[float, float]]]) -> list[float]:
    """The 8 coefficients PIL's PERSPECTIVE transform takes, mapping output to input pixels."""
    a, b = [], []
    for (x, y), (u, v) in dst_to_src:
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b += [u, v]
    return np.linalg.solve(np.array(a, float), np.array(b, float)).tolist()


def crop_plate(image: Image.Image, vertices, size: tuple[int, int] | None = (192, 64)) -> Image.Image:
    """Warp the plate quadrilateral (CCPD vertex order) to an upright (w, h) rectangle.

    `size=None` keeps the plate's own width and height (from the vertex distances).
    """
    br, bl, tl, tr = [tuple(map(float, p)) for p in vertices]
    if size is None:
        w = max(np.hypot(tr[0] - tl[0], tr[1] - tl[1]), np.hypot(br[0] - bl[0], br[1] - bl[1]))
        h = max(np.hypot(bl[0] - tl[0], bl[1] - tl[1]), np.hypot(br[0] - tr[0], br[1] - tr[1]))
        size = (max(8, round(w)), max(8, round(h)))
    w, h = size
    coeffs = _perspective_coefficients([((0, 0), tl), ((w, 0), tr), ((w, h), br), ((0, h), bl)])
    return image.transform((w, h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC)
