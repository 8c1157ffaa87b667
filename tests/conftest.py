import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PLATES_DEV = SHARED / "data" / "plates_dev"
CCPD_RAW = SHARED / "data" / "ccpd_raw_sample"

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def plates_dev() -> Path:
    if not PLATES_DEV.is_dir():
        pytest.skip(f"{PLATES_DEV} is not present (../shared beside the repo)")
    return PLATES_DEV


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A compact model trained for 2 short epochs on the bundled real sample (a real, quick run)."""
    from plateocr import SAMPLE_DIR
    from plateocr.training.config import TrainConfig
    from plateocr.training.loop import train

    out = tmp_path_factory.mktemp("tiny_run")
    cfg = TrainConfig(data=str(SAMPLE_DIR), out=str(out), arch="compact", epochs=2, batch_size=16, seed=1)
    result = train(cfg, progress=False)
    return out, result


def ccpd_photos() -> list[Path]:
    """The 16 raw CCPD2019 photos of the shared sample, sorted by name."""
    if not CCPD_RAW.is_dir():
        pytest.skip(f"{CCPD_RAW} is not present (../shared beside the repo)")
    return sorted(CCPD_RAW.glob("*&*.jpg"))


# Where each sample photo goes in the CCPD2019-like tree (indices into ccpd_photos()).
CCPD2019_FOLDERS = {
    "ccpd_base": range(0, 8),
    "ccpd_blur": (8, 9),
    "ccpd_db": (10, 11),
    "ccpd_fn": (12,),
    "ccpd_challenge": (13,),
    "ccpd_np": (14, 15),
}
CCPD2019_SPLITS = {"train": ("ccpd_base", range(0, 5)), "val": ("ccpd_base", range(5, 8))}
# Listed in split files but absent from the tree: a missing photo is a counted, named skip.
MISSING = "ccpd_blur/0999-90_90-1&1_9&9-9&9_1&9_1&1_9&1-0_0_1_2_3_4_5-99-9.jpg"
GREEN_INDICES = "0_0_3_24_25_26_27_{}"  # 皖AD0123 + one digit: a small new-energy plate


def green_name(photo: Path, k: int) -> str:
    """The photo's name with its 7 plate indices replaced by 8 (CCPD2020's new-energy plates)."""
    fields = photo.name.split("-")
    fields[4] = GREEN_INDICES.format(24 + k)
    return "-".join(fields)


def build_ccpd_trees(base: Path) -> tuple[Path, Path]:
    """A CCPD2019 tree (subset folders, ccpd_np, split/ files, a README) and a CCPD2020 one
    (ccpd_green/{train,val,test}, 8-character names) made from the sample's 16 photos."""
    import shutil

    photos = ccpd_photos()
    root, green = base / "CCPD2019", base / "CCPD2020"
    listed: dict[str, list[str]] = {}
    for folder, indices in CCPD2019_FOLDERS.items():
        (root / folder).mkdir(parents=True)
        for i in indices:
            shutil.copy(photos[i], root / folder / photos[i].name)
            listed.setdefault(folder, []).append(f"{folder}/{photos[i].name}")
    (root / "split").mkdir()
    for split, (folder, indices) in CCPD2019_SPLITS.items():
        (root / "split" / f"{split}.txt").write_text("".join(f"{folder}/{photos[i].name}\n" for i in indices))
    listed["ccpd_blur"].append(MISSING)
    for folder, paths in listed.items():
        if folder != "ccpd_base":
            (root / "split" / f"{folder}.txt").write_text("\n".join(paths) + "\n")
    test = [p for f in ("ccpd_db", "ccpd_blur", "ccpd_fn", "ccpd_challenge") for p in listed[f]]
    (root / "split" / "test.txt").write_text("\n".join(test) + "\n")
    (root / "README.md").write_text("CCPD2019 fixture built from ../shared/data/ccpd_raw_sample\n")
    for split, indices in (("train", (0, 1, 2)), ("val", (3,)), ("test", (4, 5))):
        (green / "ccpd_green" / split).mkdir(parents=True)
        for i in indices:
            shutil.copy(photos[i], green / "ccpd_green" / split / green_name(photos[i], i))
    return root, green


@pytest.fixture(scope="session")
def ccpd_trees(tmp_path_factory) -> tuple[Path, Path]:
    """CCPD2019 and CCPD2020 fixture trees (read-only: tests that change them build their own)."""
    return build_ccpd_trees(tmp_path_factory.mktemp("ccpd"))


def pytest_collection_modifyitems(items):
    """A test that needs the training run of `tiny_run` is slow wherever it lives."""
    for item in items:
        if "tiny_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
