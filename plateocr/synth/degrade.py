"""How a clean synthetic plate becomes a CCPD-like crop: wear, mounting, camera, sensor, JPEG.

CCPD crops are axis-aligned boxes around plates seen at an angle, resized to a fixed size (94x24 in
LPRNet's share), so the plate is often tilted inside its box with car body in the corners, cut at
the top or bottom, stretched sideways, blurred, tinted and JPEG-blocky. Each step here draws its
strength from the sample's own generator, so a seed still fixes the image.

>>> from PIL import Image
>>> crop = degrade(Image.new("RGB", (220, 70), (15, 75, 190)), np.random.default_rng(0))
>>> crop.mode, 90 <= crop.width <= 150
('RGB', True)
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..geometry import homography, pil_perspective

# Single-row crops keep width/height above images.DOUBLE_ROW_MAX_ASPECT (2.5), double-row below.
SINGLE_ASPECT, DOUBLE_ASPECT = (2.8, 4.3), (1.6, 2.3)
MOTION_KERNEL = [0.0] * 10 + [0.2] * 5 + [0.0] * 10  # 5x5, horizontal: a car moving past


def degrade(plate: Image.Image, rng: np.random.Generator, double_row: bool = False) -> Image.Image:
    """A low-resolution crop of `plate` (drawn at about 0.5 px/mm) as a detector would cut it."""
    plate = _wear(plate, rng)
    canvas, offset, background = _mount(plate, rng)
    crop = _camera(canvas, offset, plate.size, background, rng, double_row)
    return _sensor(crop, rng)


def _wear(plate: Image.Image, rng) -> Image.Image:
    """Rivets holding the plate and patches of dirt on it."""
    plate = plate.copy()
    w, h = plate.size
    draw = ImageDraw.Draw(plate)
    if rng.random() < 0.4:
        r = h * 0.035
        colour = tuple(int(v) for v in rng.uniform(60, 200, 3))
        for x in (rng.uniform(0.2, 0.3), rng.uniform(0.7, 0.8)):
            for y in (0.09, 0.91) if rng.random() < 0.5 else (0.09,):
                draw.ellipse((x * w - r, y * h - r, x * w + r, y * h + r), fill=colour)
    if rng.random() < 0.25:
        for _ in range(rng.integers(1, 5)):
            x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(1, h * 0.15)
            grime = tuple(int(v) for v in rng.uniform(40, 120) * np.array([1.0, 0.9, 0.75]))
            layer = Image.new("L", plate.size, 0)
            ImageDraw.Draw(layer).ellipse((x - r, y - r * 0.6, x + r, y + r * 0.6), fill=int(rng.uniform(60, 170)))
            plate.paste(grime, (0, 0), layer.filter(ImageFilter.BoxBlur(max(1.0, r / 3))))
    return plate


def _mount(plate: Image.Image, rng):
    """The plate on a car: a smooth body-colour field, sometimes a plate holder around it."""
    w, h = plate.size
    pad_x, pad_y = int(0.12 * w) + 4, int(0.5 * h) + 4
    size = (w + 2 * pad_x, h + 2 * pad_y)
    # Car paint is mostly grey, black, white or silver; shading varies, its hue hardly does.
    base = rng.uniform(10, 230) * rng.uniform(0.85, 1.15, 3)
    shade = rng.normal(0, rng.uniform(5, 50), (3, 4, 1)) + rng.normal(0, 6, (3, 4, 3))
    field = np.clip(base + shade, 0, 255).astype(np.uint8)
    canvas = Image.fromarray(field).resize(size, Image.Resampling.BILINEAR)
    if rng.random() < 0.45:  # plate holder: black plastic or chrome
        t = rng.uniform(0.03, 0.12) * h
        holder = tuple(int(v) for v in (rng.uniform(10, 50, 3) if rng.random() < 0.7 else rng.uniform(140, 210, 3)))
        ImageDraw.Draw(canvas).rectangle((pad_x - t, pad_y - t, pad_x + w + t, pad_y + h + t), fill=holder)
    canvas.paste(plate, (pad_x, pad_y))
    return canvas, (pad_x, pad_y), tuple(int(v) for v in np.clip(base, 0, 255))


def _camera(canvas: Image.Image, offset, plate_size, background, rng, double_row: bool) -> Image.Image:
    """View the plate at an angle, cut the detector's box around it and resize it to crop size."""
    w, h = plate_size
    corners = np.array([[-w, -h], [w, -h], [w, h], [-w, h]], float) / 2
    # Where the plate's corners land in the photo: rotation, the italic look of a camera to one
    # side, one end nearer than the other, and a little corner-by-corner jitter.
    spread = 2.0 if double_row else (8.0 if rng.random() < 0.2 else 3.0)  # a fifth steeply tilted
    angle = np.deg2rad(np.clip(rng.normal(0, spread), -15, 15))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shear = np.array([[1, rng.normal(0, 0.12)], [rng.normal(0, 0.03), 1]])
    photo = corners @ (rot @ shear).T
    photo[:, 1] *= 1 + rng.normal(0, 0.04) * np.sign(corners[:, 0])
    photo += rng.normal(0, 0.012, (4, 2)) * [w, h]
    # The detector's box: the plate's bounding box, loose or cutting into the plate a little (never
    # into the characters: 15 mm of margin at the sides, 25 mm above and below, 15 mm on rear plates).
    cut_y = -0.03 if double_row else -0.10
    x0, y0 = photo.min(0) - [rng.uniform(-0.03, 0.06) * w, rng.uniform(cut_y, 0.12) * h]
    x1, y1 = photo.max(0) + [rng.uniform(-0.03, 0.06) * w, rng.uniform(cut_y, 0.12) * h]
    # Crops are resized to a fixed shape whatever the box's, so the aspect is drawn on its own.
    out_w = int(rng.integers(80, 131) if double_row else rng.integers(94, 141))
    out_h = round(out_w / rng.uniform(*(DOUBLE_ASPECT if double_row else SINGLE_ASPECT)))
    # Sample at twice the final size and halve with a box filter: PIL's transform does not antialias.
    big = (2 * out_w, 2 * out_h)
    to_photo = np.array([[(x1 - x0) / big[0], 0, x0], [0, (y1 - y0) / big[1], y0], [0, 0, 1]])
    to_canvas = np.array([[1, 0, offset[0] + w / 2], [0, 1, offset[1] + h / 2], [0, 0, 1]])
    m = to_canvas @ np.linalg.inv(homography(corners, photo)) @ to_photo
    view = canvas.transform(
        big, Image.Transform.PERSPECTIVE, pil_perspective(m), Image.Resampling.BILINEAR, fillcolor=background
    )
    if rng.random() < 0.12:
        view = view.filter(ImageFilter.Kernel((5, 5), MOTION_KERNEL))
    view = view.reduce(2)
    if rng.random() < 0.6:  # focus and the photo's own downscaling, at the final size (4x cheaper)
        view = view.filter(ImageFilter.GaussianBlur(rng.uniform(0.15, 0.9)))
    return view


def _sensor(crop: Image.Image, rng) -> Image.Image:
    """Uneven light, shadows, white balance, exposure, noise and JPEG, at the final size."""
    arr = np.asarray(crop, dtype=np.float32)
    h, w = arr.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yy, xx = yy / h - 0.5, xx / w - 0.5
    phi = rng.uniform(0, 2 * np.pi)
    ramp = xx * np.cos(phi) + yy * np.sin(phi)
    if rng.random() < 0.6:
        arr *= (1 + rng.uniform(0.1, 0.8) * ramp)[..., None]
    if rng.random() < 0.1:  # a hard shadow edge across the plate
        arr *= np.where(ramp > rng.uniform(-0.3, 0.3), rng.uniform(0.35, 0.75), 1.0)[..., None]
    # Colour: a mild channel mix (blue plates range from navy to cyan and violet in CCPD) and gains.
    arr = arr @ (np.eye(3) + rng.normal(0, 0.05, (3, 3))).T.astype(np.float32)
    arr *= rng.uniform(0.88, 1.12, 3).astype(np.float32)
    grey = arr.mean(axis=2, keepdims=True)
    arr = grey + (arr - grey) * rng.uniform(0.7, 1.5)
    contrast = rng.uniform(0.3, 0.55) if rng.random() < 0.08 else rng.uniform(0.6, 1.25)
    arr = (arr - arr.mean()) * contrast + arr.mean() + rng.uniform(-40, 35)
    if rng.random() < 0.08:  # night or underexposed
        arr *= rng.uniform(0.35, 0.6)
    arr = 255 * (np.clip(arr, 0, 255) / 255) ** rng.uniform(0.7, 1.5)
    if rng.random() < 0.7:
        arr += rng.normal(0, rng.uniform(1, 9), arr.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=int(rng.uniform(25, 95)))
    return Image.open(buffer).convert("RGB")
