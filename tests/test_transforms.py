"""Batch augmentation: each plate its own parameters, the documented ranges, geometry that keeps its shape."""

from __future__ import annotations

import math

import pytest
import torch

from plateocr.data.transforms import BatchAugment

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
    assert len(distinct) > 12  # a few plates may draw "unchanged" (p < 1); most differ
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
    assert max(shifts) > 1.0  # it does rotate


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
    assert (out.amax(1) - out.amin(1)).max() < 0.5  # saturation and hue leave a grey pixel grey
    means = out.mean((1, 2, 3))
    assert means.min() >= 100 * 0.6 - 0.5 and means.max() <= 100 * 1.4 + 0.5
    assert means.std() > 5


@pytest.mark.parametrize("p_blur, changed", [(1.0, True), (0.0, False)])
def test_blur_smooths_an_edge_only_when_drawn(p_blur, changed):
    edge = torch.zeros(4, 3, 32, 96)
    edge[:, :, :, 48:] = 255
    out = BatchAugment(p_affine=0.0, p_colour=0.0, p_blur=p_blur, blur_sigma=(0.8, 1.0))(edge)
    assert bool((out[:, :, :, 47] > 10).all()) is changed
    assert torch.allclose(out.mean(), edge.mean(), atol=1e-3)  # a normalised kernel keeps the mean


def _plate_on_black(n: int = 16) -> torch.Tensor:
    """A bright plate filling the whole crop: how much of the crop it covers after a warp shows the box."""
    return torch.full((n, 3, 32, 96), 200, dtype=torch.uint8)


def test_a_loose_box_shrinks_the_plate_inside_a_surround_that_repeats_its_border():
    images = _plate_on_black()
    images[:, :, 12:20, 40:56] = 30  # a dark mark in the middle of the plate
    torch.manual_seed(0)
    out = BatchAugment(**OFF, p_loose=1.0, loose_margin=(0.2, 0.3))(images)
    dark = (out[:, 0] < 100).float()
    # The mark shrinks by 1 / (1 + left + right) between 1/1.6 and 1/1.4 horizontally.
    widths = dark.sum(-1).amax(-1)
    assert torch.all(widths < 16 / 1.35) and torch.all(widths > 16 / 1.7), widths
    assert torch.allclose(out[:, :, 0, 0], torch.full((16, 3), 200.0))  # border smeared, not black


def test_detector_rotation_turns_the_plate_and_keeps_it_in_the_box():
    images = torch.zeros((8, 3, 32, 96), dtype=torch.uint8)
    images[:, :, 14:18, :] = 255  # a horizontal bar across the plate
    torch.manual_seed(1)
    out = BatchAugment(**OFF, p_rotate=1.0, rotate_degrees=10.0)(images)
    drops = []
    for plate in out:
        rows = plate[0].float()
        left, right = [float((rows[:, c] * torch.arange(32)).sum() / rows[:, c].sum()) for c in (20, 75)]
        drops.append(abs(left - right))
    # Angles are drawn in ±10°: at 10° the bar falls ~7 px over these 55 columns, at 2° ~1.4 px.
    assert sum(d > 1.0 for d in drops) >= 6 and max(drops) < 8.0, drops
    assert out[:, 0, 15, 48].min() > 200  # the plate's centre stays in the middle of the box


def test_low_resolution_loses_fine_detail():
    images = plates(8)
    torch.manual_seed(0)
    out = BatchAugment(**OFF, p_lowres=1.0)(images)
    detail = lambda x: x.float().diff(dim=-1).abs().mean()
    assert detail(out) < 0.7 * detail(images)


def test_detector_crops_preset_switches_on_the_detector_draws():
    preset = BatchAugment.detector_crops()
    assert preset.p_loose > 0 and preset.p_rotate > 0 and preset.p_lowres > 0
    assert BatchAugment().p_loose == BatchAugment().p_rotate == BatchAugment().p_lowres == 0


def test_a_wider_blur_spreads_an_edge_further_than_a_narrow_one():
    edge = torch.zeros(4, 3, 32, 96)
    edge[:, :, :, 48:] = 255
    narrow = BatchAugment(**{**OFF, "p_blur": 1.0}, blur_sigma=(1.0, 1.0))(edge)
    wide = BatchAugment(**{**OFF, "p_blur": 1.0}, blur_sigma=(2.0, 2.0))(edge)
    assert float(narrow[0, 0, 0, 46]) < 1.0  # a 3-tap kernel reaches one column
    assert float(wide[0, 0, 0, 46]) > 10 and float(wide[0, 0, 0, 45]) > 1.0
    assert torch.allclose(wide.mean(), edge.mean(), atol=1e-3)


def test_jpeg_compression_changes_only_the_drawn_plates_and_repeats_for_a_seed():
    images = plates(8)
    torch.manual_seed(3)
    first = BatchAugment(**OFF, p_jpeg=1.0, jpeg_quality=(10, 10))(images)
    torch.manual_seed(3)
    again = BatchAugment(**OFF, p_jpeg=1.0, jpeg_quality=(10, 10))(images)
    assert torch.equal(first, again)
    assert first.shape == images.shape and first.min() >= 0 and first.max() <= 255
    # Random pixels cannot survive quality 10: the compressed plates lose most of their detail.
    assert (first - images.float()).abs().mean() > 20
    untouched = BatchAugment(**OFF, p_jpeg=0.0)(images)
    assert torch.allclose(untouched, images.float(), atol=1e-3)


def test_training_presets_combine_detector_and_degraded_draws():
    plain, detector = BatchAugment.for_training(), BatchAugment.for_training(detector_crops=True)
    degraded = BatchAugment.for_training(degraded_crops=True)
    both = BatchAugment.for_training(detector_crops=True, degraded_crops=True)
    assert plain == BatchAugment() and detector == BatchAugment.detector_crops()
    assert degraded.p_jpeg > 0 and degraded.p_lowres > 0 and degraded.blur_sigma[1] > plain.blur_sigma[1]
    assert degraded.p_loose == degraded.p_rotate == 0  # the plate stays where it is
    assert both.p_loose > 0 and both.p_jpeg > 0 and both.blur_sigma == degraded.blur_sigma


def test_the_degraded_share_scales_how_often_low_resolution_and_jpeg_are_drawn():
    usual = BatchAugment.for_training(degraded_crops=True)
    doubled = BatchAugment.for_training(degraded_crops=True, degraded_share=2.0)
    assert doubled.p_lowres == 2 * usual.p_lowres and doubled.p_jpeg == 2 * usual.p_jpeg
    assert doubled.blur_sigma == usual.blur_sigma and doubled.p_blur == usual.p_blur
    assert BatchAugment.for_training(degraded_crops=True, degraded_share=100.0).p_jpeg == 1.0
    # With detector crops too, low resolution is drawn at the larger of the two rates.
    both = BatchAugment.for_training(detector_crops=True, degraded_crops=True)
    assert both.p_lowres == BatchAugment.detector_crops().p_lowres
    tripled = BatchAugment.for_training(detector_crops=True, degraded_crops=True, degraded_share=3.0)
    assert tripled.p_lowres == 3 * usual.p_lowres > both.p_lowres and tripled.p_jpeg == 3 * usual.p_jpeg
    # Without degraded crops the share has nothing to scale.
    assert BatchAugment.for_training(degraded_share=2.0) == BatchAugment()
