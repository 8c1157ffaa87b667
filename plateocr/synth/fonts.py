"""The CJK fonts shipped in the `mplfonts` wheel: found on disk, never downloaded."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..errors import PlateOCRError

PLATE_FONT = "SimHei.ttf"  # heavy, square strokes: closest to plate lettering
FIGURE_FONT = "NotoSansCJKsc-Regular.otf"


def font_path(name: str) -> Path:
    """Path of a font file inside mplfonts (without importing it: that would import matplotlib)."""
    spec = importlib.util.find_spec("mplfonts")
    if spec is None or not spec.submodule_search_locations:
        raise PlateOCRError("the mplfonts package provides the CJK fonts: pip install 'plateocr[train]'")
    path = Path(list(spec.submodule_search_locations)[0]) / "fonts" / name
    if not path.is_file():
        raise PlateOCRError(f"font {name} is missing from the mplfonts package at {path.parent}")
    return path
