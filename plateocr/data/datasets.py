"""Plate data sets: one entry point that finds the layout of a path and lists its labelled crops.

Layouts:
  dl1       CCPD2019-dl1 (Kaggle): ROOT/train/*.jpg, ROOT/test/*.jpg, `<id>-<plate>.jpg`
  labelled  a folder of crops named `LABEL.jpg` (`LABEL_2.jpg` for a repeated plate)
  csv       a manifest with `path,label[,plate_type]` columns, paths relative to the CSV
  ccpd      raw CCPD full-scene photos whose names encode the plate; crops are warped on load.
            A full CCPD2019/CCPD2020 tree also has official splits (plateocr.data.ccpd_tree), read
            with `split=` (train, val, test, or a subset file such as ccpd_blur)
  synthetic plates rendered on the fly (the built-in default data)
`sample` names the real crops bundled with the package.

>>> records, skipped = list_records("../shared/data/plates_dev")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..alphabet import PLATE_TYPES, Tokenizer, infer_plate_type, label_problem
from ..errors import ImageError, PlateOCRError
from .ccpd import crop_plate, is_ccpd_name, label_from_dl1_name, parse_ccpd_name
from .ccpd_tree import NO_PLATE, is_ccpd_tree, split_folder, split_members
from .file_index import cached_listing, list_files
from .images import IMAGE_SUFFIXES, load_image, prepare_crop

SYNTHETIC = "synthetic"  # a data path meaning "render plates on the fly"
LAYOUTS = ("dl1", "labelled", "csv", "ccpd", SYNTHETIC)
MANIFEST = "manifest.csv"
SAMPLE = "sample"
# Licence and description files that sit beside data sets: not data, not worth a warning.
COMPANION_FILES = (MANIFEST, "LICENSE", "NOTICE.md", "SOURCE.md", "README.md")


def resolve_data_path(path: str | Path) -> str | Path:
    """The bundled real sample for "sample"; any other path or "synthetic" as given."""
    if str(path) == SAMPLE:
        from .. import SAMPLE_DIR

        return SAMPLE_DIR
    return path


@dataclass(frozen=True)
class PlateRecord:
    path: str
    label: str
    plate_type: str | None = None
    vertices: tuple | None = None  # raw CCPD photo: the plate's four corners, cropped on load


@dataclass
class Skipped:
    """Files left out of a data set and why, so that nothing is dropped silently."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, path, reason: str):
        self.items.append((str(path), reason))

    def __len__(self):
        return len(self.items)

    def summary(self, limit: int = 5) -> str:
        if not self.items:
            return "no files skipped"
        lines = [f"skipped {len(self.items)} file(s):"]
        lines += [f"  {p}: {r}" for p, r in self.items[:limit]]
        if len(self.items) > limit:
            lines.append(f"  … and {len(self.items) - limit} more")
        return "\n".join(lines)


def _image_files(folder: Path) -> tuple[list[Path], list[Path]]:
    """Image files under `folder` (recursively, sorted) and the other files found beside them."""
    images, others, _ = list_files(folder)
    return images, others


def _first_image_names(folder: Path, n: int) -> list[str]:
    """Names of the first `n` image files of a sorted walk, without walking all of a large tree."""
    names = []
    for _dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        names += [f for f in sorted(filenames) if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_SUFFIXES]
        if len(names) >= n:
            break
    return names[:n]


def detect_layout(path: str | Path) -> str:
    """Name of the layout at `path` (see the module docstring)."""
    if str(path) == SYNTHETIC:
        return SYNTHETIC
    path = Path(resolve_data_path(path))
    if not path.exists():
        raise PlateOCRError(f"data path {path} does not exist (give a folder, a CSV manifest or '{SYNTHETIC}')")
    if path.is_file():
        if path.suffix.lower() == ".csv":
            return "csv"
        raise PlateOCRError(f"data path {path} is a file but not a .csv manifest")
    if is_ccpd_tree(path):  # checked first: a CCPD2020 folder has train/ and test/ as dl1 does
        return "ccpd"
    if (path / "train").is_dir() and (path / "test").is_dir():
        return "dl1"
    if (path / MANIFEST).is_file():
        return "csv"
    with os.scandir(path) as it:
        names = sorted(e.name for e in it if Path(e.name).suffix.lower() in IMAGE_SUFFIXES)[:50]
    if not names:
        names = _first_image_names(path, 50)
    if not names:
        raise PlateOCRError(f"no images found in {path}")
    if all(is_ccpd_name(n) for n in names):
        return "ccpd"
    if all("-" in n and label_problem(Path(n).stem.split("-", 1)[1].split(".")[0]) is None for n in names):
        return "dl1"
    return "labelled"


def _label_from_name(name: str) -> str:
    return Path(name).name.split(".")[0].split("_")[0]


def list_records(
    path: str | Path,
    layout: str | None = None,
    split: str | None = None,
    alphabet: str | None = None,
    held_out: bool = False,
) -> tuple[list[PlateRecord], Skipped]:
    """Labelled crops at `path`, sorted by path, and the files skipped with their reasons.

    `split` names a part of a data set that has parts: ROOT/train or ROOT/test of a dl1 folder
    (when none is named: ROOT/train, or ROOT/test with `held_out`), or an official split or subset
    file of a CCPD tree (plateocr.data.ccpd_tree; when none is named, the whole tree). Photos in ccpd_np
    (no plate) are skipped, never read as plates; so are photos a split file lists but that are missing.
    """
    path = resolve_data_path(path)
    layout = layout or detect_layout(path)
    if layout not in LAYOUTS:
        raise PlateOCRError(f"unknown data layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    if layout == SYNTHETIC:
        raise PlateOCRError("synthetic data has no files to list; use SyntheticPlateDataset")
    path = Path(path)
    tokenizer_alphabet = alphabet or Tokenizer().alphabet
    skipped = Skipped()
    records: list[PlateRecord] = []

    def add(file: Path, label: str, plate_type: str | None = None, vertices=None):
        reason = _unusable(label, plate_type, tokenizer_alphabet)
        if reason:
            skipped.add(file, reason)
        else:
            records.append(PlateRecord(str(file), label, plate_type or infer_plate_type(label), vertices))

    def add_file(file: Path):
        try:
            add(file, *_annotation(file, layout))
        except ValueError as exc:
            skipped.add(file, str(exc))

    has_parts = _has_parts(path, layout, split)
    if layout == "csv":
        manifest = path / MANIFEST if path.is_dir() else path
        _read_manifest(manifest, add, skipped)
    elif layout == "ccpd" and split is not None:
        _add_ccpd_split(path, split, add_file, skipped)
    else:
        folder = path
        if layout == "dl1" and has_parts:
            folder = path / (split or ("test" if held_out else "train"))
            if not folder.is_dir():
                raise PlateOCRError(f"{path} has no {split!r} folder: choose train or test")
        _add_folder(folder, split_folder(path) if layout == "ccpd" else None, add_file, skipped)
    if not records:
        where = f"{layout} layout" + (f", split {split}" if split else "")
        raise PlateOCRError(
            f"no usable labelled plates in {path} ({where})" + (f"; {skipped.summary()}" if len(skipped) else "")
        )
    records.sort(key=lambda r: r.path)
    return records, skipped


def _has_parts(path: Path, layout: str, split: str | None) -> bool:
    """Whether the data set has splits (a dl1 folder's train/test, a CCPD tree's split files);
    naming a split of one that has none is a one-line error."""
    has_parts = (layout == "dl1" and (path / "train").is_dir()) or (layout == "ccpd" and is_ccpd_tree(path))
    if split is not None and not has_parts:
        raise PlateOCRError(
            f"{path} ({layout} layout) has no splits: drop --split, or give the root of "
            f"a CCPD tree or of a dl1 folder (ROOT/train, ROOT/test)"
        )
    return has_parts


def _unusable(label: str, plate_type: str | None, alphabet: str) -> str | None:
    """Why a labelled file cannot be trained on or scored, or None when it can."""
    problem = label_problem(label, alphabet)
    if problem:
        return f"label {label!r}: {problem}"
    if plate_type is not None and plate_type not in PLATE_TYPES:
        return f"unknown plate_type {plate_type!r} (known: {', '.join(PLATE_TYPES)})"
    return None


def _annotation(file: Path, layout: str) -> tuple[str, str | None, tuple | None]:
    """(label, plate type or None, vertices or None) that a file's name gives; ValueError when none."""
    if layout == "dl1":
        return label_from_dl1_name(file.name), None, None
    if layout == "ccpd":
        if NO_PLATE in file.parts:
            raise ValueError(f"{NO_PLATE} holds photos without a plate")
        ann = parse_ccpd_name(file.name)
        return ann.plate, "green" if len(ann.plate) == 8 else "blue", tuple(ann.vertices)
    return _label_from_name(file.name), None, None


def _add_ccpd_split(root: Path, split: str, add_file, skipped: Skipped) -> None:
    """The photos an official CCPD split or subset file lists; a listed photo that is missing is a named skip."""
    images, _ = cached_listing(root)
    present = {image.relative_to(root).as_posix() for image in images}
    for relative, listed_in in split_members(root, split, images):
        if relative not in present and NO_PLATE not in relative.split("/"):
            skipped.add(root / relative, f"listed in {listed_in} but missing")
        else:
            add_file(root / relative)


def _add_folder(folder: Path, split_files: Path | None, add_file, skipped: Skipped) -> None:
    """Every image under `folder`; other files are named skips, except companions and a CCPD tree's
    split files (its index, not stray files)."""
    images, others = cached_listing(folder)
    for other in others:
        if other.name not in COMPANION_FILES and not (split_files and other.parent == split_files):
            skipped.add(other, "not an image file (by its suffix)")
    for file in images:
        add_file(file)


def _read_manifest(manifest: Path, add, skipped: Skipped) -> None:
    try:
        with open(manifest, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            missing = [c for c in ("path", "label") if c not in columns]
            if missing:
                raise PlateOCRError(
                    f"{manifest}: missing column(s) {', '.join(missing)}; a manifest "
                    f"needs a header 'path,label' (plate_type optional), found {columns}"
                )
            for row in reader:
                file = manifest.parent / (row["path"] or "")
                if not row["path"] or not file.is_file():
                    skipped.add(file, "listed in the manifest but missing")
                    continue
                add(file, (row["label"] or "").strip(), (row.get("plate_type") or "").strip() or None)
    except UnicodeDecodeError:
        raise PlateOCRError(f"{manifest}: not a UTF-8 CSV file") from None


def split_records(
    records: list[PlateRecord], val_fraction: float = 0.1, seed: int = 0
) -> tuple[list[PlateRecord], list[PlateRecord]]:
    """A deterministic train/validation split of records (sorted first, then a seeded shuffle)."""
    ordered = sorted(records, key=lambda r: r.path)
    random.Random(seed).shuffle(ordered)
    n_val = max(1, round(len(ordered) * val_fraction)) if len(ordered) > 1 else 0
    return ordered[n_val:], ordered[:n_val]


def write_manifest(records: list[PlateRecord], path: Path) -> Path:
    """A CSV manifest (path,label) of `records`, with absolute paths: it may live anywhere."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "label"])
        writer.writerows((Path(r.path).resolve(), r.label) for r in records)
    return path


def cv_folds(records: list[PlateRecord], folds: int, seed: int = 0) -> list[list[PlateRecord]]:
    """Records dealt into `folds` cross-validation folds after a seeded shuffle of their given order;
    every bench that reads the held-out folds of one run deals them the same way."""
    order = list(records)
    random.Random(seed).shuffle(order)
    return [order[k::folds] for k in range(folds)]


@dataclass(frozen=True)
class BadSample:
    """Stands in for a sample whose file could not be read; the collate function counts it."""

    path: str
    reason: str


class CropDataset(Dataset):
    """Labelled crops decoded lazily (in DataLoader workers), or all at once with `cache=True`.

    Items are (uint8 image 3×H×W, label, plate-type id) or a BadSample.
    """

    def __init__(
        self, records: list[PlateRecord], input_size: tuple[int, int], cache: bool = False, deskew: bool = False
    ):
        self.records, self.input_size, self.deskew = list(records), (input_size[0], input_size[1]), deskew
        self._cache = [self._decode(i) for i in range(len(self.records))] if cache else None

    def __len__(self):
        return len(self.records)

    def _decode(self, i: int):
        rec = self.records[i]
        try:
            image = load_image(rec.path, None if rec.vertices else self.input_size)
            if rec.vertices:
                image = crop_plate(image, rec.vertices)
            return torch.from_numpy(prepare_crop(image, self.input_size, self.deskew)).permute(2, 0, 1).contiguous()
        except ImageError as exc:
            return BadSample(rec.path, str(exc).split(": ", 1)[-1])

    def __getitem__(self, i: int):
        image = self._cache[i] if self._cache is not None else self._decode(i)
        if isinstance(image, BadSample):
            return image
        rec = self.records[i]
        return image, rec.label, PLATE_TYPES.index(rec.plate_type)


def _stack_rendered(items):
    """One stacked tensor per batch: workers hand tensors over by file descriptor, one each.

    A module-level function, so worker processes started by spawn (macOS, Windows, a process
    pool) can unpickle it.
    """
    return torch.stack([i[0] for i in items]), [i[1] for i in items], [i[2] for i in items]


class SyntheticPlateDataset(Dataset):
    """Rendered plates prepared like real crops.

    Without `cache`, each epoch renders fresh plates (`set_epoch` moves the seed). With `cache`,
    a fixed pool is rendered once, in `workers` processes, and augmented afresh every epoch by the
    training loop: rendering costs more than a training step on a CPU.
    """

    def __init__(
        self,
        n: int,
        input_size: tuple[int, int],
        seed: int = 0,
        cache: bool = False,
        workers: int = 0,
        deskew: bool = False,
        **synth_kwargs,
    ):
        from ..synth.render import SyntheticPlates

        self.n, self.input_size, self.seed, self.deskew = n, (input_size[0], input_size[1]), seed, deskew
        self.synth_kwargs = synth_kwargs
        self._plates = SyntheticPlates(n, seed, **synth_kwargs)
        self._pool = None
        if cache:
            self._pool = self._render_pool(workers)

    def _render_pool(self, workers: int):
        from torch.utils.data import DataLoader

        batches = list(DataLoader(self, batch_size=256, num_workers=workers, collate_fn=_stack_rendered))
        return (
            torch.cat([b[0] for b in batches]),
            [l for b in batches for l in b[1]],
            [t for b in batches for t in b[2]],
        )

    def set_epoch(self, epoch: int):
        from ..synth.render import SyntheticPlates

        if self._pool is None:  # distinct, reproducible plates per epoch
            self._plates = SyntheticPlates(self.n, self.seed + 1_000_003 * epoch, **self.synth_kwargs)

    def __len__(self):
        return self.n

    def __getitem__(self, i: int):
        if self._pool is not None:
            crop, label, type_id = self._pool[0][i], self._pool[1][i], self._pool[2][i]
        else:
            image, label, plate_type = self._plates[i]
            crop = torch.from_numpy(prepare_crop(image, self.input_size, self.deskew)).permute(2, 0, 1).contiguous()
            type_id = PLATE_TYPES.index(plate_type)
        return crop, label, type_id


@dataclass
class Batch:
    images: torch.Tensor  # B, 3, H, W uint8
    labels: list[str]
    targets: torch.Tensor  # concatenated token ids
    target_lengths: torch.Tensor
    plate_types: torch.Tensor  # B
    bad: list[BadSample]


def make_collate(tokenizer: Tokenizer):
    def collate(items) -> Batch:
        good = [it for it in items if not isinstance(it, BadSample)]
        bad = [it for it in items if isinstance(it, BadSample)]
        ids = [tokenizer.encode(label) for _, label, _ in good]
        return Batch(
            images=torch.stack([img for img, _, _ in good]) if good else torch.empty(0, dtype=torch.uint8),
            labels=[label for _, label, _ in good],
            targets=torch.tensor([i for seq in ids for i in seq], dtype=torch.long),
            target_lengths=torch.tensor([len(seq) for seq in ids], dtype=torch.long),
            plate_types=torch.tensor([t for _, _, t in good], dtype=torch.long),
            bad=bad,
        )

    return collate


def seed_worker(worker_id: int) -> None:
    """Seed numpy and random in a DataLoader worker from torch's per-worker seed (reproducible)."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
