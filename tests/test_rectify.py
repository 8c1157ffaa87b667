import sys

import numpy as np
import pytest
from PIL import Image

from plateocr import SAMPLE_DIR
from plateocr.data.compiled import kernels
from plateocr.data.images import load_image
from plateocr.data.perturbations import perturb, surround
from plateocr.data.rectify import MIN_TILT_DEGREES, WORK_HEIGHT, locate_plate, rectify, tilt
from plateocr.data.rectify_cpu import _pairwise_sum

PLATES = [load_image(p) for p in sorted(SAMPLE_DIR.glob("*.jpg"))]


def tilt_degrees(image: Image.Image) -> float:
    small = image.resize((round(image.width * WORK_HEIGHT / image.height), WORK_HEIGHT), Image.Resampling.BILINEAR)
    return float(np.degrees(np.arctan(tilt(np.asarray(small.convert("L"), np.float32)))))


def test_rectifying_is_deterministic():
    loose = perturb(PLATES[3], "loose_box", 0.3, np.random.default_rng(0))
    assert np.array_equal(np.asarray(rectify(loose)), np.asarray(rectify(loose)))


@pytest.mark.parametrize("margins", [(0.25, 0.3, 0.2, 0.25), (0.3, 0.3, 0.3, 0.3), (0.1, 0.2, 0.3, 0.2)])
def test_a_loose_box_is_cut_close_around_the_plate_it_holds(margins):
    """The plate set in a surround at known margins: the cut keeps nearly all of the plate and
    drops most of the surround, on most sample plates (a tilted one is turned first, so its box
    is compared only where the crop stayed level)."""
    kept, surround_left, level = [], [], 0
    for i, plate in enumerate(PLATES):
        w, h = plate.size
        px = (round(margins[0] * w), round(margins[1] * h), round(margins[2] * w), round(margins[3] * h))
        loose = surround(plate, px, np.random.default_rng(i))
        degrees, box = locate_plate(loose)
        if degrees:
            continue
        level += 1
        assert box is not None, i
        plate_box = (px[0], px[1], px[0] + w, px[1] + h)
        overlap = max(0, min(box[2], plate_box[2]) - max(box[0], plate_box[0])) * max(
            0, min(box[3], plate_box[3]) - max(box[1], plate_box[1])
        )
        kept.append(overlap / (w * h))
        surround_left.append(((box[2] - box[0]) * (box[3] - box[1]) - overlap) / (loose.width * loose.height - w * h))
    assert level >= len(PLATES) // 3
    assert np.median(kept) >= 0.9 and np.percentile(kept, 10) >= 0.8
    assert np.median(surround_left) <= 0.25


def test_a_turned_plate_is_levelled():
    turned_before, turned_after = [], []
    for i, plate in enumerate(PLATES[:24]):
        turned = perturb(plate, "rotation", 8.0, np.random.default_rng(i))
        turned_before.append(abs(tilt_degrees(turned)))
        turned_after.append(abs(tilt_degrees(rectify(turned))))
    assert np.median(turned_before) > 5
    assert np.median(turned_after) < 2


def test_the_turn_of_a_plate_is_measured_to_a_degree_or_so():
    """Each sample plate turned 8°: the tilt measured on it, less the tilt of the plate as it was,
    is the turn, within 1.5° on nine plates in ten (the plate's own tilt is measured, not known)."""
    errors = []
    for i, plate in enumerate(PLATES):
        angle = 8.0 * np.random.default_rng(i).choice((-1.0, 1.0))
        turned = perturb(plate, "rotation", 8.0, np.random.default_rng(i))
        errors.append(abs(tilt_degrees(turned) - (tilt_degrees(plate) - angle)))
    assert np.mean(np.array(errors) < 1.5) >= 0.9


def test_a_tight_crop_keeps_its_width_and_mostly_its_height():
    """CCPD's tight crops are at most turned a little and trimmed above or below: the band of
    characters sets the height, and it is the less certain estimate."""
    heights = []
    for plate in PLATES:
        _, box = locate_plate(plate)
        if box is not None:
            assert box[2] - box[0] >= 0.9 * plate.width
        heights.append(1.0 if box is None else (box[3] - box[1]) / plate.height)
    assert np.median(heights) == 1.0 and np.mean(np.array(heights) >= 0.7) >= 0.85


def test_a_rectified_crop_comes_at_the_size_asked_and_a_level_tight_one_as_it_is():
    loose = perturb(PLATES[3], "loose_box", 0.3, np.random.default_rng(0))
    assert rectify(loose, (32, 96)).size == (96, 32)
    level_and_tight = [p for p in PLATES if locate_plate(p) == (0.0, None)]
    assert level_and_tight and all(rectify(p, (32, 96)) is p for p in level_and_tight)


@pytest.mark.parametrize("factor", [0.5, 0.33])
def test_a_crop_too_small_to_turn_or_cut_is_read_as_it_is(factor):
    for plate in PLATES[:8]:
        small = perturb(plate, "scale", factor, np.random.default_rng(0))
        assert locate_plate(small) == (0.0, None)
        assert rectify(small) is small


def test_a_tilt_under_the_level_threshold_skips_the_fine_search_only_where_it_could_not_matter():
    """With `level_below`, a crop the coarse search finds level measures 0; every other crop
    measures as it does without it."""
    level = tilted = 0
    for i, plate in enumerate(PLATES[:24]):
        for degrees in (0.0, 6.0):
            image = perturb(plate, "rotation", degrees, np.random.default_rng(i)) if degrees else plate
            small = image.resize((round(image.width * WORK_HEIGHT / image.height), WORK_HEIGHT))
            grey = np.asarray(small.convert("L"), np.float32)
            full, skipped = tilt(grey), tilt(grey, level_below=MIN_TILT_DEGREES)
            if skipped == 0.0 and full != 0.0:
                level += 1
                assert abs(np.degrees(np.arctan(full))) <= MIN_TILT_DEGREES + 1e-9
            else:
                tilted += 1
                assert skipped == full
    assert level >= 6 and tilted >= 24


def work_copies() -> list[np.ndarray]:
    """The sample plates' grey work copies, as they are and loose, turned, reduced and compressed."""
    crops = list(PLATES)
    for n, kind in enumerate([("loose_box", 0.3), ("rotation", 8.0), ("rotation", 4.0), ("scale", 0.5), ("jpeg", 20)]):
        crops += [perturb(p, *kind, np.random.default_rng(10 * n + i)) for i, p in enumerate(PLATES)]
    size = lambda c: (max(8, round(c.width * WORK_HEIGHT / c.height)), WORK_HEIGHT)  # noqa: E731
    return [np.asarray(c.convert("L").resize(size(c), Image.Resampling.BILINEAR), np.float32) for c in crops]


def test_the_compiled_tilt_search_finds_the_numpy_search_s_tilts_to_the_bit(monkeypatch):
    copies = work_copies()
    compiled = [(tilt(g), tilt(g, level_below=MIN_TILT_DEGREES)) for g in copies]
    assert sum(t != 0.0 for t, _ in compiled) > len(copies) / 2  # most of them do tilt
    monkeypatch.setitem(sys.modules, "plateocr.data.rectify_cpu", None)  # the numpy path
    kernels.cache_clear()
    try:
        with pytest.warns(UserWarning, match="rectify_cpu: the compiled kernels did not load"):
            plain = [(tilt(g), tilt(g, level_below=MIN_TILT_DEGREES)) for g in copies]
    finally:
        kernels.cache_clear()
    assert compiled == plain


@pytest.mark.parametrize("n", [1, 7, 8, 9, 100, 128, 129, 418, 1000])
def test_the_compiled_sum_adds_as_numpy_adds_a_row(n):
    rng = np.random.default_rng(n)
    values = np.square(rng.random(n) * 10.0 ** rng.uniform(-3, 6, n))
    assert _pairwise_sum(values, 0, n) == values.reshape(1, -1).sum(1)[0]
