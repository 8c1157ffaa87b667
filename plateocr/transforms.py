"""Training-time augmentation of prepared crops (uint8 tensors, 3×H×W), torchvision v2.

The synthetic renderer already degrades its plates; these augmentations add the variation real
crops from a detector have: slightly off boxes, small rotation and shear, light, blur.
"""
from __future__ import annotations

from torchvision.transforms import v2


def train_augment() -> v2.Compose:
    """Random geometric and photometric changes; hue stays near 0 so plate colours keep their type."""
    return v2.Compose([
        v2.RandomApply([v2.RandomAffine(degrees=3, translate=(0.03, 0.08), scale=(0.9, 1.06),
                                        shear=(-4, 4, -2, 2))], p=0.7),
        v2.RandomApply([v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.02)], p=0.8),
        v2.RandomApply([v2.GaussianBlur(3, sigma=(0.1, 1.0))], p=0.3),
    ])
