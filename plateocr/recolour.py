"""Real blue plates recoloured as the other plate colours, from their own pixels.

Real training and dev data are white characters on blue plates; dark characters on a light plate
otherwise come from the renderer alone. Recolouring a real crop keeps its real glyph shapes, blur,
lighting and framing, and only swaps the two colours: a character mask is taken from the crop's
own brightness, its polarity is flipped, and the background becomes the target plate's colour (a
near-white-to-green vertical gradient for new-energy plates). It is a proxy for real plates of
those colours: the layout stays the 7-character blue one.

>>> import numpy as np
>>> blue = np.zeros((24, 94, 3), np.uint8); blue[...] = (20, 60, 190); blue[8:16, 10:20] = 235
>>> green = recolour(blue, "green")
>>> bool(green[8:16, 10:20].mean() < green[:, 40:].mean())   # characters darker than the plate
True
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

# Target colours (RGB) of the plate and of its characters, as seen on real photos.
PLATE_COLOURS = {
    "green": {"top": (236, 244, 236), "bottom": (88, 190, 110), "characters": (22, 26, 24)},
    "yellow": {"top": (232, 190, 40), "bottom": (226, 180, 30), "characters": (20, 20, 18)},
    "white": {"top": (236, 238, 236), "bottom": (222, 224, 222), "characters": (18, 18, 20)},
}
RECOLOURED = tuple(PLATE_COLOURS)
# Where the character mask saturates: the plate's own level is its median brightness (characters
# cover well under half of a crop), the characters' level a high percentile.
CHARACTER_PERCENTILE = 97
# Lighting (shadows, glare, dirt) is kept by scaling the new colours with the crop's smoothed
# brightness relative to its median, within these bounds so a glare spot does not wash a plate out.
SHADING_RADIUS = 6
SHADING_RANGE = (0.55, 1.25)


def character_mask(crop: np.ndarray) -> np.ndarray:
    """H×W float mask in [0, 1]: 1 on the bright characters of a blue plate, 0 on its background."""
    rgb = crop.astype(np.float32)
    # Blue plates are saturated; white characters are not: min(R, G) separates them better than luma.
    brightness = np.minimum(rgb[..., 0], rgb[..., 1])
    plate = np.median(brightness)
    characters = np.percentile(brightness, CHARACTER_PERCENTILE)
    if characters - plate < 1.0:
        return np.zeros(brightness.shape, np.float32)
    return np.clip((brightness - plate) / (characters - plate), 0.0, 1.0)


def _shading(crop: np.ndarray) -> np.ndarray:
    # A blue plate's blue channel is high on its background and on its white characters alike,
    # so it follows the light without the characters' imprint.
    luma = Image.fromarray(crop[..., 2]).filter(ImageFilter.GaussianBlur(SHADING_RADIUS))
    luma = np.asarray(luma, np.float32)
    return np.clip(luma / max(1.0, float(np.median(luma))), *SHADING_RANGE)[..., None]


def recolour(crop: np.ndarray, colour: str) -> np.ndarray:
    """H×W×3 uint8 crop of a blue plate redrawn as a `colour` plate with dark characters.

    Deterministic: the same crop and colour give the same pixels.
    """
    if colour not in PLATE_COLOURS:
        raise ValueError(f"unknown plate colour {colour!r}: choose one of {', '.join(RECOLOURED)}")
    target = PLATE_COLOURS[colour]
    h = crop.shape[0]
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    background = (1 - t) * np.array(target["top"], np.float32) + t * np.array(target["bottom"], np.float32)
    mask = character_mask(crop)[..., None]
    pixels = mask * np.array(target["characters"], np.float32) + (1 - mask) * background
    return np.clip(pixels * _shading(crop), 0, 255).astype(np.uint8)


def recolour_image(image: Image.Image, colour: str) -> Image.Image:
    return Image.fromarray(recolour(np.asarray(image.convert("RGB")), colour))
