"""Reading crops of every kind, and clear errors for files that are not crops (issue 9, cases 1-5)."""
import numpy as np
import pytest
from PIL import Image

from plateocr import SAMPLE_DIR
from plateocr.errors import ImageError
from plateocr.images import is_double_row, join_rows, load_image, prepare_crop

REAL = SAMPLE_DIR / "京PL3N67.jpg"


def test_real_crop_reads_as_rgb():
    img = load_image(REAL)
    assert img.mode == "RGB" and img.size == (94, 24)
    arr = prepare_crop(img, (32, 96))
    assert arr.shape == (32, 96, 3) and arr.dtype == np.uint8 and arr.std() > 10


def test_corrupt_jpeg(tmp_path):
    bad = tmp_path / "皖A12345.jpg"
    bad.write_bytes(REAL.read_bytes()[:200])
    with pytest.raises(ImageError, match="not a readable image"):
        load_image(bad)


def test_zero_byte_file(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.touch()
    with pytest.raises(ImageError, match="empty file"):
        load_image(empty)


def test_non_image_file(tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a picture")
    with pytest.raises(ImageError, match="not a readable image"):
        load_image(text)


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "nope.jpg")


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "I;16", "LA", "CMYK"])
def test_other_modes_read_like_the_rgb_original(tmp_path, mode):
    rgb = Image.open(REAL).convert("RGB")
    if mode == "I;16":
        converted = Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)
    else:
        converted = rgb.convert(mode)
    path = tmp_path / f"plate_{mode.replace(';', '')}.png" if mode != "CMYK" else tmp_path / "plate.tif"
    converted.save(path)
    img = load_image(path)
    assert img.mode == "RGB" and img.size == rgb.size
    grey_expected = np.asarray(rgb.convert("L"), dtype=float)
    grey_read = np.asarray(img.convert("L"), dtype=float)
    # Palette quantisation and 16-bit rescaling change values a little, not the picture.
    assert np.corrcoef(grey_expected.ravel(), grey_read.ravel())[0, 1] > 0.95


def test_tiny_image_is_rejected(tmp_path):
    path = tmp_path / "tiny.png"
    Image.new("RGB", (5, 3)).save(path)
    with pytest.raises(ImageError, match="too small"):
        load_image(path)


def test_huge_image_is_rejected_without_decoding(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("L", (10_000, 6_000)).save(path)
    with pytest.raises(ImageError, match="too large"):
        load_image(path)


def test_large_photo_is_scaled_to_the_model_input(tmp_path):
    path = tmp_path / "big.jpg"
    Image.open(REAL).resize((3000, 800)).save(path)
    assert prepare_crop(load_image(path, (32, 96)), (32, 96)).shape == (32, 96, 3)


def test_double_row_crops_are_joined_into_one_row():
    plate = Image.new("RGB", (220, 110), (230, 180, 0))
    assert is_double_row(plate) and not is_double_row(Image.open(REAL))
    joined = join_rows(plate)
    assert joined.width / joined.height > 3
