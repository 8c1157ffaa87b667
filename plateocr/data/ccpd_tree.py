"""The folders of the full CCPD data sets and their official splits.

CCPD2019: ROOT/ccpd_base, ccpd_blur, ccpd_challenge, ccpd_db, ccpd_fn, ccpd_np, ccpd_rotate,
ccpd_tilt, ccpd_weather, and ROOT/split (`splits/` in some copies) holding train.txt, val.txt,
test.txt and one file per subset (ccpd_blur.txt, …): one photo path per line, relative to ROOT.
CCPD2020: ROOT/ccpd_green/{train,val,test}, whose folders are its three splits.

CCPD's protocol trains and validates on Base (train.txt, val.txt) and tests on DB, Blur, FN,
Rotate, Tilt and Challenge (test.txt holds them all), per subset and overall. ccpd_np holds photos
without a plate: they are never read as labelled plates.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import PlateOCRError
from .ccpd import is_ccpd_name
from .images import IMAGE_SUFFIXES

SPLITS = ("train", "val", "test")
NO_PLATE = "ccpd_np"
GREEN = "ccpd_green"
SPLIT_FOLDERS = ("split", "splits")
# CCPD's per-subset table, in its order (its ECCV paper also had Base and Weather), then CCPD2020.
SUBSET_ORDER = (
    "ccpd_base",
    "ccpd_db",
    "ccpd_blur",
    "ccpd_fn",
    "ccpd_rotate",
    "ccpd_tilt",
    "ccpd_weather",
    "ccpd_challenge",
    GREEN,
)


def split_folder(root: Path) -> Path | None:
    """ROOT/split or ROOT/splits when it holds split files."""
    for name in SPLIT_FOLDERS:
        folder = Path(root) / name
        if folder.is_dir() and any(folder.glob("*.txt")):
            return folder
    return None


def _first_image(folder: Path) -> str | None:
    with os.scandir(folder) as entries:
        for entry in entries:
            if Path(entry.name).suffix.lower() in IMAGE_SUFFIXES:
                return entry.name
    return None


def green_folder(root: Path) -> Path | None:
    """The CCPD2020 folder whose train/val/test sub-folders are its splits: ROOT/ccpd_green, or ROOT
    itself when its split folders hold raw CCPD photos (a CCPD2019-dl1 root has crops there)."""
    for folder in (Path(root) / GREEN, Path(root)):
        for split in SPLITS:
            if (folder / split).is_dir():
                first = _first_image(folder / split)
                if first is not None and is_ccpd_name(first):
                    return folder
    return None


def is_ccpd_tree(root: Path) -> bool:
    """True for a CCPD2019 root (split files) or a CCPD2020 one (ccpd_green/{train,val,test})."""
    return Path(root).is_dir() and (split_folder(root) is not None or green_folder(root) is not None)


def split_names(root: Path) -> list[str]:
    """The splits and subset files of `root` that `split_members` can read."""
    names = set()
    folder = split_folder(root)
    if folder is not None:
        names |= {p.stem for p in folder.glob("*.txt")}
    green = green_folder(root)
    if green is not None:
        names |= {s for s in SPLITS if (green / s).is_dir()}
    return sorted(names)


def subset_of(relative: str) -> str:
    """The subset a photo belongs to: its top folder (ccpd_green for CCPD2020's photos).

    >>> subset_of("ccpd_blur/0359-5_21.jpg"), subset_of("ccpd_green/test/01.jpg"), subset_of("x.jpg")
    ('ccpd_blur', 'ccpd_green', '')
    """
    parts = relative.split("/")
    return parts[0] if len(parts) > 1 else ""


def split_members(root: Path, split: str, images: list[Path]) -> list[tuple[str, str]]:
    """(path relative to `root`, where it is listed) for each photo of `split`, in the split file's
    order and then the CCPD2020 folder's, each path once.

    `images` are the image files under `root` (a listing of it), for CCPD2020's split folders.
    """
    root = Path(root)
    members: dict[str, str] = {}
    found = False
    folder = split_folder(root)
    if folder is not None and (folder / f"{split}.txt").is_file():
        found = True
        listed = f"{folder.name}/{split}.txt"
        for line in (folder / f"{split}.txt").read_text(encoding="utf-8").splitlines():
            # Copies made on Windows or with `find .` write back-slashes or a leading './'.
            rel = line.strip().replace("\\", "/").removeprefix("./")
            if rel:
                members.setdefault(rel, listed)
    green = green_folder(root)
    if green is not None and split in SPLITS and (green / split).is_dir():
        found = True
        prefix = (green / split).relative_to(root).as_posix() + "/"
        for image in images:
            rel = image.relative_to(root).as_posix()
            if rel.startswith(prefix):
                members.setdefault(rel, prefix.rstrip("/"))
    if not found:
        known = split_names(root)
        raise PlateOCRError(f"{root} has no split {split!r}: choose one of {', '.join(known) or '(none found)'}")
    return list(members.items())
