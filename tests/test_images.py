"""Reading crops of every kind, and clear errors for files that are not crops."""

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from plateocr import SAMPLE_DIR
from plateocr.data.images import is_double_row, join_rows, load_image, prepare_crop, row_split
from plateocr.errors import ImageError

REAL = SAMPLE_DIR / "苏E7R5Y0.jpg"


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


@pytest.mark.parametrize("gap", [(30, 40), (44, 52)])
def test_double_row_plates_are_split_in_the_gap_between_their_rows(gap):
    """Upright bars for characters: two in the upper row, five in the lower, the gap between them
    placed where a detector's margin would put it."""
    plate = Image.new("RGB", (220, 110), (230, 180, 0))
    draw = ImageDraw.Draw(plate)
    for x in (80, 130):
        draw.rectangle((x, 6, x + 8, gap[0]), fill=(10, 10, 10))
    for x in range(15, 200, 40):
        draw.rectangle((x, gap[1], x + 10, 104), fill=(10, 10, 10))
    assert gap[0] < row_split(plate) < gap[1]


def test_the_upper_row_keeps_the_bottom_of_its_characters(monkeypatch):
    """A split found on the last rows of the upper characters still leaves their bottom in the joined row."""
    from plateocr.data import images

    plate = Image.new("RGB", (220, 110), (230, 180, 0))
    ImageDraw.Draw(plate).rectangle((80, 6, 88, 43), fill=(10, 10, 10))  # an upper character, rows 6-43
    monkeypatch.setattr(images, "row_split", lambda image: 42)
    joined = np.asarray(join_rows(plate).convert("L"), dtype=float)
    # The upper crop (columns 44-175) is scaled to the lower row's 68 rows: the bar is at columns ~53-65.
    bar = joined[:, 55:63]
    assert bar[len(bar) // 2].mean() < 60 and bar[-1].mean() > 150


SMALLEST = min(SAMPLE_DIR.glob("*.jpg"), key=lambda p: p.stat().st_size)


def damaged_copies(source: Path, n_flips: int = 200, seed: int = 0):
    """(name, bytes) of every truncation of `source` and of `n_flips` copies with 1-4 random bytes changed."""
    data = source.read_bytes()
    for cut in range(len(data)):
        yield f"cut{cut:05d}", data[:cut]
    rng = random.Random(seed)
    for k in range(n_flips):
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        yield f"flip{k:03d}", bytes(flipped)


def test_every_truncation_and_byte_flip_of_a_real_jpeg_is_an_image_or_an_image_error(tmp_path):
    """Fuzzing the decoder: every prefix of a real 2 kB JPEG (each byte position) and random byte
    flips; each either decodes to an RGB image or raises ImageError naming the file."""
    outcomes = {"image": 0, "error": 0}
    for name, data in damaged_copies(SMALLEST):
        path = tmp_path / f"{name}.jpg"
        path.write_bytes(data)
        try:
            image = load_image(path)
        except ImageError as exc:
            assert str(exc).startswith(str(path)), exc
            outcomes["error"] += 1
        else:
            assert image.mode == "RGB" and min(image.size) >= 8
            outcomes["image"] += 1
        path.unlink()
    assert outcomes["error"] >= SMALLEST.stat().st_size - 2  # a cut JPEG is never decoded as whole
    assert outcomes["image"] > 0  # most flips leave a decodable picture


@pytest.mark.slow
def test_importing_plateocr_leaves_pils_global_settings_alone():
    code = (
        "from PIL import ImageFile; ImageFile.LOAD_TRUNCATED_IMAGES = True; import plateocr.data.images, "
        "plateocr.reading.reader; print(ImageFile.LOAD_TRUNCATED_IMAGES)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "True", proc.stderr[-2000:]
