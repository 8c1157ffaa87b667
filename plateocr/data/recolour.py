"""Real blue plates recoloured as the other plate colours, from their own pixels.

Real training and dev data are white characters on blue plates; dark characters on a light plate
otherwise come from the renderer alone. Recolouring a real crop keeps its real glyph shapes, blur,
lighting and framing, and only swaps the two colours: a character mask is taken from the crop's
own brightness, its polarity is flipped, and the background becomes the target plate's colour (a
near-white-to-green vertical gradient for new-energy plates). As a dev set it is a proxy for real
plates of those colours (the layout stays the 7-character blue one); in training it teaches real
glyph shapes in both polarities. One implementation serves both: whole batches in torch.

>>> import numpy as np
>>> blue = np.zeros((24, 94, 3), np.uint8); blue[...] = (20, 60, 190); blue[8:16, 10:20] = 235
>>> green = recolour(blue, "green")
>>> bool(green[8:16, 10:20].mean() < green[:, 40:].mean())   # characters darker than the plate
True
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

# Target colours (RGB) of the plate (top and bottom of a vertical gradient) and of its characters.
PLATE_COLOURS = {
    "green": {"top": (236, 244, 236), "bottom": (88, 190, 110), "characters": (22, 26, 24)},
    "yellow": {"top": (232, 190, 40), "bottom": (226, 180, 30), "characters": (20, 20, 18)},
    "white": {"top": (236, 238, 236), "bottom": (222, 224, 222), "characters": (18, 18, 20)},
}
RECOLOURED = tuple(PLATE_COLOURS)
# Where the character mask saturates: the plate's own level is its median brightness (characters
# cover well under half of a crop), the characters' level a high percentile.
CHARACTER_QUANTILE = 0.97
# Lighting (shadows, glare, dirt) is kept by scaling the new colours with the crop's smoothed
# brightness relative to its median, within these bounds so a glare spot does not wash a plate out.
# The sigma is a quarter of a 24-px crop's height, scaled with the crop.
SHADING_SIGMA_PER_HEIGHT = 0.25
SHADING_RANGE = (0.55, 1.25)


def _per_image_quantile(x: torch.Tensor, q: float) -> torch.Tensor:
    return torch.quantile(x.flatten(1), q, dim=1)[:, None, None]


def character_mask_batch(images: torch.Tensor) -> torch.Tensor:
    """B×H×W mask in [0, 1] of float RGB images B×3×H×W (0-255): 1 on a blue plate's bright characters."""
    # Blue plates are saturated, white characters are not: min(R, G) separates them better than luma.
    brightness = torch.minimum(images[:, 0], images[:, 1])
    plate = _per_image_quantile(brightness, 0.5)
    characters = _per_image_quantile(brightness, CHARACTER_QUANTILE)
    span = characters - plate
    mask = ((brightness - plate) / span.clamp_min(1.0)).clamp(0.0, 1.0)
    return torch.where(span >= 1.0, mask, torch.zeros_like(mask))


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = max(1, int(3 * sigma))
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device) / sigma) ** 2)
    taps = taps / taps.sum()
    x = F.pad(x[:, None], (radius, radius, radius, radius), mode="replicate")
    x = F.conv2d(x, taps.view(1, 1, 1, -1))
    return F.conv2d(x, taps.view(1, 1, -1, 1))[:, 0]


def _shading(images: torch.Tensor) -> torch.Tensor:
    # A blue plate's blue channel is high on its background and on its white characters alike,
    # so it follows the light without the characters' imprint.
    light = _gaussian_blur(images[:, 2], SHADING_SIGMA_PER_HEIGHT * images.shape[2])
    return (light / _per_image_quantile(light, 0.5).clamp_min(1.0)).clamp(*SHADING_RANGE)


def recolour_batch(images: torch.Tensor, colours: list[str]) -> torch.Tensor:
    """Float B×3×H×W blue-plate images (0-255) redrawn as plates of `colours` (one name per image)."""
    unknown = sorted(set(colours) - set(PLATE_COLOURS))
    if unknown:
        raise ValueError(f"unknown plate colour {unknown[0]!r}: choose one of {', '.join(RECOLOURED)}")
    table = lambda part: torch.tensor(
        [PLATE_COLOURS[c][part] for c in colours], dtype=images.dtype, device=images.device
    )[:, :, None, None]
    h = images.shape[2]
    t = torch.linspace(0.0, 1.0, h, dtype=images.dtype, device=images.device)[None, None, :, None]
    background = (1 - t) * table("top") + t * table("bottom")
    mask = character_mask_batch(images)[:, None]
    pixels = mask * table("characters") + (1 - mask) * background
    return (pixels * _shading(images)[:, None]).clamp(0, 255)


def _as_batch(crop: np.ndarray) -> torch.Tensor:
    return torch.tensor(crop, dtype=torch.float32).permute(2, 0, 1)[None]  # a copy: crops may be read-only


def character_mask(crop: np.ndarray) -> np.ndarray:
    """H×W float mask of an H×W×3 uint8 crop (see character_mask_batch)."""
    return character_mask_batch(_as_batch(crop))[0].numpy()


def recolour(crop: np.ndarray, colour: str) -> np.ndarray:
    """H×W×3 uint8 crop of a blue plate redrawn as a `colour` plate with dark characters.

    Deterministic: the same crop and colour give the same pixels.
    """
    return recolour_batch(_as_batch(crop), [colour])[0].round().to(torch.uint8).permute(1, 2, 0).numpy()


def recolour_image(image: Image.Image, colour: str) -> Image.Image:
    return Image.fromarray(recolour(np.asarray(image.convert("RGB")), colour))


def recolour_blue_plates(
    images: torch.Tensor, plate_types: torch.Tensor, p: float, blue: int, type_of_colour: dict[str, int]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Training batches: each blue plate redrawn, with probability p, as a green, yellow or white one
    (drawn from torch's global RNG), and its plate-type target changed to match what it now shows.
    Also returns the indices of the redrawn rows (on the images' device)."""
    chosen = torch.nonzero((plate_types.cpu() == blue) & (torch.rand(len(plate_types)) < p)).flatten()
    if not len(chosen):
        return images, plate_types, chosen.to(images.device)
    colours = [RECOLOURED[i] for i in torch.randint(len(RECOLOURED), (len(chosen),)).tolist()]
    images, plate_types = images.float().clone(), plate_types.clone()
    idx = chosen.to(images.device)
    images[idx] = recolour_batch(images[idx], colours)
    plate_types[idx] = torch.tensor([type_of_colour[c] for c in colours], device=plate_types.device)
    return images, plate_types, idx
