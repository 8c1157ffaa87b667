"""Training-time augmentation of batches of prepared crops (B×3×H×W, 0–255), on the training device.

The synthetic renderer already degrades its plates; these augmentations add the variation real
crops from a detector have: slightly off boxes, small rotation and shear, light, blur. Each plate
draws its own parameters, but the whole batch is warped, recoloured and blurred in a few tensor
ops: per-plate torchvision transforms cost 0.56 ms a crop on a CPU core, about a third of a
training step of the wide CRNN.

>>> images = torch.full((4, 3, 32, 96), 128, dtype=torch.uint8)
>>> out = BatchAugment()(images)
>>> tuple(out.shape), out.dtype, bool(out.min() >= 0 and out.max() <= 255)
((4, 3, 32, 96), torch.float32, True)
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

# Rec. 601 luma, as torchvision's grayscale; the YIQ chroma axes for a hue rotation.
LUMA = (0.299, 0.587, 0.114)
RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
YIQ_TO_RGB = torch.linalg.inv(RGB_TO_YIQ)


def _grid_theta(forward: torch.Tensor, shift: torch.Tensor, w: int, h: int) -> torch.Tensor:
    """affine_grid's (B, 2, 3) matrices for a warp `forward` (B, 2, 2) followed by a move `shift`
    (B, 2), both in pixels about the crop's centre (so a rotation stays a rotation on a 3:1 crop):
    affine_grid maps output to input positions in [-1, 1] units, so the warp is inverted, then rescaled."""
    half = torch.tensor([w / 2, h / 2], device=forward.device)
    inverse = torch.linalg.inv(forward)
    return torch.cat(
        [inverse * half[None, None, :] / half[None, :, None], (-inverse @ shift[:, :, None]) / half[None, :, None]], 2
    )


@dataclass(frozen=True)
class BatchAugment:
    """Random affine (p_affine), colour jitter (p_colour) and Gaussian blur (p_blur), per plate;
    optionally the crops a detector cuts: loose boxes (p_loose), rotated plates (p_rotate), low
    resolution (p_lowres) and JPEG compression (p_jpeg); see `detector_crops`, `degraded_crops`."""

    degrees: float = 3.0
    translate: tuple[float, float] = (0.03, 0.08)  # fraction of width, of height
    scale: tuple[float, float] = (0.9, 1.06)
    shear: tuple[float, float] = (4.0, 2.0)  # degrees along x, along y
    p_affine: float = 0.7
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.4
    hue: float = 0.02  # fraction of a turn: plate colours keep their type
    p_colour: float = 0.8
    blur_sigma: tuple[float, float] = (0.1, 1.0)
    p_blur: float = 0.3
    p_loose: float = 0.0
    loose_margin: tuple[float, float] = (0.02, 0.3)  # each side, as a fraction of the plate's size
    p_rotate: float = 0.0
    rotate_degrees: float = 10.0  # the box is then the one around the turned plate
    p_lowres: float = 0.0
    lowres_factors: tuple[int, ...] = (2, 3)  # downsampled by one of these, then read back up
    p_jpeg: float = 0.0
    jpeg_quality: tuple[int, int] = (15, 60)
    # Scaled by this before compressing, so the 8-pixel JPEG blocks are as coarse, relative to the
    # plate, as in photos where the plate is smaller than the model's input.
    jpeg_scale: tuple[float, float] = (0.6, 1.0)

    @classmethod
    def detector_crops(cls) -> BatchAugment:
        """The standard draws plus what off-the-shelf detectors hand over: margins of up to 30 %,
        in-plane rotation up to 10°, half and third resolution."""
        return cls(p_loose=0.4, p_rotate=0.25, p_lowres=0.2)

    @classmethod
    def degraded_crops(cls, share: float = 1.0) -> BatchAugment:
        """The standard draws plus the degradations of real detector crops, without moving the
        plate: half and third resolution (10 % of plates), blur up to σ 1.6 (a 94 × 24 crop's σ 1.2
        once read at the model's 32 rows) and JPEG quality down to 15 (15 %); `share` scales the
        two rates."""
        return cls(blur_sigma=(0.1, 1.6), p_lowres=min(1.0, 0.1 * share), p_jpeg=min(1.0, 0.15 * share))

    @classmethod
    def for_training(
        cls, detector_crops: bool = False, degraded_crops: bool = False, degraded_share: float = 1.0
    ) -> BatchAugment:
        """The augmentation a training run asks for: `detector_crops` moves and turns the plate in
        its box; `degraded_crops` adds stronger blur and JPEG (both: the two together), at
        `degraded_share` times their usual rates."""
        if not degraded_crops:
            return cls.detector_crops() if detector_crops else cls()
        degraded = cls.degraded_crops(degraded_share)
        if not detector_crops:
            return degraded
        detector = cls.detector_crops()
        return replace(
            detector,
            blur_sigma=degraded.blur_sigma,
            p_jpeg=degraded.p_jpeg,
            p_lowres=max(detector.p_lowres, degraded.p_lowres),
        )

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """Augmented float copies of uint8-range `images`; draws from torch's global RNG (seeded runs repeat)."""
        x = self._colour(self.geometry(images))
        x = self._blur(x)
        if self.p_lowres:
            x = self._lowres(x)
        x = x.clamp_(0, 255)
        if self.p_jpeg:
            x = self._jpeg(x)
        return x

    def geometry(self, images: torch.Tensor) -> torch.Tensor:
        """Float copies of `images` moved, turned and warped as `__call__` from the same RNG state
        moves them (its first draws), without its light, blur and degradations."""
        x = images.float()
        if self.p_loose or self.p_rotate:
            x = self._detector_box(x)
        return self._affine(x)

    def _detector_box(self, x: torch.Tensor) -> torch.Tensor:
        """The plate as an axis-aligned box around it shows it: with margins, and turned in-plane,
        resized back to the crop's size (as a reader resizes any box). The surround smears the
        plate's border outwards (no characters in it)."""
        b, _, h, w = x.shape
        margins = torch.where(
            (torch.rand(b) < self.p_loose)[:, None],
            torch.rand(b, 4) * (self.loose_margin[1] - self.loose_margin[0]) + self.loose_margin[0],
            torch.zeros(b, 4),
        )
        angle = torch.deg2rad(self._draw(b, -self.rotate_degrees, self.rotate_degrees, self.p_rotate, 0.0, "cpu"))
        cos, sin = torch.cos(angle), torch.sin(angle)
        left, top, right, bottom = margins.unbind(1)
        # Output = diag(kx, ky) · R(angle) · plate: the turned plate's bounding box, margins and all,
        # squeezed into w × h.
        kx = 1 / ((1 + left + right) * (cos + h / w * sin.abs()))
        ky = 1 / ((1 + top + bottom) * (w / h * sin.abs() + cos))
        # The plate's centre sits (left - right) / 2 plate widths right of the box's.
        centre = torch.stack(
            [(left - right) / 2 / (1 + left + right) * w, (top - bottom) / 2 / (1 + top + bottom) * h], 1
        )
        rotate = torch.stack([cos, -sin, sin, cos], 1).view(b, 2, 2)
        forward = torch.stack([kx, ky], 1)[:, :, None] * rotate
        theta = _grid_theta(forward, centre, w, h).to(x.device)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def _lowres(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        choice = torch.randint(len(self.lowres_factors), (b,))
        applied = torch.rand(b) < self.p_lowres
        out = x.clone()
        for i, factor in enumerate(self.lowres_factors):
            idx = torch.nonzero(applied & (choice == i)).flatten().to(x.device)
            if len(idx):
                small = F.interpolate(x[idx], size=(max(4, h // factor), max(4, w // factor)), mode="area")
                out[idx] = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
        return out

    def _jpeg(self, x: torch.Tensor) -> torch.Tensor:
        """Each drawn plate JPEG-compressed at its own quality and scale (Pillow's libjpeg, on the CPU)."""
        b, _, h, w = x.shape
        applied = torch.nonzero(torch.rand(b) < self.p_jpeg).flatten().tolist()
        quality = torch.randint(self.jpeg_quality[0], self.jpeg_quality[1] + 1, (b,)).tolist()
        scale = (torch.rand(b) * (self.jpeg_scale[1] - self.jpeg_scale[0]) + self.jpeg_scale[0]).tolist()
        out = x.clone()
        for i in applied:
            size = (max(8, round(h * scale[i])), max(8, round(w * scale[i])))
            small = F.interpolate(x[i : i + 1], size=size, mode="area").round_().clamp_(0, 255)
            buffer = io.BytesIO()
            Image.fromarray(small[0].permute(1, 2, 0).to("cpu", torch.uint8).numpy()).save(
                buffer, "JPEG", quality=quality[i]
            )
            decoded = torch.from_numpy(np.array(Image.open(buffer).convert("RGB"))).permute(2, 0, 1)
            out[i] = F.interpolate(
                decoded[None].to(x.device, x.dtype), size=(h, w), mode="bilinear", align_corners=False
            )[0]
        return out

    def _draw(self, n: int, low: float, high: float, p: float, identity: float, device) -> torch.Tensor:
        """n values uniform in [low, high], each left at `identity` with probability 1 - p."""
        values = torch.rand(n) * (high - low) + low
        return torch.where(torch.rand(n) < p, values, torch.full((n,), identity)).to(device)

    def _affine(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        applied = (torch.rand(b) < self.p_affine).to(x.device)
        d = lambda limit: self._draw(b, -limit, limit, 1.0, 0.0, x.device)
        angle, shear_x, shear_y = (torch.deg2rad(d(v)) for v in (self.degrees, *self.shear))
        # Whole-pixel shifts and nearest-pixel sampling, as torchvision's RandomAffine: bilinear
        # resampling at fractional offsets blurs 70 % of the crops: trained that way, the recipe's wide
        # model read 0.940 of plates_dev in 5-fold CV (0.950 with these warps, 0.957 with torchvision's).
        tx, ty = d(self.translate[0] * w).round(), d(self.translate[1] * h).round()
        scale = self._draw(b, *self.scale, 1.0, 1.0, x.device)
        rotate = torch.stack([torch.cos(angle), -torch.sin(angle), torch.sin(angle), torch.cos(angle)], 1)
        shear = torch.stack([torch.ones_like(angle), torch.tan(shear_x), torch.tan(shear_y), torch.ones_like(angle)], 1)
        forward = scale[:, None, None] * rotate.view(b, 2, 2) @ shear.view(b, 2, 2)
        theta = _grid_theta(forward, torch.stack([tx, ty], 1), w, h)
        identity = torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], device=x.device).expand(b, 2, 3)
        theta = torch.where(applied[:, None, None], theta, identity)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)

    def _colour(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        applied = torch.rand(b) < self.p_colour
        factor = lambda spread: torch.where(applied, torch.rand(b) * 2 * spread + 1 - spread, torch.ones(b)).to(
            x.device
        )[:, None, None, None]
        brightness, contrast, saturation = factor(self.brightness), factor(self.contrast), factor(self.saturation)
        hue = torch.where(applied, (torch.rand(b) * 2 - 1) * self.hue, torch.zeros(b)).to(x.device)
        luma = torch.tensor(LUMA, device=x.device).view(1, 3, 1, 1)
        x = (x * brightness).clamp(0, 255)
        mean = (x * luma).sum(1, keepdim=True).mean((2, 3), keepdim=True)
        x = ((x - mean) * contrast + mean).clamp(0, 255)
        gray = (x * luma).sum(1, keepdim=True)
        x = ((x - gray) * saturation + gray).clamp(0, 255)
        # Hue: rotate the chroma plane of YIQ by the drawn fraction of a turn.
        turn = 2 * math.pi * hue
        cos, sin, zero, one = torch.cos(turn), torch.sin(turn), torch.zeros_like(turn), torch.ones_like(turn)
        rotate = torch.stack([one, zero, zero, zero, cos, -sin, zero, sin, cos], 1).view(b, 3, 3)
        mix = YIQ_TO_RGB.to(x.device) @ rotate @ RGB_TO_YIQ.to(x.device)
        return torch.einsum("bij,bjhw->bihw", mix, x)

    def _blur(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        sigma = self._draw(b, *self.blur_sigma, self.p_blur, 0.0, x.device)
        # Taps of a Gaussian out to 2 sigma (3 taps up to sigma 1); sigma 0 (not blurred) gives
        # the identity kernel (0, 1, 0).
        radius = max(1, math.ceil(2 * self.blur_sigma[1]) - 1)
        offsets = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
        taps = torch.exp(-0.5 * offsets[None, :] ** 2 / sigma.clamp_min(1e-6)[:, None] ** 2)
        taps = torch.where((sigma > 0)[:, None], taps, (offsets == 0).to(x.dtype)[None, :])
        taps = (taps / taps.sum(1, keepdim=True)).repeat_interleave(c, 0)  # one kernel per channel
        padded = F.pad(x.reshape(1, b * c, h, w), (radius,) * 4, mode="reflect")
        rows = F.conv2d(padded, taps.view(b * c, 1, 1, -1), groups=b * c)
        return F.conv2d(rows, taps.view(b * c, 1, -1, 1), groups=b * c).view(b, c, h, w)
