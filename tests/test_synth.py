"""Synthetic plates: valid labels of every type, deterministic, the right sizes, never blank."""

import csv
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from plateocr.alphabet import DIGITS, ENERGY, PLATE_LETTERS, PLATE_TYPES, PROVINCES, is_valid_plate
from plateocr.data.datasets import list_records
from plateocr.data.images import DOUBLE_ROW_MAX_ASPECT
from plateocr.errors import PlateOCRError
from plateocr.synth.render import (
    SyntheticPlates,
    random_plate,
    render_clean,
    render_plate,
    synth_sample,
    write_synthetic,
)


@pytest.mark.parametrize("plate_type", PLATE_TYPES)
def test_labels_follow_the_format_of_each_type(plate_type):
    rng = np.random.default_rng(1)
    for _ in range(50):
        label, kind = random_plate(rng, plate_type)
        assert kind == plate_type and is_valid_plate(label), label
        assert label[0] in PROVINCES and label[1] in PLATE_LETTERS, label
        if plate_type == "green":
            assert len(label) == 8
            if label[2] in ENERGY:  # small car: at most two letters after D/F
                assert sum(c in PLATE_LETTERS for c in label[3:]) <= 2, label
            else:  # large vehicle: five digits, then D/F
                assert label[-1] in ENERGY and all(c in DIGITS for c in label[2:7]), label
        else:
            assert len(label) == 7, label
        if plate_type == "white":
            assert label.endswith("警")
        if plate_type == "black":
            assert label[-1] in "港澳使领" and (label[-1] in "使领" or label.startswith("粤Z")), label
        if plate_type == "blue":
            assert all(c not in "警学挂港澳使领" for c in label)


def test_both_new_energy_patterns_and_special_suffixes_occur():
    rng = np.random.default_rng(2)
    green = [random_plate(rng, "green")[0] for _ in range(200)]
    assert any(l[2] in ENERGY for l in green) and any(l[-1] in ENERGY for l in green)
    yellow = {random_plate(rng, "yellow")[0][-1] for _ in range(200)}
    assert {"学", "挂"} <= yellow
    assert "挂" in {random_plate(rng, "yellow_double")[0][-1] for _ in range(200)}


def test_provinces_are_balanced_by_default():
    rng = np.random.default_rng(0)
    labels = [random_plate(rng)[0] for _ in range(3000)]
    assert {l[0] for l in labels} == set(PROVINCES)
    # Hong Kong and Macau plates are all 粤Z: the only intended imbalance.
    counts = Counter(l[0] for l in labels if l[-1] not in "港澳")
    assert max(counts.values()) < 2 * min(counts.values())


def test_weights_are_followed_and_checked():
    rng = np.random.default_rng(0)
    labels = [random_plate(rng, "blue", {"皖": 0.9, "京": 0.1})[0] for _ in range(300)]
    assert {l[0] for l in labels} == {"皖", "京"} and sum(l[0] == "皖" for l in labels) > 240
    kinds = {synth_sample(0, i, type_weights={"green": 1.0})[2] for i in range(5)}
    assert kinds == {"green"}
    with pytest.raises(ValueError, match="plate type"):
        random_plate(rng, "purple")
    with pytest.raises(ValueError, match="province"):
        random_plate(rng, "blue", {"X": 1.0})


def test_same_seed_and_index_give_the_same_image_and_other_indices_do_not():
    a, la, ta = synth_sample(7, 11)
    b, lb, tb = synth_sample(7, 11)
    assert (la, ta) == (lb, tb) and a.tobytes() == b.tobytes()
    others = [synth_sample(7, i)[0].tobytes() for i in (12, 13)] + [synth_sample(8, 11)[0].tobytes()]
    assert a.tobytes() not in others


@pytest.mark.parametrize("plate_type", PLATE_TYPES)
def test_crops_have_crop_sizes_and_are_not_blank(plate_type):
    for i in range(12):
        image = render_plate(
            random_plate(np.random.default_rng(i), plate_type)[0], plate_type, np.random.default_rng(100 + i)
        )
        w, h = image.size
        assert image.mode == "RGB" and 80 <= w <= 140, image.size
        if plate_type == "yellow_double":  # the loaders tell the layouts apart by aspect
            assert 36 <= h <= 82 and w / h < DOUBLE_ROW_MAX_ASPECT
        else:
            assert 21 <= h <= 51 and w / h > DOUBLE_ROW_MAX_ASPECT
        assert np.asarray(image, dtype=float).std() > 5


def test_clean_plates_have_the_standard_shapes_and_real_glyphs():
    assert render_clean("鲁B1234挂", "yellow_double").size == (440, 220)
    assert render_clean("京AD12345", "green").size == (480, 140)
    blue = render_clean("皖A12345", "blue")
    assert blue.size == (440, 140) and blue.tobytes() == render_clean("皖A12345", "blue").tobytes()
    # A missing glyph draws the same box for every character; real glyphs differ from each other.
    province_crops = {render_clean(p + "A12345", "blue").crop((10, 20, 65, 120)).tobytes() for p in "皖京粤藏"}
    assert len(province_crops) == 4
    police = np.asarray(render_clean("沪A1234警", "white"))
    assert (police[..., 0].astype(int) - police[..., 1] > 120).any()  # 警 is red


def test_digits_and_letters_that_fonts_draw_unlike_plates_have_the_plate_shapes():
    from plateocr.synth.render import _glyph

    ink = {c: np.asarray(_glyph(c, 45, 90, "noto", 1)) > 128 for c in "13M"}
    assert ink["3"][:6].mean(axis=0).max() == 1 and ink["3"][:6].any(axis=0).mean() > 0.8  # flat top bar
    assert not ink["M"][-25:, 18:27].any()  # the V of M stops above the baseline
    assert ink["M"][:, :5].all() and ink["M"][:, -5:].all()  # upright sides
    bar = ink["1"].any(axis=0)
    assert ink["1"][:, bar].all() and bar.sum() < 15  # 1 is a plain bar


def _median_run(ink: np.ndarray) -> float:
    """The median length of the horizontal runs of ink: the width of the strokes they cross."""
    edges = np.diff(np.pad(ink.astype(int), ((0, 0), (1, 1))), axis=1)
    starts, ends = np.nonzero(edges == 1)[1], np.nonzero(edges == -1)[1]
    return float(np.median(ends - starts))


def test_chinese_characters_keep_bold_vertical_strokes_in_their_narrow_slot():
    from plateocr.synth.render import _glyph

    # 京's lower half is its vertical hook and two short strokes; H's upper half is its two sides.
    ratios = [
        _median_run(np.asarray(_glyph("京", 22, 45, font, weight))[28:38] > 128)
        / _median_run(np.asarray(_glyph("H", 22, 45, font, weight))[5:15] > 128)
        for font in ("noto", "simhei")
        for weight in range(3)
    ]
    assert np.mean(ratios) > 0.6  # about 0.43 if the squeeze thins them unchecked


def test_dataset_items_and_range():
    plates = SyntheticPlates(3, seed=5)
    image, label, kind = plates[2]
    assert len(plates) == 3 and is_valid_plate(label) and kind in PLATE_TYPES
    assert image.tobytes() == synth_sample(5, 2)[0].tobytes()
    with pytest.raises(IndexError):
        plates[3]
    with pytest.raises(IndexError):
        plates[-1]


def test_write_synthetic_files_read_back(tmp_path):
    out = tmp_path / "s"
    manifest = write_synthetic(20, out, seed=4)
    assert manifest == out / "manifest.csv"
    with open(manifest, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    names = sorted(p.name for p in out.glob("*.jpg"))
    assert sorted(r["path"] for r in rows) == names and len(names) == 20
    for row in rows:
        assert row["path"].split(".")[0].split("_")[0] == row["label"] and is_valid_plate(row["label"])
        assert row["plate_type"] in PLATE_TYPES
        with Image.open(out / row["path"]) as image:
            assert image.format == "JPEG" and image.width >= 80
    records, skipped = list_records(out)
    assert len(records) == 20 and not skipped.items
    assert Counter(r.label for r in records) == Counter(r["label"] for r in rows)


def test_write_synthetic_refuses_a_folder_with_images(tmp_path):
    out = tmp_path / "s"
    out.mkdir()
    Image.new("RGB", (94, 24)).save(out / "mine.jpg")
    with pytest.raises(ValueError, match="already holds images"):
        write_synthetic(2, out)
    with pytest.raises(PlateOCRError):  # the CLI prints it as one line
        write_synthetic(2, out)
    assert [p.name for p in out.iterdir()] == ["mine.jpg"]
