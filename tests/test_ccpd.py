"""CCPD file names: raw full-scene annotations (checked against the sample's own labels), dl1 crops.

The 16 photos, their crops and labels in ../shared/data/ccpd_raw_sample have no licence: they are
read there as fixtures and never copied into the repo.
"""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from plateocr.data.ccpd import (
    CCPD_ADS,
    CCPD_ALPHABETS,
    CCPD_PROVINCES,
    CcpdAnnotation,
    crop_plate,
    is_ccpd_name,
    label_from_dl1_name,
    parse_ccpd_name,
)

CCPD_RAW = Path(__file__).resolve().parents[2] / "shared/data/ccpd_raw_sample"
needs_sample = pytest.mark.skipif(not CCPD_RAW.is_dir(), reason=f"{CCPD_RAW} (../shared beside the repo) is absent")

README_NAME = "025-95_113-154&383_386&473-386&473_177&454_154&383_363&402-0_0_22_27_27_33_16-37-15.jpg"
GREEN_NAME = "0136-0_1-251&467_359&511-359&511_255&505_251&467_355&473-0_0_3_24_30_32_31_29-134-30.jpg"


def sample_order() -> list[str]:
    """The 16 photo names in the order of the sample's crops and JSON labels."""
    return [n.split("/")[-1] for n in (CCPD_RAW / "val_for_test.txt").read_text().split()]


def sample_labels() -> dict[str, str]:
    """Plates of the 16 photos from the sample's own crop labels: a second source beside the names."""
    chars = yaml.safe_load((CCPD_RAW / "char-annotations.yaml").read_text(encoding="utf-8"))["char_annotations"]
    labels = json.loads((CCPD_RAW / "val_ocr_for_test.json").read_text())["char_labels"]
    return {name: "".join(chars[i] for i in idx if i) for name, idx in zip(sample_order(), labels)}


def quad_area(vertices) -> float:
    (x, y) = np.asarray(vertices, float).T
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


@needs_sample
def test_tables_match_the_sample_annotation_file():
    tables = yaml.safe_load((CCPD_RAW / "char-annotations.yaml").read_text(encoding="utf-8"))["ccpd_char_annotations"]
    assert (CCPD_PROVINCES, CCPD_ALPHABETS, CCPD_ADS) == (tables["provinces"], tables["alphabets"], tables["ads"])


@needs_sample
def test_the_16_photos_decode_to_their_labels():
    expected = sample_labels()
    photos = sorted(CCPD_RAW.glob("*&*.jpg"))
    assert len(photos) == 16 == len(expected)
    for photo in photos:
        ann = parse_ccpd_name(photo)
        assert ann.plate == expected[photo.name], photo.name
        assert ann.bbox[0][0] < ann.bbox[1][0] and ann.bbox[0][1] < ann.bbox[1][1]
        # The area field is the plate's share of the photo, with "0." dropped ("025" = 2.5 %).
        width, height = Image.open(photo).size
        assert 0.5 < ann.area / (quad_area(ann.vertices) / (width * height)) < 2, photo.name


@needs_sample
def test_vertex_order_matches_the_sample_keypoints():
    """The sample author's keypoints (bottom-right, bottom-left, top-left, top-right) are our vertices,
    shifted to the corner of their crop: an independent check of the order."""
    keypoints = json.loads((CCPD_RAW / "val_kp_for_test.json").read_text())["keypoints"]
    for name, theirs in zip(sample_order(), keypoints):
        ours = np.array(parse_ccpd_name(name).vertices, float)
        assert np.array_equal(ours - ours.min(axis=0), np.array(theirs)), name
        br, bl, tl, tr = ours
        assert br[0] > bl[0] and tr[0] > tl[0] and bl[1] > tl[1] and br[1] > tr[1], name


@needs_sample
def test_warped_crops_are_upright_blue_plates():
    """Each crop is a blue plate that matches the sample author's crop of that photo, not its mirror."""
    grey = lambda im: np.asarray(im.convert("L").resize((96, 32)), dtype=float).ravel()
    blue_over_red = 0
    for k, name in enumerate(sample_order()):
        photo = Image.open(CCPD_RAW / name).convert("RGB")
        crop = crop_plate(photo, parse_ccpd_name(name).vertices)
        arr = np.asarray(crop, dtype=float)
        assert crop.size == (192, 64) and crop.mode == "RGB" and arr.std() > 15, name
        # Bluer than its own photo, whatever the light; one dusk-lit photo is red overall.
        r, _, b = arr.reshape(-1, 3).mean(axis=0)
        pr, _, pb = np.asarray(photo, dtype=float).reshape(-1, 3).mean(axis=0)
        assert b - r > pb - pr + 5, name
        blue_over_red += b > r
        theirs = Image.open(CCPD_RAW / f"ocr-{k:08d}-000.jpg")
        same = np.corrcoef(grey(crop), grey(theirs))[0, 1]
        mirrored = np.corrcoef(grey(crop), grey(theirs.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))[0, 1]
        upside_down = np.corrcoef(grey(crop), grey(theirs.transpose(Image.Transpose.FLIP_TOP_BOTTOM)))[0, 1]
        assert same > 0.6 and same > mirrored + 0.2 and same > upside_down + 0.2, name
    assert blue_over_red >= 15


@needs_sample
def test_crop_sizes():
    photo = sorted(CCPD_RAW.glob("*&*.jpg"))[0]
    image, vertices = Image.open(photo), parse_ccpd_name(photo).vertices
    natural = crop_plate(image, vertices, size=None)
    assert 2.5 < natural.width / natural.height < 4.5 and natural.width > 100
    assert crop_plate(image, vertices, size=(96, 32)).size == (96, 32)
    assert crop_plate(image.convert("P"), vertices).mode == "RGB"
    with pytest.raises(ValueError, match="4 .x, y. vertices"):
        crop_plate(image, vertices[:3])
    with pytest.raises(ValueError, match="degenerate"):
        crop_plate(image, [(0, 0), (1, 1), (2, 2), (3, 3)])


def test_readme_example_and_ccpd2020_green_names():
    ann = parse_ccpd_name(README_NAME)
    assert ann == CcpdAnnotation(
        area=0.025,
        tilt=(95, 113),
        bbox=((154, 383), (386, 473)),
        vertices=((386, 473), (177, 454), (154, 383), (363, 402)),
        plate="皖AY339S",
        brightness=37,
        blur=15,
    )
    green = parse_ccpd_name("/any/dir/" + GREEN_NAME)
    assert green.plate == "皖AD06875" and len(green.plate) == 8
    assert is_ccpd_name(README_NAME) and is_ccpd_name(GREEN_NAME)


def test_placeholder_O_is_no_character():
    assert parse_ccpd_name(README_NAME.replace("0_0_22_27_27_33_16", "0_0_22_27_27_33_34")).plate == "皖AY339"


@pytest.mark.parametrize(
    "bad, reason",
    [
        ("plate.jpg", "fields"),
        ("0123-皖A12345.jpg", "fields"),
        ("1-2-3-4-5-6-7.jpg", "tilt"),
        (README_NAME.replace("0_0_22_27_27_33_16", "0_0_99_27_27_33_16"), "index 99 out of range"),
        (README_NAME.replace("0_0_22_27_27_33_16", "0_25_22_27_27_33_16"), "index 25 out of range"),
        (README_NAME.replace("0_0_22_27_27_33_16", "0_0_22_27_27_33"), "expected 7 or 8"),
        (README_NAME.replace("0_0_22_27_27_33_16", "0_0_22_x_27_33_16"), "invalid literal"),
        (README_NAME.replace("386&473-386&473", "386&473-386&473&1"), "vertices"),
        (README_NAME.replace("_363&402-", "-"), "vertices .* 3 points"),
        (README_NAME.replace("025-", "0.25-"), "area"),
    ],
)
def test_malformed_names_are_clear_one_line_errors(bad, reason):
    assert not is_ccpd_name(bad)
    with pytest.raises(ValueError, match=reason) as info:
        parse_ccpd_name("some/dir/" + bad)
    message = str(info.value)
    assert message.startswith(bad + ": not a CCPD file name") and "\n" not in message


def test_dl1_names():
    assert label_from_dl1_name("0412-皖A12345.jpg") == "皖A12345"
    assert label_from_dl1_name(Path("/x/y/7-京AD12345.jpeg")) == "京AD12345"
    assert label_from_dl1_name("7-沪A-12345.jpg") == "沪A-12345"  # only the first '-' separates the id
    with pytest.raises(ValueError, match=re.escape("皖A12345.jpg")):
        label_from_dl1_name("皖A12345.jpg")
