"""Slant correction: shear a crop so the plate's upright strokes stand vertical before reading.

A plate seen from one side looks italic inside its axis-aligned crop, so neighbouring characters
share the CRNN's 4-pixel columns: in cross-validation on plates_dev, crops whose strokes lean more
than 8° were misread 6 times as often as the others (8 % against 1.4 %, ensemble fine-tuned on
crops as they are). The slant is measured where the model looks, on the crop resized to its input
(32 × 96): the gradient-weighted median slope of the near-vertical edges (the characters' and the
plate's sides; diagonal strokes such as A's pull it by up to about 0.07 px per px). The crop is then
sheared about its middle row, its sides extended with their edge pixels, and keeps its size: the
plate was inside the detector's box before the shear and stays inside it. Both steps run on a whole
batch of prepared crops (`deskew_batch`): in torch on a GPU, and on a CPU through a compiled kernel
that gives the same bytes (`deskew_cpu`: 0.06 ms a crop, where torch's many small ops take 0.4 ms
for a single crop). Where worker processes prepare the crops, they deskew each batch too
(`deskew_prepared`); training crops go through the same function.

Cross-validated on plates_dev (three fold splits, four views): the ensemble fine-tuned on crops as
they are read 0.9735 exact (CER 0.0055), 0.9768 (0.0049) reading deskewed crops; fine-tuned on
deskewed crops too, 0.9801 (0.0045); with the sharp member also pre-trained on deskewed synthetic
crops, 0.9818 (0.0039); the shipped recipe, whose synthetic Chinese characters are bolder, 0.9812
(0.0043). A model records in its checkpoint whether it trained on deskewed crops, and PlateReader
deskews its batches for it the same way. See the README.

>>> from PIL import Image, ImageDraw
>>> from plateocr.data.images import prepare_crop
>>> italic = Image.new("RGB", (120, 40), 0)
>>> for x in range(10, 110, 20):   # bars leaning right: 6 px across their 30 px height
...     ImageDraw.Draw(italic).polygon([(x + 6, 5), (x + 12, 5), (x + 6, 35), (x, 35)], fill=(255, 255, 255))
>>> batch = torch.from_numpy(prepare_crop(italic, (32, 96))).permute(2, 0, 1)[None]
>>> 0.15 < float(batch_slant(batch)[0]) < 0.25   # horizontal px per vertical px: 0.2 drawn
True
>>> abs(float(batch_slant(deskew_batch(batch))[0])) < 0.05
True
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .compiled import kernels

# Edges count when their gradient is in the strongest fifth of the crop's and mostly horizontal
# (|gx| > 1.5 |gy|: within 34° of vertical); fewer than MIN_EDGES such pixels is too little to measure.
EDGE_PERCENTILE, MOSTLY_HORIZONTAL, MIN_EDGES = 80, 1.5, 10


def slant(image: Image.Image, input_size: tuple[int, int]) -> float:
    """Horizontal pixels per vertical pixel that the crop's upright strokes lean, measured at
    the model's input size (h, w); positive when their tops lean right."""
    resized = image.convert("RGB").resize(input_size[::-1], Image.Resampling.BILINEAR)
    return float(batch_slant(torch.from_numpy(np.array(resized)).permute(2, 0, 1)[None])[0])


# ITU-R 601 luma, as PIL's convert("L") weighs the channels; slopes in steps of 1/300 px per px;
# edge strengths in quarter grey levels.
LUMA, SLOPE_BINS = (0.299, 0.587, 0.114), 400
STRENGTH_MAX, STRENGTH_BINS = 1024 / 4, 1024


def batch_slant(images: torch.Tensor) -> torch.Tensor:
    """`slant` of every crop in a (B, 3, H, W) batch already at the model's input size: (B,) slopes.

    The strongest fifth and the weighted median are read off histograms (strength in quarter grey
    levels, slopes in SLOPE_BINS bins over the |k| < 1 / MOSTLY_HORIZONTAL an edge can have): one
    pass over the pixels instead of a sort per crop.
    """
    grey = (images.float() * _constant(LUMA, images.device).view(1, 3, 1, 1)).sum(1)  # B, H, W
    gy, gx = _gradient(grey, 1).flatten(1), _gradient(grey, 2).flatten(1)
    strength = torch.hypot(gx, gy)
    threshold = _weighted_quantile(
        strength, torch.ones_like(strength), EDGE_PERCENTILE / 100, 0.0, STRENGTH_MAX, STRENGTH_BINS
    )
    edges = (gx.abs() > MOSTLY_HORIZONTAL * gy.abs()) & (strength > threshold.unsqueeze(1))
    limit = 1.0 / MOSTLY_HORIZONTAL
    # An edge x + k·y = c has gradient (1, k): a top leaning right (x falling with y) gives k > 0.
    slopes = gy / torch.where(edges, gx, torch.ones_like(gx))
    k = _weighted_quantile(slopes, strength * edges, 0.5, -limit, limit, SLOPE_BINS)
    return torch.where(edges.sum(1) >= MIN_EDGES, k, torch.zeros_like(k))


@lru_cache(maxsize=16)
def _constant(values: tuple[float, ...], device: torch.device) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32, device=device)


def _gradient(grey: torch.Tensor, dim: int) -> torch.Tensor:
    """torch.gradient along one dim (central differences inside, one-sided at the borders), in a
    few ops: on one crop on a CPU, torch.gradient's own dozens of small ops cost as much as the rest
    of measuring its slant."""
    n = grey.shape[dim]
    first = grey.narrow(dim, 1, 1) - grey.narrow(dim, 0, 1)
    inside = (grey.narrow(dim, 2, n - 2) - grey.narrow(dim, 0, n - 2)) / 2
    return torch.cat([first, inside, grey.narrow(dim, n - 1, 1) - grey.narrow(dim, n - 2, 1)], dim)


def _weighted_quantile(values, weights, q: float, low: float, high: float, bins: int) -> torch.Tensor:
    """Per row of (B, N) values, the centre of the histogram bin over [low, high] where the
    cumulative weight first reaches q of the row's total."""
    width = (high - low) / bins
    index = ((values - low) / width).long().clamp(0, bins - 1)
    cumulative = torch.zeros(len(values), bins, device=values.device).scatter_add_(1, index, weights).cumsum(1)
    at = torch.searchsorted(cumulative, cumulative[:, -1:] * q).clamp(max=bins - 1).squeeze(1)
    return low + (at.float() + 0.5) * width


@lru_cache(maxsize=16)
def _pixel_centres(n: int, device: torch.device) -> torch.Tensor:
    """The centres of n pixels in grid_sample's [-1, 1] coordinates (align_corners=False)."""
    return (torch.arange(n, device=device, dtype=torch.float32) + 0.5) * (2 / n) - 1


def deskew_prepared(crops: np.ndarray) -> torch.Tensor:
    """`deskew_batch` of (B, H, W, 3) uint8 crops prepared by `images.prepare_crop`: (B, H, W, 3),
    a view of the (B, 3, H, W) tensor the model reads, so handing it over copies nothing."""
    return deskew_batch(torch.from_numpy(crops).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


def load_cpu_kernel() -> Callable[[np.ndarray], np.ndarray] | None:
    """`deskew_cpu.deskew_crops`, or None where numba cannot load it (torch then deskews, to the
    same bytes, slower); see plateocr.data.compiled."""
    loaded = kernels("deskew_cpu")
    return loaded.deskew_crops if loaded is not None else None


def deskew_batch(images: torch.Tensor) -> torch.Tensor:
    """A (B, 3, H, W) batch of crops at the model's input size, each with its slant sheared out
    about its middle row and its sides extended with their edge pixels; same dtype. uint8 crops on
    a CPU go through the compiled kernel (`deskew_cpu`, the same bytes), the rest through torch."""
    kernel = load_cpu_kernel() if images.device.type == "cpu" and images.dtype == torch.uint8 else None
    if kernel is not None:
        return torch.from_numpy(kernel(images.numpy()))
    return deskew_torch(images)


def deskew_torch(images: torch.Tensor) -> torch.Tensor:
    """`deskew_batch` in torch ops, on any device and dtype."""
    b, _, h, w = images.shape
    pixels = images.float()  # one copy for both steps (float input is used as it is)
    k = batch_slant(pixels)
    # Output pixel (x, y) takes input (x - k·(y - h/2), y); in grid_sample's [-1, 1] coordinates
    # that is x_n - k·(h/w)·y_n (built here: affine_grid costs ~30x as much on a CPU).
    ys, xs = _pixel_centres(h, images.device), _pixel_centres(w, images.device)
    grid_x = xs.view(1, 1, w) - (k * h / w).view(b, 1, 1) * ys.view(1, h, 1)
    grid = torch.stack([grid_x, ys.view(1, h, 1).expand(b, h, w)], dim=-1)
    sheared = F.grid_sample(pixels, grid, mode="bilinear", padding_mode="border", align_corners=False)
    # Bilinear weights sum to one, so the result stays within the input's range: rounding is all
    # an integer image needs.
    return sheared.round_().to(images.dtype) if not images.is_floating_point() else sheared
