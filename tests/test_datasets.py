"""Every data layout loads the right labels; bad files and labels are reported, never trained on."""

import csv
import multiprocessing
import shutil
from concurrent.futures import ProcessPoolExecutor

import pytest
import torch

from plateocr import SAMPLE_DIR
from plateocr.alphabet import Tokenizer, is_valid_plate
from plateocr.data.datasets import (
    BadSample,
    CropDataset,
    SyntheticPlateDataset,
    detect_layout,
    list_records,
    make_collate,
    split_records,
)
from plateocr.errors import PlateOCRError
from tests.conftest import CCPD_RAW

SAMPLE = sorted(SAMPLE_DIR.glob("*.jpg"))


def _render_cached_pool(n: int) -> int:
    return len(SyntheticPlateDataset(n, (32, 96), seed=0, cache=True, workers=1))


@pytest.mark.slow
def test_a_cached_synthetic_set_renders_inside_a_spawned_process():
    """bench/accuracy.py --jobs fine-tunes in spawned processes, whose render workers must start too."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert list(pool.map(_render_cached_pool, [8])) == [8]


def test_label_named_folder():
    records, skipped = list_records(SAMPLE_DIR)
    assert detect_layout(SAMPLE_DIR) == "labelled"
    assert [r.label for r in records] == [p.stem for p in SAMPLE]
    assert all(r.plate_type == "blue" for r in records)
    assert len(skipped) == 0  # LICENSE and NOTICE.md are known companions, not data


def test_sample_alias():
    assert [r.label for r in list_records("sample")[0]] == [p.stem for p in SAMPLE]


def test_plates_dev_loads_all_603(plates_dev):
    records, skipped = list_records(plates_dev)
    assert len(records) == 603 and len(skipped) == 0
    assert all(is_valid_plate(r.label) for r in records)


def test_dl1_layout(tmp_path):
    for split, files in (("train", SAMPLE[:6]), ("test", SAMPLE[6:9])):
        (tmp_path / split).mkdir()
        for i, p in enumerate(files):
            shutil.copy(p, tmp_path / split / f"{1000 + i}-{p.stem}.jpg")
    assert detect_layout(tmp_path) == "dl1"
    train, _ = list_records(tmp_path)
    test, _ = list_records(tmp_path, split="test")
    assert sorted(r.label for r in train) == sorted(p.stem for p in SAMPLE[:6])
    assert sorted(r.label for r in test) == sorted(p.stem for p in SAMPLE[6:9])


def test_csv_manifest(tmp_path):
    (tmp_path / "img").mkdir()
    rows = []
    for i, p in enumerate(SAMPLE[:5]):
        shutil.copy(p, tmp_path / "img" / f"{i}.jpg")
        rows.append({"path": f"img/{i}.jpg", "label": p.stem})
    with open(tmp_path / "labels.csv", "w", newline="") as f:
        w = csv.DictWriter(f, ["path", "label"])
        w.writeheader()
        w.writerows(rows)
    records, _ = list_records(tmp_path / "labels.csv")
    assert [r.label for r in records] == [p.stem for p in SAMPLE[:5]]


def test_csv_with_missing_columns_or_files(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("file,text\na.jpg,皖A12345\n")
    with pytest.raises(PlateOCRError, match="missing column"):
        list_records(bad)
    shutil.copy(SAMPLE[0], tmp_path / "ok.jpg")
    partial = tmp_path / "partial.csv"
    partial.write_text(f"path,label\nok.jpg,{SAMPLE[0].stem}\ngone.jpg,皖A12345\n", encoding="utf-8")
    records, skipped = list_records(partial)
    assert len(records) == 1 and skipped.items[0][1] == "listed in the manifest but missing"


@pytest.mark.skipif(not CCPD_RAW.is_dir(), reason="../shared/data/ccpd_raw_sample not present")
def test_raw_ccpd_layout_warps_the_plates(tmp_path):
    for p in CCPD_RAW.glob("*&*.jpg"):
        shutil.copy(p, tmp_path / p.name)
    assert detect_layout(tmp_path) == "ccpd"
    records, skipped = list_records(tmp_path)
    assert len(records) == 16 and len(skipped) == 0
    assert all(r.label.startswith("皖A") and len(r.label) == 7 and r.vertices for r in records)
    images = CropDataset(records, (32, 96))
    img, label, _ = images[0]
    assert img.shape == (3, 32, 96) and img.float().std() > 10


def test_bad_labels_and_files_are_reported(tmp_path):
    shutil.copy(SAMPLE[0], tmp_path / SAMPLE[0].name)
    shutil.copy(SAMPLE[1], tmp_path / "皖a12345.jpg")  # lower-case: outside the alphabet
    shutil.copy(SAMPLE[2], tmp_path / "皖A1.jpg")  # impossible length
    (tmp_path / "notes.txt").write_text("not an image")
    records, skipped = list_records(tmp_path)
    assert [r.label for r in records] == [SAMPLE[0].stem]
    reasons = dict((p.split("/")[-1], r) for p, r in skipped.items)
    assert "outside the alphabet: 'a'" in reasons["皖a12345.jpg"]
    assert "length 3" in reasons["皖A1.jpg"]
    assert "not an image file" in reasons["notes.txt"]
    assert "skipped 3 file(s)" in skipped.summary()


def test_empty_and_missing_folders(tmp_path):
    with pytest.raises(PlateOCRError, match="no images found"):
        list_records(tmp_path)
    with pytest.raises(PlateOCRError, match="does not exist"):
        list_records(tmp_path / "missing")


def test_unreadable_images_become_counted_bad_samples(tmp_path):
    good = tmp_path / SAMPLE[0].name
    shutil.copy(SAMPLE[0], good)
    (tmp_path / "皖A12345.jpg").write_bytes(b"")
    records, _ = list_records(tmp_path)
    dataset = CropDataset(records, (32, 96))
    items = [dataset[i] for i in range(len(dataset))]
    assert sum(isinstance(it, BadSample) for it in items) == 1
    batch = make_collate(Tokenizer())(items)
    assert batch.images.shape == (1, 3, 32, 96) and len(batch.bad) == 1
    assert "empty file" in batch.bad[0].reason


def test_split_is_deterministic_and_disjoint():
    records, _ = list_records(SAMPLE_DIR)
    train_a, val_a = split_records(records, 0.1, seed=3)
    train_b, val_b = split_records(list(reversed(records)), 0.1, seed=3)
    assert train_a == train_b and val_a == val_b
    assert len(val_a) == round(len(records) * 0.1) and not set(train_a) & set(val_a)
    assert split_records(records, 0.1, seed=4)[1] != val_a


def test_collate_targets_match_labels():
    records, _ = list_records(SAMPLE_DIR)
    dataset = CropDataset(records[:4], (32, 96), cache=True)
    batch = make_collate(Tokenizer())([dataset[i] for i in range(4)])
    assert batch.images.dtype == torch.uint8 and batch.target_lengths.tolist() == [7, 7, 7, 7]
    assert Tokenizer().decode(batch.targets[:7].tolist()) == records[0].label


@pytest.mark.parametrize(
    "label, plate_type",
    [
        ("皖A12345", "blue"),
        ("京AD12345", "green"),
        ("粤B1234学", "yellow"),
        ("沪A1234挂", "yellow"),
        ("苏A1234警", "white"),
        ("粤Z1234港", "black"),
        ("粤Z1234澳", "black"),
        ("京A1234使", "black"),
        ("京A1234领", "black"),
    ],
)
def test_a_labels_plate_type_is_inferred_from_its_length_and_last_character(label, plate_type):
    from plateocr.data.datasets import infer_plate_type

    assert infer_plate_type(label) == plate_type


def test_a_folder_of_label_named_crops_gets_inferred_types(tmp_path):
    for label in ("京AD12345", "苏A1234警", "皖A12345"):
        shutil.copy(SAMPLE_DIR / "浙D911SY.jpg", tmp_path / f"{label}.jpg")
    records, _ = list_records(tmp_path)
    assert {r.label: r.plate_type for r in records} == {"京AD12345": "green", "苏A1234警": "white", "皖A12345": "blue"}
