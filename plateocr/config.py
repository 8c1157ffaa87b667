"""One training configuration, shared by the CLI, the notebooks' parameters and checkpoints.

>>> cfg = TrainConfig(data="synthetic", epochs=3)
>>> TrainConfig.from_dict(cfg.to_dict()) == cfg
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from .errors import PlateOCRError
from .models import ARCH_INPUT_SIZE, ENSEMBLE_SEPARATOR, input_size

SYNTHETIC = "synthetic"  # data path meaning "render plates on the fly"
LR_SCHEDULES = ("plateau", "cosine")


@dataclass
class TrainConfig:
    data: str = SYNTHETIC
    split: str | None = field(
        default=None,
        metadata={
            "help": (
                "the part of --data to train on: a CCPD tree's official split or subset file (train, val, test, "
                "ccpd_blur, ...) or a dl1 folder's train/test (default: all of it; dl1: train)"
            )
        },
    )
    val: str | None = None
    val_split: str | None = field(
        default=None,
        metadata={
            "help": (
                "the part of --val to validate on (default: all of it; dl1: test); without --val, this split "
                "of --data validates instead of a tenth of it (CCPD: --split train --val-split val)"
            )
        },
    )
    out: str = "runs/latest"
    arch: str = "wide"
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.01
    grad_clip: float = 2.0
    seed: int = 0
    val_fraction: float = 0.1
    synthetic_train: int = 20_000  # plates rendered per epoch when data is synthetic
    synthetic_val: int = 1_000
    mix_synthetic: int = 0  # synthetic plates added to each epoch of real data
    augment: bool = True
    cache: bool = False  # decode the whole set into RAM once
    workers: int = 0
    render_workers: int = 2  # processes rendering a cached synthetic pool
    threads: int = 0  # torch CPU threads; 0 = all cores
    device: str = "auto"
    amp: bool = False  # mixed precision where the device has it: bf16 (fp16 on older GPUs)
    channels_last: bool = False  # NHWC convs: ~1.2x faster steps on a CPU, other rounding than NCHW
    init_checkpoint: str | None = None  # fine-tune from these weights
    max_bad_fraction: float = 0.01  # fail when more of the data than this is unreadable
    scheduler_patience: int = 2
    lr_schedule: str = "plateau"  # "plateau" (on validation accuracy) or "cosine" (to 0 over the run)
    real_repeat: int = 1  # times each real training plate appears per epoch (small sets)
    type_loss_weight: float = 0.2  # weight of the plate-type head's loss beside CTC (0: recognition only)
    synthetic_types: str | None = None  # comma-separated plate types to render (default: all of them)
    deskew: bool = False  # train on crops with their slant taken out (plateocr.deskew)
    ema_decay: float = 0.0  # per-step decay of a moving average of the weights (0: off); the
    # average is what is validated and saved as the model
    detector_crops: bool = field(
        default=False,
        metadata={
            "help": (
                "also augment with the crops detectors cut: loose boxes (margins up to 30 %), plates turned up "
                "to 10°, half and third resolution (plateocr.transforms.BatchAugment.detector_crops)"
            )
        },
    )
    recolour_p: float = field(
        default=0.0,
        metadata={
            "help": (
                "probability that a blue training plate is redrawn as a green, yellow or white one from its own "
                "pixels (plateocr.recolour): real glyph shapes in both polarities"
            )
        },
    )
    teacher: str | None = field(
        default=None,
        metadata={
            "help": (
                "checkpoint whose per-frame posteriors the model also learns (knowledge distillation, "
                "plateocr.distill); it must read the same input size"
            )
        },
    )
    teacher_tta: str = field(default="none", metadata={"help": "the teacher's views: none, shift or phase"})
    distill_weight: float = field(default=1.0, metadata={"help": "weight of the distillation loss beside CTC"})
    distill_temperature: float = field(default=2.0, metadata={"help": "softening of both posteriors"})

    @property
    def input_size(self) -> tuple[int, int]:
        return input_size(self.arch)

    def validate(self) -> TrainConfig:
        if ENSEMBLE_SEPARATOR in self.arch:
            raise PlateOCRError(
                f"arch {self.arch!r} is an ensemble: train each member, then join them "
                f"(python -m plateocr.recipe does both)"
            )
        if self.arch not in ARCH_INPUT_SIZE:
            raise PlateOCRError(f"unknown arch {self.arch!r}: choose one of {', '.join(ARCH_INPUT_SIZE)}")
        for name in ("epochs", "batch_size", "synthetic_train", "synthetic_val"):
            if int(getattr(self, name)) <= 0:
                raise PlateOCRError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.workers < 0 or self.threads < 0:
            raise PlateOCRError("workers and threads must be >= 0")
        if not 0.0 < self.val_fraction < 1.0:
            raise PlateOCRError(f"val_fraction must be between 0 and 1, got {self.val_fraction}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise PlateOCRError(f"unknown lr_schedule {self.lr_schedule!r}: choose one of {', '.join(LR_SCHEDULES)}")
        if int(self.real_repeat) < 1:
            raise PlateOCRError(f"real_repeat must be a positive integer, got {self.real_repeat!r}")
        if self.synthetic_types is not None:
            self.synthetic_type_weights()  # raises on an unknown type
        if not 0.0 <= self.ema_decay < 1.0:
            raise PlateOCRError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.lr <= 0:
            raise PlateOCRError(f"lr must be positive, got {self.lr}")
        if not 0.0 <= self.recolour_p <= 1.0:
            raise PlateOCRError(f"recolour_p must be in [0, 1], got {self.recolour_p}")
        if self.distill_temperature <= 0 or self.distill_weight < 0:
            raise PlateOCRError("distill_temperature must be positive and distill_weight >= 0")
        if self.split and self.data == SYNTHETIC:
            raise PlateOCRError(f"split {self.split!r} names a part of a data folder; synthetic data has none")
        return self

    def synthetic_type_weights(self) -> dict[str, float] | None:
        """The renderer's type mix restricted to `synthetic_types`, in the default proportions.

        >>> TrainConfig(synthetic_types="blue, green").synthetic_type_weights()
        {'blue': 0.55, 'green': 0.15}
        """
        if self.synthetic_types is None:
            return None
        from .synth import DEFAULT_TYPE_WEIGHTS

        types = [t.strip() for t in self.synthetic_types.split(",") if t.strip()]
        unknown = [t for t in types if t not in DEFAULT_TYPE_WEIGHTS]
        if unknown or not types:
            raise PlateOCRError(
                f"synthetic_types {self.synthetic_types!r}: choose from {', '.join(DEFAULT_TYPE_WEIGHTS)}"
            )
        return {t: DEFAULT_TYPE_WEIGHTS[t] for t in types}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise PlateOCRError(f"unknown training parameter(s): {', '.join(unknown)}")
        return cls(**values)
