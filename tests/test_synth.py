"""Synthetic plates: valid labels of every type, deterministic, the right sizes, never blank."""
from collections import Counter

import numpy as np
import pytest

from plateocr.alphabet import ENERGY, PLATE_TYPES, PROVINCES, is_valid_plate
from plateocr.datasets import list_records
from plateocr.errors import PlateOCRError
from plateocr.synth import SyntheticPlates, random_plate, render_clean, synth_sample, write_synthetic


@pytest.mark.parametrize("plate_type", PLATE_TYPES)
def test_labels_follow_the_format_of_each_type(plate_type):
    rng = np.random.default_rng(1)
    for _ in range(60):
        label, kind = random_plate(rng, plate_type)
        assert kind == plate_type and is_valid_plate(label), label
        if plate_type == "green":
            assert len(label) == 8 and (label[2] in ENERGY or label[-1] in ENERGY)
        else:
            assert len(label) == 7
        if plate_type == "white":
            assert label.endswith("警")
        if plate_type == "black":
            assert label[-1] in "港澳使领"


def test_provinces_are_balanced_by_default():
    rng = np.random.default_rng(0)
    counts = Counter(random_plate(rng, "blue")[0][0] for _ in range(3100))
    assert set(counts) == set(PROVINCES)
    assert max(counts.values()) < 2 * min(counts.values())


def test_province_weights_are_followed():
    rng = np.random.default_rng(0)
    labels = [random_plate(rng, "blue", {"皖": 0.9, "京": 0.1})[0] for _ in range(300)]
    assert {l[0] for l in labels} == {"皖", "京"} and sum(l[0] == "皖" for l in labels) > 240


def test_same_seed_same_image_and_other_index_other_image():
    a, la, ta = synth_sample(7, 11)
    b, lb, tb = synth_sample(7, 11)
    c, lc, _ = synth_sample(7, 12)
    assert (la, ta) == (lb, tb) and a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes() or la != lc


def test_images_have_crop_sizes_and_are_not_blank():
    plates = SyntheticPlates(60, seed=3)
    kinds = set()
    for image, label, kind in plates:
        kinds.add(kind)
        w, h = image.size
        assert image.mode == "RGB" and 80 <= w <= 160 and 12 <= h <= 110
        assert np.asarray(image).std() > 8
        if kind == "yellow_double":
            assert w / h < 2.6
        else:
            assert w / h > 2.4
    assert len(kinds) >= 4
    with pytest.raises(IndexError):
        plates[60]


def test_clean_double_row_plate_has_the_rear_plate_shape():
    assert render_clean("鲁B1234挂", "yellow_double").size == (440, 220)
    assert render_clean("京AD12345", "green").size == (480, 140)


def test_write_synthetic_files_read_back(tmp_path):
    manifest = write_synthetic(20, tmp_path / "s", seed=4)
    records, skipped = list_records(tmp_path / "s")
    assert len(records) == 20 and len(skipped) == 0 and manifest.name == "manifest.csv"
    assert {r.plate_type for r in records} <= set(PLATE_TYPES)
    names = sorted(p.name for p in (tmp_path / "s").glob("*.jpg"))
    assert all(is_valid_plate(n.split(".")[0].split("_")[0]) for n in names) and len(names) == 20
    with pytest.raises(PlateOCRError, match="already holds images"):
        write_synthetic(2, tmp_path / "s")
