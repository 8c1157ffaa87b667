"""Listing the image files under a folder, once: a 300 k-photo CCPD tree takes a while to walk.

`list_files` walks a folder (sorted, hidden files left out). `cached_listing` keeps that walk in
the user's cache folder (`$XDG_CACHE_HOME/plateocr`, else `~/.cache/plateocr`), keyed by the
folder's resolved path and the modification times of every folder inside it: adding, removing or
renaming a file changes its folder's mtime, so a stale listing is never used. Where the cache
folder cannot be written, the walk is simply redone each time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from .images import IMAGE_SUFFIXES

CACHE_VERSION = 1
# Smaller folders are walked in well under a second; caching them would only litter the cache.
MIN_FILES_TO_CACHE = 20_000


def list_files(folder: Path) -> tuple[list[Path], list[Path], dict[str, int]]:
    """Image files under `folder` (recursively, sorted), the other files beside them, and the
    mtime (ns) of every folder walked, keyed by its path relative to `folder`."""
    images: list[Path] = []
    others: list[Path] = []
    folders: dict[str, int] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        folders[Path(dirpath).relative_to(folder).as_posix()] = os.stat(dirpath).st_mtime_ns
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            p = Path(dirpath, name)
            (images if p.suffix.lower() in IMAGE_SUFFIXES else others).append(p)
    return images, others, folders


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "plateocr"


def _index_file(folder: Path) -> Path:
    key = hashlib.sha256(str(folder).encode("utf-8")).hexdigest()[:24]
    return cache_dir() / f"file-index-{key}.json"


def _still_valid(folder: Path, index: dict) -> bool:
    if index.get("version") != CACHE_VERSION or index.get("root") != str(folder):
        return False
    try:
        return all(os.stat(folder / rel).st_mtime_ns == mtime for rel, mtime in index["folders"].items())
    except OSError:  # a folder was removed
        return False


def cached_listing(folder: str | Path, min_files: int = MIN_FILES_TO_CACHE) -> tuple[list[Path], list[Path]]:
    """`list_files(folder)`'s images and other files, from the user's cache when still valid;
    a fresh walk is kept there when it found at least `min_files` files.

    Paths are `folder` (as given) joined with each file's path inside it, as a fresh walk gives.
    """
    folder = Path(folder)
    root = folder.resolve()
    index_file = _index_file(root)
    try:
        index = json.loads(index_file.read_text(encoding="utf-8"))
        if _still_valid(root, index):
            return [folder / p for p in index["images"]], [folder / p for p in index["others"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    images, others, folders = list_files(folder)
    if len(images) + len(others) < min_files:
        return images, others
    relative = lambda paths: [p.relative_to(folder).as_posix() for p in paths]
    index = {
        "version": CACHE_VERSION,
        "root": str(root),
        "folders": folders,
        "images": relative(images),
        "others": relative(others),
    }
    tmp = index_file.with_suffix(f".{os.getpid()}.tmp")
    try:  # written atomically, so a reader in another process never sees half a file
        index_file.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(index, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, index_file)
    except OSError:  # a read-only home or cache: the listing is still right, only not kept
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return images, others
