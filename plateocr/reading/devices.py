"""Where a model runs and in what precision: the --device names the CLI, the reader and training
accept, and the CPU facts (bf16 units) that both reading and training choose their precision by."""

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


# How a reader may run its convolutions: "auto" is bf16 where the hardware has bf16 units (as the
# shipped models trained), "float32" everywhere else and whenever asked for.
PRECISIONS = ("auto", "float32")


def cpu_has_bf16() -> bool:
    """Whether oneDNN finds bf16 instructions (AVX512-BF16, AMX) on this CPU; True where it cannot tell."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return True


def reading_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """What a reader autocasts its convolutions to: bf16 on a CPU or GPU with bf16 units under
    "auto", else nothing (float32). Emulated bf16 would be slower than float32, so a CPU without
    bf16 instructions reads in float32; the sequence head and decoding stay float32 everywhere.

    On a CPU with bf16 units the fast model read ~1.7x the plates per second of float32 at batch 64,
    and the shipped models read every plates_dev crop the same in both precisions.
    """
    if precision not in PRECISIONS:
        raise PlateOCRError(f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if precision == "float32":
        return None
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    if device.type == "cpu" and cpu_has_bf16():
        return torch.bfloat16
    return None
