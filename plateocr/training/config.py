"""One training configuration: the CLI's flags, the notebooks' parameters, parameter files, the
recipe's overrides and checkpoints are all made from `TrainConfig`'s fields and their help.

>>> cfg = TrainConfig(data="synthetic", epochs=3)
>>> TrainConfig.from_dict(cfg.to_dict()) == cfg
True
>>> TrainConfig.from_dict({"epoch": 3})
Traceback (most recent call last):
...
plateocr.errors.PlateOCRError: unknown training parameter(s): epoch (python -m plateocr train --help lists them)
"""

from __future__ import annotations

import argparse
import json
from dataclasses import MISSING, asdict, dataclass, field, fields

from ..data.datasets import SYNTHETIC
from ..errors import PlateOCRError
from ..models.crnn import ARCH_INPUT_SIZE, ARCHS, ENSEMBLE_SEPARATOR, input_size
from ..synth.render import DEFAULT_TYPE_WEIGHTS

LR_SCHEDULES = ("plateau", "cosine")
DISTILL_ALIGNMENTS = ("frame", "character")


def _param(default, help: str, **extra):
    """A field with its help text (and optional argparse extras: flag, choices, cli_required)."""
    return field(default=default, metadata={"help": help, **extra})


@dataclass
class TrainConfig:
    data: str = _param(
        SYNTHETIC, "data folder, CSV manifest, or 'synthetic' (plates rendered on the fly)", cli_required=True
    )
    split: str | None = _param(
        None,
        "the part of --data to train on: a CCPD tree's official split or subset "
        "file (train, val, test, ccpd_blur, ...) or a dl1 folder's train/test "
        "(default: all of it; dl1: train)",
    )
    val: str | None = _param(
        None,
        "validation data (default: a val_fraction split of data; 'synthetic': "
        "held-out synthetic plates, so all of data trains)",
    )
    val_split: str | None = _param(
        None,
        "the part of --val to validate on (default: all of it; dl1: test); "
        "without --val, this split of --data validates instead of a tenth "
        "of it (CCPD: --split train --val-split val)",
    )
    out: str = _param("runs/latest", "run folder for best.pt, last.pt, metrics.json", cli_required=True)
    arch: str = _param("wide", "model architecture", choices=tuple(ARCHS))
    epochs: int = _param(10, "passes over the training data")
    batch_size: int = _param(64, "plates per optimiser step")
    lr: float = _param(1e-3, "peak learning rate (AdamW)")
    weight_decay: float = _param(0.01, "AdamW weight decay")
    grad_clip: float = _param(2.0, "largest gradient norm; larger gradients are scaled down")
    seed: int = _param(0, "seed of every random choice: same seed and parameters, same metrics on a CPU")
    val_fraction: float = _param(0.1, "share of data held out for validation when val is not given")
    synthetic_train: int = _param(20_000, "plates rendered per epoch when data is synthetic")
    synthetic_val: int = _param(1_000, "held-out synthetic plates validated on when validation is synthetic")
    mix_synthetic: int = _param(0, "synthetic plates added to every epoch of real data")
    augment: bool = _param(True, "augment training batches (photometric and geometric)")
    cache: bool = _param(False, "decode (or render) the whole data set into RAM once")
    workers: int = _param(0, "image-decoding processes of the data loader")
    render_workers: int = _param(2, "processes rendering a cached synthetic pool")
    threads: int = _param(0, "torch CPU threads; 0 = all cores")
    device: str = _param("auto", "auto (a CUDA GPU when there is one), cpu, cuda or cuda:N")
    amp: bool = _param(
        False,
        "mixed precision: bf16 autocast on CUDA or a CPU with bf16 instructions (fp16 "
        "with a grad scaler on older GPUs; float32, with a note, on a CPU without bf16)",
    )
    channels_last: bool = _param(False, "NHWC convolutions: ~1.2x faster steps on a CPU, other rounding than NCHW")
    init_checkpoint: str | None = _param(None, "start from this checkpoint's weights (fine-tuning)", flag="--init")
    max_bad_fraction: float = _param(0.01, "fail when more of the data than this is unreadable")
    scheduler_patience: int = _param(2, "epochs without progress before the plateau schedule halves lr")
    lr_schedule: str = _param(
        "plateau", "reduce on a validation plateau, or cosine decay over the run", choices=LR_SCHEDULES
    )
    real_repeat: int = _param(1, "times each real training plate appears per epoch (small real sets)")
    type_loss_weight: float = _param(0.2, "weight of the plate-type head's loss beside CTC (0: recognition only)")
    synthetic_types: str | None = _param(None, "comma-separated plate types to render (default: all)")
    deskew: bool = _param(False, "train on crops with their slant taken out (the reader then deskews for this model)")
    ema_decay: float = _param(
        0.0, "validate and save a moving average of the weights with this per-step decay (0: off)"
    )
    detector_crops: bool = _param(
        False,
        "also augment with the crops detectors cut: loose boxes (margins up to "
        "30 %), plates turned up to 10°, half and third resolution "
        "(plateocr.data.transforms.BatchAugment.detector_crops)",
    )
    degraded_crops: bool = _param(
        False,
        "also augment with degraded crops, the plate left in place: half and third "
        "resolution, blur up to sigma 1.6, JPEG quality down to 15 "
        "(plateocr.data.transforms.BatchAugment.degraded_crops)",
    )
    degraded_share: float = _param(
        1.0,
        "with degraded_crops: how often low resolution and JPEG are drawn, as a multiple of "
        "BatchAugment.degraded_crops's rates (10 % and 15 % of plates)",
    )
    recolour_p: float = _param(
        0.0,
        "probability that a blue training plate is redrawn as a green, yellow or "
        "white one from its own pixels (plateocr.data.recolour): real glyph shapes in "
        "both polarities",
    )
    polarity_weight: float = _param(
        0.0,
        "weight of a loss asking each recoloured plate to be read, frame by frame, as "
        "the model reads the same plate in blue (at distill_temperature)",
    )
    teacher: str | None = _param(
        None,
        "checkpoint whose per-frame posteriors the model also learns (knowledge "
        "distillation, plateocr.training.distill); it must read the same input size",
    )
    teacher_tta: str = _param("none", "the teacher's views: none, shift or phase")
    distill_clean: bool = _param(
        False,
        "the teacher reads each plate warped as the student's is but not recoloured, lit, "
        "blurred, reduced or JPEG-compressed: the student learns to read a degraded plate "
        "as the teacher reads the clean one",
    )
    distill_weight: float = _param(1.0, "weight of the distillation loss beside CTC")
    distill_temperature: float = _param(2.0, "softening of both posteriors")
    distill_alignment: str = _param(
        "frame",
        "what the distillation compares: 'frame', every frame's posteriors; 'character', "
        "each label character's posteriors where each model's own best path emits it",
    )

    @property
    def input_size(self) -> tuple[int, int]:
        return input_size(self.arch)

    def validate(self) -> TrainConfig:
        if ENSEMBLE_SEPARATOR in self.arch:
            raise PlateOCRError(
                f"arch {self.arch!r} is an ensemble: train each member, then join them (the recipe does both)"
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
        if self.polarity_weight < 0:
            raise PlateOCRError(f"polarity_weight must be >= 0, got {self.polarity_weight}")
        if self.distill_temperature <= 0 or self.distill_weight < 0:
            raise PlateOCRError("distill_temperature must be positive and distill_weight >= 0")
        if self.distill_alignment not in DISTILL_ALIGNMENTS:
            raise PlateOCRError(
                f"unknown distill_alignment {self.distill_alignment!r}: choose one of {', '.join(DISTILL_ALIGNMENTS)}"
            )
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
        check_keys(values)
        return cls(**values)

    @classmethod
    def from_namespace(cls, namespace: dict, **values) -> TrainConfig:
        """The fields named in `namespace` (a notebook's globals: its papermill parameters), then `values`.

        >>> TrainConfig.from_namespace({"epochs": 2, "plots": None}, out="runs/x").epochs
        2
        """
        names = {f.name for f in fields(cls)}
        return cls.from_dict({**{k: v for k, v in namespace.items() if k in names}, **values})


def check_keys(values) -> None:
    """One line naming every key of `values` that is not a TrainConfig field."""
    unknown = sorted(set(values) - {f.name for f in fields(TrainConfig)})
    if unknown:
        raise PlateOCRError(
            f"unknown training parameter(s): {', '.join(unknown)} (python -m plateocr train --help lists them)"
        )


def _value_type(f) -> type:
    """The Python type of a field's values (its annotation is a string under `from __future__`)."""
    return {"int": int, "float": float, "bool": bool}.get(f.type.split(" |")[0], str)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One --flag per TrainConfig field (--batch-size for batch_size), its help from the field."""
    for f in fields(TrainConfig):
        meta, kind = f.metadata, _value_type(f)
        flag = meta.get("flag", "--" + f.name.replace("_", "-"))
        common = dict(dest=f.name, help=meta["help"].replace("%", "%%"))  # argparse formats help with %
        if kind is bool:  # --cache / --no-cache, --augment / --no-augment
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, **common)
        elif meta.get("cli_required"):
            parser.add_argument(flag, type=kind, required=True, **common)
        else:
            default = None if f.default is MISSING else f.default
            parser.add_argument(flag, type=kind, default=default, choices=meta.get("choices"), **common)


def from_arguments(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig of a namespace parsed by a parser that `add_arguments` filled."""
    return TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})


def parse_overrides(pairs) -> dict:
    """KEY=VALUE strings as TrainConfig values, each read as its field's type.

    >>> parse_overrides(["type_loss_weight=0", "synthetic_types=blue,green", "cache=false"])
    {'type_loss_weight': 0.0, 'synthetic_types': 'blue,green', 'cache': False}
    """
    types = {f.name: _value_type(f) for f in fields(TrainConfig)}
    overrides = {}
    for pair in pairs or ():
        key, sep, value = (part.strip() for part in pair.partition("="))
        if not sep or not key:
            raise PlateOCRError(f"an override takes KEY=VALUE, got {pair!r}")
        check_keys([key])
        kind = types[key]
        try:
            overrides[key] = json.loads(value.lower()) if kind is bool else kind(value)
        except (ValueError, json.JSONDecodeError):
            raise PlateOCRError(f"{key}={value!r}: expected a {kind.__name__}") from None
        if kind is bool and not isinstance(overrides[key], bool):
            raise PlateOCRError(f"{key}={value!r}: expected true or false")
    return overrides
