"""Where a model runs: the --device names the CLI, the reader and training accept."""

from __future__ import annotations

import torch

from ..errors import PlateOCRError


def resolve_device(name: str) -> torch.device:
    """`auto` is a CUDA GPU when there is one, else the CPU; a missing GPU is a one-line error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise PlateOCRError(f"--device {name} asked for, but this machine has no CUDA GPU (use --device cpu or auto)")
    try:
        return torch.device(name)
    except RuntimeError:
        raise PlateOCRError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from None
