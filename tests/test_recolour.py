import numpy as np
import pytest
from PIL import Image

from plateocr import SAMPLE_DIR
from plateocr.data.images import load_image
from plateocr.data.recolour import RECOLOURED, character_mask, recolour, recolour_image

CROPS = sorted(SAMPLE_DIR.glob("*.jpg"))[:8]


@pytest.mark.parametrize("colour", RECOLOURED)
def test_recolouring_is_deterministic(colour):
    crop = np.asarray(load_image(CROPS[0]))
    assert np.array_equal(recolour(crop, colour), recolour(crop.copy(), colour))


@pytest.mark.parametrize("colour", RECOLOURED)
def test_recoloured_characters_are_darker_than_their_plate(colour):
    for path in CROPS:
        crop = np.asarray(load_image(path))
        mask = character_mask(crop)
        strokes, plate = mask > 0.8, mask < 0.2
        assert strokes.sum() > 30 and plate.sum() > 30, path.name
        before = crop.astype(float).mean(-1)
        after = recolour(crop, colour).astype(float).mean(-1)
        # Polarity flipped: on the blue original the characters were brighter than the plate.
        assert before[strokes].mean() > before[plate].mean() + 40, path.name
        assert after[strokes].mean() < after[plate].mean() - 60, path.name


def test_green_plates_are_lighter_at_the_top():
    crop = np.asarray(load_image(CROPS[0]))
    green, mask = recolour(crop, "green").astype(float), character_mask(crop)
    top, bottom = (green[y][mask[y] < 0.2] for y in (2, green.shape[0] - 3))
    # Near-white at the top, green at the bottom: red falls the most of the three channels.
    assert top.mean() > bottom.mean() and top[:, 0].mean() > bottom[:, 0].mean() + 40


def test_a_recoloured_image_keeps_its_size_and_label(tmp_path):
    path = CROPS[1]
    out = tmp_path / path.name
    recolour_image(Image.open(path), "yellow").save(out)
    assert Image.open(out).size == Image.open(path).size and out.stem == path.stem


def test_unknown_colour_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown plate colour 'purple'"):
        recolour(np.zeros((24, 94, 3), np.uint8), "purple")
