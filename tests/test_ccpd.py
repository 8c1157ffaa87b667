"""CCPD file names: raw full-scene annotations (checked against the sample's own labels), dl1 crops."""
import json

import numpy as np
import pytest
import yaml
from PIL import Image

from plateocr.ccpd import crop_plate, is_ccpd_name, label_from_dl1_name, parse_ccpd_name
from tests.conftest import CCPD_RAW

pytestmark = pytest.mark.skipif(not CCPD_RAW.is_dir(), reason="../shared/data/ccpd_raw_sample not present")


def sample_labels() -> dict[str, str]:
    """Plates of the 16 photos from the sample's own crops and JSON labels (a second source)."""
    chars = yaml.safe_load((CCPD_RAW / "char-annotations.yaml").read_text(encoding="utf-8"))["char_annotations"]
    order = (CCPD_RAW / "val_for_test.txt").read_text().split()
    labels = json.loads((CCPD_RAW / "val_ocr_for_test.json").read_text())["char_labels"]
    return {name.split("/")[-1]: "".join(chars[i] for i in idx if i) for name, idx in zip(order, labels)}


def test_the_16_photos_decode_to_their_labels():
    expected = sample_labels()
    photos = sorted(CCPD_RAW.glob("*&*.jpg"))
    assert len(photos) == 16 == len(expected)
    for photo in photos:
        ann = parse_ccpd_name(photo.name)
        assert ann.plate == expected[photo.name], photo.name
        assert len(ann.vertices) == 4 and ann.bbox[0][0] < ann.bbox[1][0]


def test_warped_crops_are_upright_plates():
    """Each warped crop matches the sample author's own crop of that photo, and not its mirror image."""
    order = [n.split("/")[-1] for n in (CCPD_RAW / "val_for_test.txt").read_text().split()]
    grey = lambda im: np.asarray(im.convert("L").resize((96, 32)), dtype=float).ravel()
    for k, name in enumerate(order):
        crop = crop_plate(Image.open(CCPD_RAW / name).convert("RGB"), parse_ccpd_name(name).vertices)
        arr = np.asarray(crop, dtype=float)
        assert crop.size == (192, 64) and arr.std() > 15
        theirs = Image.open(CCPD_RAW / f"ocr-{k:08d}-000.jpg")
        same = np.corrcoef(grey(crop), grey(theirs))[0, 1]
        mirrored = np.corrcoef(grey(crop), grey(theirs.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))[0, 1]
        upside_down = np.corrcoef(grey(crop), grey(theirs.transpose(Image.Transpose.FLIP_TOP_BOTTOM)))[0, 1]
        assert same > 0.4 and same > mirrored and same > upside_down, name


def test_natural_size_crop():
    photo = sorted(CCPD_RAW.glob("*&*.jpg"))[0]
    crop = crop_plate(Image.open(photo), parse_ccpd_name(photo.name).vertices, size=None)
    assert 2.0 < crop.width / crop.height < 5.0


def test_ccpd2020_green_names_have_8_characters():
    name = "0136-0_1-251&467_359&511-359&511_255&505_251&467_355&473-0_0_3_24_30_32_31_29-134-30.jpg"
    assert parse_ccpd_name(name).plate == "皖AD06875"


@pytest.mark.parametrize("bad", ["plate.jpg", "1-2-3-4-5-6-7.jpg", "0-1_1-1&1_2&2-1&1_2&2_3&3_4&4-0_0_99_1_1_1_1-1-1.jpg"])
def test_malformed_names_are_clear_errors(bad):
    assert not is_ccpd_name(bad)
    with pytest.raises(ValueError, match=bad.split(".")[0][:10]):
        parse_ccpd_name(bad)


def test_dl1_names():
    assert label_from_dl1_name("0412-皖A12345.jpg") == "皖A12345"
    assert label_from_dl1_name("/x/y/7-京AD12345.jpeg") == "京AD12345"
    with pytest.raises(ValueError):
        label_from_dl1_name("皖A12345.jpg")
