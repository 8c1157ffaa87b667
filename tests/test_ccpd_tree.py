"""The full CCPD trees: official splits and subset files, ccpd_np left out, CCPD2020's split folders.

The trees are built from the 16 photos of ../shared/data/ccpd_raw_sample (tests/conftest.py).
"""

import shutil
from pathlib import Path

import pytest

from plateocr.data.ccpd_tree import split_names, subset_of
from plateocr.data.datasets import detect_layout, list_records
from plateocr.errors import PlateOCRError
from tests.conftest import CCPD2019_FOLDERS, CCPD2019_SPLITS, MISSING, build_ccpd_trees, ccpd_photos


def relative(records, root: Path) -> set[str]:
    return {Path(r.path).relative_to(root).as_posix() for r in records}


def expected(folders) -> set[str]:
    photos = ccpd_photos()
    return {f"{folder}/{photos[i].name}" for folder in folders for i in CCPD2019_FOLDERS[folder]}


def test_both_trees_are_raw_ccpd_layouts(ccpd_trees):
    root, green = ccpd_trees
    assert detect_layout(root) == detect_layout(green) == detect_layout(green / "ccpd_green") == "ccpd"
    assert split_names(root) == ["ccpd_blur", "ccpd_challenge", "ccpd_db", "ccpd_fn", "ccpd_np", "test", "train", "val"]
    assert split_names(green) == ["test", "train", "val"]


@pytest.mark.parametrize("split", ["train", "val"])
def test_train_and_val_read_exactly_their_files(ccpd_trees, split):
    root, _ = ccpd_trees
    folder, indices = CCPD2019_SPLITS[split]
    records, skipped = list_records(root, split=split)
    assert relative(records, root) == {f"{folder}/{ccpd_photos()[i].name}" for i in indices}
    assert len(skipped) == 0
    assert all(len(r.label) == 7 and r.plate_type == "blue" and r.vertices for r in records)


def test_test_split_and_subset_files_name_their_missing_photos(ccpd_trees):
    root, _ = ccpd_trees
    records, skipped = list_records(root, split="test")
    assert relative(records, root) == expected(("ccpd_db", "ccpd_blur", "ccpd_fn", "ccpd_challenge"))
    assert skipped.items == [(str(root / MISSING), "listed in split/test.txt but missing")]
    blur, skipped = list_records(root, split="ccpd_blur")
    assert relative(blur, root) == expected(("ccpd_blur",))
    assert len(skipped) == 1 and MISSING in skipped.summary()


def test_ccpd_np_is_never_read_as_a_plate(ccpd_trees):
    root, _ = ccpd_trees
    whole, skipped = list_records(root)  # no split: the whole tree, as a raw folder always was
    assert relative(whole, root) == expected(set(CCPD2019_FOLDERS) - {"ccpd_np"})
    assert sorted(Path(p).parent.name for p, reason in skipped.items) == ["ccpd_np", "ccpd_np"]
    assert all("without a plate" in reason for _, reason in skipped.items)  # split/*.txt, README: no skips
    with pytest.raises(PlateOCRError, match="(?s)no usable labelled plates.*ccpd_np holds photos without a plate"):
        list_records(root, split="ccpd_np")


def test_ccpd2020_folders_are_its_splits_and_8_character_names_decode(ccpd_trees):
    _, green = ccpd_trees
    sizes = {}
    for split in ("train", "val", "test"):
        records, skipped = list_records(green, split=split)
        assert {Path(r.path).parent for r in records} == {green / "ccpd_green" / split} and len(skipped) == 0
        assert all(r.label.startswith("皖AD0123") and len(r.label) == 8 and r.plate_type == "green" for r in records)
        sizes[split] = len(records)
    assert sizes == {"train": 3, "val": 1, "test": 2}
    assert len(list_records(green / "ccpd_green", split="test")[0]) == 2  # its own root works too


def test_splits_folder_and_a_merged_tree(tmp_path):
    root, green = build_ccpd_trees(tmp_path)
    (root / "split").rename(root / "splits")  # the name some copies use
    assert len(list_records(root, split="val")[0]) == 3
    shutil.move(green / "ccpd_green", root / "ccpd_green")  # CCPD2020 unpacked into CCPD2019
    test, _ = list_records(root, split="test")
    assert {subset_of(Path(r.path).relative_to(root).as_posix()) for r in test} == {
        "ccpd_db",
        "ccpd_blur",
        "ccpd_fn",
        "ccpd_challenge",
        "ccpd_green",
    }
    assert len(test) == 6 + 2


def test_unknown_splits_are_one_line_errors(ccpd_trees, tmp_path):
    root, _ = ccpd_trees
    with pytest.raises(PlateOCRError, match="no split 'ccpd_weather': choose one of ccpd_blur, .*val$"):
        list_records(root, split="ccpd_weather")
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(ccpd_photos()[0], flat)
    with pytest.raises(PlateOCRError, match="has no splits"):
        list_records(flat, split="test")
    assert len(list_records(flat)[0]) == 1
