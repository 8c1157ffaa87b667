import numpy as np
import pytest
from PIL import Image

from plateocr import SAMPLE_DIR
from plateocr.data.ccpd import parse_ccpd_name
from plateocr.data.images import load_image
from plateocr.data.perturbations import DEFAULT_STRENGTHS, KINDS, loose_box, loose_crop_from_photo, perturb

CROP = load_image(sorted(SAMPLE_DIR.glob("*.jpg"))[0])


@pytest.mark.parametrize("kind", KINDS)
def test_perturbations_are_deterministic_for_a_seed(kind):
    strength = DEFAULT_STRENGTHS[kind][-1]
    a = perturb(CROP, kind, strength, np.random.default_rng(3))
    b = perturb(CROP, kind, strength, np.random.default_rng(3))
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert a.mode == "RGB" and min(a.size) >= 8


@pytest.mark.parametrize("kind", ["loose_box", "rotation"])
def test_random_perturbations_differ_between_seeds(kind):
    a, b = (
        np.asarray(perturb(CROP, kind, 0.3 if kind == "loose_box" else 8.0, np.random.default_rng(s))) for s in (1, 2)
    )
    assert a.shape != b.shape or not np.array_equal(a, b)


@pytest.mark.parametrize("strength", [0.1, 0.2, 0.3])
def test_a_loose_crop_contains_the_whole_plate(strength):
    for seed in range(20):
        loose = np.asarray(loose_box(CROP, strength, np.random.default_rng(seed)))
        tight = np.asarray(CROP)
        h, w = tight.shape[:2]
        # The tight crop appears unchanged somewhere inside, with margins within the strength drawn.
        found = [
            (y, x)
            for y in range(loose.shape[0] - h + 1)
            for x in range(loose.shape[1] - w + 1)
            if np.array_equal(loose[y : y + h, x : x + w], tight)
        ]
        assert len(found) == 1, seed
        (y, x), (lh, lw) = found[0], loose.shape[:2]
        margins = np.array([x / w, y / h, (lw - w - x) / w, (lh - h - y) / h])
        assert np.all(margins >= strength / 3 - 0.05) and np.all(margins <= strength + 0.05), margins


def test_rotation_cuts_the_box_around_the_turned_plate():
    turned = perturb(CROP, "rotation", 10.0, np.random.default_rng(0))
    w, h = CROP.size
    a = np.radians(10.0)
    assert abs(turned.width - (w * np.cos(a) + h * np.sin(a))) <= 2
    assert abs(turned.height - (w * np.sin(a) + h * np.cos(a))) <= 2
    corners = np.asarray(turned)[[0, 0, -1, -1], [0, -1, 0, -1]]
    assert corners.max() > 0  # the corners hold surround, not an empty black canvas


def test_scale_and_quality_do_what_they_say():
    assert perturb(CROP, "scale", 0.5, np.random.default_rng(0)).size == (47, 12)
    dark = np.asarray(perturb(CROP, "dark", 0.45, np.random.default_rng(0))).mean()
    assert dark == pytest.approx(np.asarray(CROP).mean() * 0.45, rel=0.05)
    blurred = np.asarray(perturb(CROP, "blur", 1.5, np.random.default_rng(0))).astype(float)
    assert np.abs(np.diff(blurred, axis=1)).mean() < np.abs(np.diff(np.asarray(CROP).astype(float), axis=1)).mean()


def test_a_loose_crop_of_a_raw_photo_holds_its_annotated_corners():
    from tests.conftest import CCPD_RAW

    photos = sorted(CCPD_RAW.glob("**/*.jpg")) if CCPD_RAW.is_dir() else []
    photos = [p for p in photos if "-" in p.stem and p.stem.count("_") > 3]
    if not photos:
        pytest.skip("no raw CCPD photos beside the repo")
    ann = parse_ccpd_name(photos[0].name)
    photo = Image.open(photos[0])
    box_w = max(x for x, _ in ann.vertices) - min(x for x, _ in ann.vertices)
    loose = loose_crop_from_photo(photo, ann.vertices, 0.3, np.random.default_rng(0))
    assert loose.width >= box_w and loose.width <= 1.6 * box_w + 2
