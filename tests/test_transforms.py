"""Batch augmentation: each plate its own parameters, the documented ranges, geometry that keeps its shape."""
from __future__ import annotations

import math

import pytest
import torch

from plateocr.transforms import BatchAugment

OFF = dict(p_affine=0.0, p_colour=0.0, p_blur=0.0)
ONLY_AFFINE = dict(p_colour=0.0, p_blur=0.0, p_affine=1.0)


def plates(n: int = 64, h: int = 32, w: int = 96) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randint(0, 256, (1, 3, h, w), dtype=torch.uint8).expand(n, 3, h, w).contiguous()


def row_centroid(image: torch.Tensor, column: int) -> float:
    weights = image[0, :, column]
    return float((weights * torch.arange(len(weights))).sum() / weights.sum())


def test_switched_off_it_returns_the_images_unchanged():
    images = plates(8)
    assert torch.allclose(BatchAugment(**OFF)(images), images.float(), atol=1e-3)


def test_each_plate_draws_its_own_parameters_and_a_seed_repeats_them():
    images = plates(16)
    torch.manual_seed(1)
    first = BatchAugment()(images)
    torch.manual_seed(1)
    assert torch.equal(BatchAugment()(images), first)
    distinct = {tuple(p.flatten()[:200].round().tolist()) for p in first}
    assert len(distinct) > 12   # a few plates may draw "unchanged" (p < 1); most differ
    assert first.min() >= 0 and first.max() <= 255


def test_rotation_is_a_rotation_of_the_wide_crop_not_of_a_stretched_square():
    # A horizontal line through the centre, rotated by at most 3 degrees: 40 px from the centre it
    # may move by 40 * tan(3 deg) = 2.1 px. Rotating in the [-1, 1] square instead would move it
    # three times as far on a 3:1 crop.
    line = torch.zeros(64, 3, 32, 96)
    line[:, :, 15:17, :] = 255
    torch.manual_seed(2)
    out = BatchAugment(translate=(0.0, 0.0), scale=(1.0, 1.0), shear=(0.0, 0.0), **ONLY_AFFINE)(line)
    shifts = [abs(row_centroid(p, 8) - 15.5) for p in out]
    assert max(shifts) <= 40 * math.tan(math.radians(3)) + 0.3
    assert max(shifts) > 1.0   # it does rotate


def test_translation_moves_whole_pixels_within_its_fraction_of_the_size():
    dot = torch.zeros(64, 3, 32, 96)
    dot[:, :, 14:18, 46:50] = 255
    torch.manual_seed(3)
    out = BatchAugment(degrees=0.0, scale=(1.0, 1.0), shear=(0.0, 0.0), **ONLY_AFFINE)(dot)
    mass = out[:, 0]
    cx = (mass * torch.arange(96)).sum((1, 2)) / mass.sum((1, 2)) - 47.5
    cy = (mass * torch.arange(32)[:, None]).sum((1, 2)) / mass.sum((1, 2)) - 15.5
    assert cx.abs().max() <= round(0.03 * 96) and cy.abs().max() <= round(0.08 * 32)
    assert torch.allclose(cx, cx.round(), atol=1e-4) and torch.allclose(cy, cy.round(), atol=1e-4)
    assert cx.abs().max() > 1.0 and cy.abs().max() > 1.0


def test_grey_stays_grey_and_brightness_stays_in_range():
    grey = torch.full((64, 3, 32, 96), 100, dtype=torch.uint8)
    torch.manual_seed(4)
    out = BatchAugment(p_affine=0.0, p_blur=0.0, p_colour=1.0)(grey)
    assert (out.amax(1) - out.amin(1)).max() < 0.5   # saturation and hue leave a grey pixel grey
    means = out.mean((1, 2, 3))
    assert means.min() >= 100 * 0.6 - 0.5 and means.max() <= 100 * 1.4 + 0.5
    assert means.std() > 5


@pytest.mark.parametrize("p_blur, changed", [(1.0, True), (0.0, False)])
def test_blur_smooths_an_edge_only_when_drawn(p_blur, changed):
    edge = torch.zeros(4, 3, 32, 96)
    edge[:, :, :, 48:] = 255
    out = BatchAugment(p_affine=0.0, p_colour=0.0, p_blur=p_blur, blur_sigma=(0.8, 1.0))(edge)
    assert bool((out[:, :, :, 47] > 10).all()) is changed
    assert torch.allclose(out.mean(), edge.mean(), atol=1e-3)   # a normalised kernel keeps the mean
