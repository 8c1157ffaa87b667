"""The training loop: one process, or many under torchrun (DDP), on CPU or CUDA.

    python -m plateocr train --data PATH --out DIR [--arch wide|compact|seed] [--epochs N] [--resume]
    torchrun --nproc_per_node=N -m plateocr train ...

`train` reads top to bottom: `set_up` (data, model, optimiser, resume), then per epoch
`train_one_epoch`, `evaluate_model` and `write_checkpoints`, and last `write_metrics`.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.lr_scheduler import CosineAnnealingLR, ReduceLROnPlateau
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset
from tqdm import tqdm  # plain bars: tqdm.auto warns in a kernel without ipywidgets

from ..alphabet import BLANK, PLATE_TYPES, Tokenizer
from ..data.datasets import (
    SYNTHETIC,
    CropDataset,
    SyntheticPlateDataset,
    list_records,
    make_collate,
    seed_worker,
    split_records,
)
from ..data.recolour import RECOLOURED, recolour_blue_plates
from ..data.transforms import BatchAugment
from ..errors import PlateOCRError
from ..models.checkpoint import load_checkpoint, member_checkpoint, save_checkpoint
from ..models.crnn import arch_members, build_model, count_parameters
from ..reading.devices import cpu_has_bf16, resolve_device
from ..reading.reader import PlateReader
from ..scoring.metrics import summarize
from .config import TrainConfig
from .distill import Teacher, character_distillation_loss, distillation_loss, padded_targets
from .distributed import Distributed
from .provenance import files_fingerprint, provenance

RUN_FILES = ("last.pt", "best.pt", "metrics.json")
# Held-out synthetic plates come from seed + VAL_SEED_OFFSET, a seed no training epoch renders with.
VAL_SEED_OFFSET = 7919
# An epoch's order is seeded with seed * EPOCH_ORDER_STRIDE + epoch: distinct for every (seed, epoch).
EPOCH_ORDER_STRIDE = 100_003


# -- set-up ------------------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextmanager
def deterministic_cpu(device: torch.device):
    """Deterministic kernels on the CPU (same parameters, same metrics), put back however the run
    ends, so a later CUDA run in the same process does not warn about its non-deterministic CTC backward."""
    saved = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])


def mixed_precision_dtype(device: torch.device, log=lambda msg: None) -> torch.dtype | None:
    """What --amp autocasts to on `device`: bf16 where it has bf16 units, fp16 (with a grad scaler)
    on older GPUs, and nothing (float32) elsewhere, saying so in one line.

    On a CPU without bf16 instructions autocast emulates bf16, which made a step 10x slower.
    """
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu":
        if cpu_has_bf16():
            return torch.bfloat16
        log("note: this CPU has no bf16 instructions: --amp trains in float32 here (bf16 would be ~10x slower)")
        return None
    log(f"note: --amp covers CUDA and the CPU; training in float32 on {device.type}")
    return None


# -- data --------------------------------------------------------------------------------
def build_datasets(cfg: TrainConfig, log) -> tuple:
    """Train and validation datasets and a fingerprint of the data they come from."""
    size = cfg.input_size
    types: dict[str, Any] = {"type_weights": cfg.synthetic_type_weights(), "deskew": cfg.deskew}
    train: Dataset
    val: Dataset
    synthetic_val = lambda: SyntheticPlateDataset(
        cfg.synthetic_val, size, cfg.seed + VAL_SEED_OFFSET, cfg.cache, cfg.render_workers, **types
    )
    if cfg.data == SYNTHETIC:
        train = SyntheticPlateDataset(cfg.synthetic_train, size, cfg.seed, cfg.cache, cfg.render_workers, **types)
        train_fp = {"synthetic": {"n": cfg.synthetic_train, "seed": cfg.seed}}
        if cfg.val and cfg.val != SYNTHETIC:
            val_records, skipped = list_records(cfg.val, split=cfg.val_split, held_out=True)
            log(f"validation data {cfg.val}: {len(val_records)} plates; {skipped.summary()}")
            val = CropDataset(val_records, size, cache=cfg.cache, deskew=cfg.deskew)
            train_fp["val"] = files_fingerprint(r.path for r in val_records)
        else:
            val = synthetic_val()
        return train, val, train_fp
    records, skipped = list_records(cfg.data, split=cfg.split)
    log(f"data {cfg.data}{f' (split {cfg.split})' if cfg.split else ''}: {len(records)} plates; {skipped.summary()}")
    if cfg.val == SYNTHETIC:
        # Every real plate trains; worth it when they are few and nothing is picked on validation.
        train_records, val_records = records, []
    elif cfg.val or cfg.val_split:  # another data set, or another split of this one (CCPD's val)
        train_records = records
        val_data = cfg.val or cfg.data
        val_records, val_skipped = list_records(val_data, split=cfg.val_split, held_out=bool(cfg.val))
        log(
            f"validation data {val_data}{f' (split {cfg.val_split})' if cfg.val_split else ''}: "
            f"{len(val_records)} plates; {val_skipped.summary()}"
        )
    else:
        train_records, val_records = split_records(records, cfg.val_fraction, cfg.seed)
    train = CropDataset(train_records, size, cache=cfg.cache, deskew=cfg.deskew)
    if cfg.real_repeat > 1:  # each copy is augmented afresh (in the training loop)
        train = ConcatDataset([train] * cfg.real_repeat)
    if cfg.mix_synthetic:
        train = ConcatDataset(
            [train, SyntheticPlateDataset(cfg.mix_synthetic, size, cfg.seed, cfg.cache, cfg.render_workers, **types)]
        )
    val = CropDataset(val_records, size, cache=cfg.cache, deskew=cfg.deskew) if val_records else synthetic_val()
    fingerprint = {
        "train": files_fingerprint(r.path for r in train_records),
        "val": files_fingerprint(r.path for r in val_records) if val_records else SYNTHETIC,
        "skipped": len(skipped),
        "mix_synthetic": cfg.mix_synthetic,
    }
    return train, val, fingerprint


def _set_epoch(dataset, epoch: int) -> None:
    for part in getattr(dataset, "datasets", [dataset]):
        if hasattr(part, "set_epoch"):
            part.set_epoch(epoch)


def init_weights(model, cfg: TrainConfig, tokenizer: Tokenizer, log) -> None:
    """Fine-tuning: load --init's weights (an ensemble's member of this run's arch) into `model`."""
    init = load_checkpoint(str(cfg.init_checkpoint))
    if init["alphabet"] != tokenizer.alphabet or cfg.arch not in arch_members(init["arch"]):
        raise PlateOCRError(
            f"--init {cfg.init_checkpoint} is a {init['arch']} model with another "
            f"alphabet or arch than this run ({cfg.arch})"
        )
    model.load_state_dict(member_checkpoint(init, cfg.arch)["model"])
    log(f"initialised from {cfg.init_checkpoint}")


def optimiser_and_schedule(model, cfg: TrainConfig):
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler: CosineAnnealingLR | ReduceLROnPlateau
    if cfg.lr_schedule == "cosine":
        scheduler = CosineAnnealingLR(optimizer, T_max=cfg.epochs, eta_min=cfg.lr * 0.01)
    else:
        scheduler = ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=cfg.scheduler_patience)
    return optimizer, scheduler


@dataclass
class Run:
    """Everything one training run holds between its pieces."""

    cfg: TrainConfig
    out: Path
    device: torch.device
    dist_env: Distributed
    log: Callable[[str], None]
    tokenizer: Tokenizer
    train_set: Any  # sized datasets: CropDataset, SyntheticPlateDataset or a ConcatDataset of them
    val_set: Any
    data_fp: dict
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: CosineAnnealingLR | ReduceLROnPlateau
    autocast: Callable[[], Any] = nullcontext
    scaler: Any = None  # torch.amp.GradScaler
    ema: AveragedModel | None = None
    ddp_model: Any = None  # the model itself, or its DistributedDataParallel wrapper
    val_loader: DataLoader | None = None
    augment: BatchAugment | None = None
    teacher: Teacher | None = None
    history: list = field(default_factory=list)
    start_epoch: int = 0
    best_acc: float = -1.0
    bad_paths: dict = field(default_factory=dict)
    epoch_seconds: list = field(default_factory=list)
    epoch_plates: list = field(default_factory=list)  # trained on and validated, summed over ranks: shows DDP's split


def resume_run(run: Run) -> dict:
    """Load last.pt into `run` (model, optimiser, schedule, history, RNG); returns its payload."""
    cfg, last = run.cfg, run.out / "last.pt"
    state = load_checkpoint(last)
    if state["arch"] != cfg.arch or state["alphabet"] != run.tokenizer.alphabet:
        raise PlateOCRError(f"--resume: {last} is a {state['arch']} run, not {cfg.arch}")
    saved_schedule = state["config"].get("lr_schedule", "plateau")
    if saved_schedule != cfg.lr_schedule:
        raise PlateOCRError(
            f"--resume: {last} used lr_schedule {saved_schedule!r}, not "
            f"{cfg.lr_schedule!r}; resume with the same schedule"
        )
    run.model.load_state_dict(state.get("train_model", state["model"]))
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    if isinstance(run.scheduler, CosineAnnealingLR):  # a run extended with a larger --epochs decays over the new total
        run.scheduler.T_max = cfg.epochs
    run.history, run.start_epoch, run.best_acc = list(state["history"]), state["epoch"] + 1, state["best_accuracy"]
    set_rng_state(state["rng"])
    run.log(f"resumed from {last} after epoch {state['epoch'] + 1}")
    return state


def set_up(cfg: TrainConfig, dist_env: Distributed, log, resume: bool) -> Run:
    """Data, model, optimiser and schedule, resumed from last.pt when asked, ready for epoch one."""
    device = dist_env.device
    dtype = mixed_precision_dtype(device, log) if cfg.amp else None
    tokenizer = Tokenizer()
    train_set, val_set, data_fp = build_datasets(cfg, log)
    model = build_model(cfg.arch, tokenizer.num_classes)
    if cfg.init_checkpoint and not resume:
        init_weights(model, cfg, tokenizer, log)
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    run = Run(
        cfg,
        Path(cfg.out),
        device,
        dist_env,
        log,
        tokenizer,
        train_set,
        val_set,
        data_fp,
        model,
        *optimiser_and_schedule(model, cfg),
    )
    run.autocast = lambda: torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)
    run.scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
    run.ema = weight_average(model, cfg, resume_run(run) if resume else None)
    run.ddp_model = (
        torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        if dist_env.launched
        else model
    )
    log(
        f"{cfg.arch}: {count_parameters(model) / 1e6:.2f} M parameters on {device} "
        f"(world size {dist_env.world}{', DDP' if dist_env.launched else ''}); "
        f"{len(train_set)} training and {len(val_set)} validation plates"
    )
    run.augment = (
        BatchAugment.for_training(cfg.detector_crops, cfg.degraded_crops, cfg.degraded_share) if cfg.augment else None
    )
    if cfg.teacher:
        run.teacher = Teacher(cfg.teacher, device, cfg.teacher_tta)
        run.teacher.check_student(cfg.arch, tokenizer.alphabet)
        log(f"distilling from {cfg.teacher} ({run.teacher.arch}, {cfg.teacher_tta} views)")
    run.val_loader = DataLoader(
        Subset(val_set, range(dist_env.rank, len(val_set), dist_env.world)),
        batch_size=cfg.batch_size,
        num_workers=cfg.workers,
        collate_fn=make_collate(tokenizer),
        worker_init_fn=seed_worker,
        generator=torch.Generator().manual_seed(cfg.seed),
    )
    return run


# -- one epoch ---------------------------------------------------------------------------
@torch.no_grad()
def _reading_targets(model, images: torch.Tensor) -> torch.Tensor:
    """The model's per-frame log-probabilities of `images` as it reads them (evaluation mode: running
    BatchNorm statistics, which this pass leaves untouched), as targets that carry no gradient."""
    was_training = model.training
    model.eval()
    try:
        return model(images)[0].float()
    finally:
        model.train(was_training)


def _augmented_alike(augment, images: torch.Tensor, draws: torch.Tensor) -> torch.Tensor:
    """`images` augmented by the same draws as the call to `augment` made from RNG state `draws`
    (same batch size), the RNG left where it was."""
    if augment is None:
        return images
    after = torch.get_rng_state()
    torch.set_rng_state(draws)
    try:
        return augment(images)
    finally:
        torch.set_rng_state(after)


def ctc_and_type_loss(model, batch, cfg: TrainConfig, device, autocast, augment=None, teacher=None):
    images = batch.images.to(device, non_blocking=True)
    plate_types = batch.plate_types.to(device)
    originals, recoloured = images, images.new_zeros(0, dtype=torch.long)
    if cfg.recolour_p:
        images, plate_types, recoloured = recolour_blue_plates(
            images,
            plate_types,
            cfg.recolour_p,
            PLATE_TYPES.index("blue"),
            {c: PLATE_TYPES.index(c) for c in RECOLOURED},
        )
    # Pairs of each recoloured plate and its blue original: the RNG state the augmentation draws from.
    draws = torch.get_rng_state() if cfg.polarity_weight > 0 and len(recoloured) else None
    clean_draws = torch.get_rng_state() if teacher is not None and cfg.distill_clean else None
    if augment is not None:
        images = augment(images)
    layout = lambda x: x.contiguous(memory_format=torch.channels_last) if cfg.channels_last else x
    images = layout(images)
    with autocast():
        log_probs, type_logits = model(images)
        soft_targets = None
        if clean_draws is not None:  # the same plates, moved alike, before recolouring and degrading
            geometry = augment.geometry if augment is not None else None
            soft_targets = teacher(layout(_augmented_alike(geometry, originals, clean_draws)))
        elif teacher is not None:
            soft_targets = teacher(images)
        blue_targets = None
        if draws is not None:  # the blue originals, warped, lit and degraded by the very same draws
            blue_images = _augmented_alike(augment, originals, draws)[recoloured]
            blue_targets = _reading_targets(model, layout(blue_images))
    log_probs = log_probs.float()
    input_lengths = torch.full((images.shape[0],), log_probs.shape[0], dtype=torch.long)
    ctc = F.ctc_loss(
        log_probs, batch.targets.to(device), input_lengths, batch.target_lengths, blank=BLANK, zero_infinity=True
    )
    type_loss = F.cross_entropy(type_logits.float(), plate_types)
    loss = ctc + cfg.type_loss_weight * type_loss
    if soft_targets is not None:
        if cfg.distill_alignment == "character":
            labels = padded_targets(batch.targets, batch.target_lengths).to(device)
            kd = character_distillation_loss(
                log_probs, soft_targets, labels, batch.target_lengths, cfg.distill_temperature
            )
        else:
            kd = distillation_loss(log_probs, soft_targets, cfg.distill_temperature)
        loss = loss + cfg.distill_weight * kd
    if blue_targets is not None:
        # Real glyphs are learnt mostly in blue: a redrawn plate should be read as its blue original is.
        loss = loss + cfg.polarity_weight * distillation_loss(
            log_probs[:, recoloured], blue_targets, cfg.distill_temperature
        )
    return loss


def epoch_loader(run: Run, epoch: int) -> DataLoader:
    """This rank's share of the epoch, in an order that depends only on (seed, epoch), so a resumed
    run sees the same batches; every rank gets as many steps, which keeps DDP ranks in step."""
    cfg, dist_env = run.cfg, run.dist_env
    _set_epoch(run.train_set, epoch)
    order = torch.Generator().manual_seed(cfg.seed * EPOCH_ORDER_STRIDE + epoch)
    indices = torch.randperm(len(run.train_set), generator=order).tolist()[dist_env.rank :: dist_env.world]
    per_rank = len(run.train_set) // dist_env.world
    return DataLoader(
        Subset(run.train_set, indices[:per_rank]),
        batch_size=cfg.batch_size,
        num_workers=cfg.workers,
        collate_fn=make_collate(run.tokenizer),
        drop_last=len(indices) > cfg.batch_size,
        worker_init_fn=seed_worker,
        generator=torch.Generator().manual_seed(cfg.seed + epoch),
        persistent_workers=False,
        pin_memory=run.device.type == "cuda",
    )


def train_one_epoch(run: Run, epoch: int, progress: bool) -> tuple[float, float, float]:
    """One pass over the training data; (loss sum, plates seen, unreadable images) over all ranks."""
    cfg, model = run.cfg, run.model
    run.ddp_model.train()
    loss_sum, seen, bad = 0.0, 0.0, 0.0
    bar = tqdm(
        epoch_loader(run, epoch),
        desc=f"epoch {epoch + 1}/{cfg.epochs}",
        leave=False,
        disable=not (progress and run.dist_env.main),
        file=sys.stderr,
    )
    for batch in bar:
        bad += len(batch.bad)
        run.bad_paths.update((b.path, b.reason) for b in batch.bad)
        if not batch.labels:
            continue
        loss = ctc_and_type_loss(run.ddp_model, batch, cfg, run.device, run.autocast, run.augment, run.teacher)
        run.optimizer.zero_grad(set_to_none=True)
        run.scaler.scale(loss).backward()
        run.scaler.unscale_(run.optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        run.scaler.step(run.optimizer)
        run.scaler.update()
        if run.ema is not None:
            run.ema.update_parameters(model)
        n = len(batch.labels)
        loss_sum, seen = loss_sum + float(loss.detach()) * n, seen + n
        bar.set_postfix(loss=f"{loss_sum / seen:.3f}")
    loss_sum, seen, bad = run.dist_env.sum(loss_sum, seen, bad)
    if bad and bad / max(1, seen + bad) > cfg.max_bad_fraction:
        raise PlateOCRError(
            f"{int(bad)} of {int(seen + bad)} training images could not be read "
            f"(more than max_bad_fraction={cfg.max_bad_fraction}); first: "
            + "; ".join(f"{p}: {r}" for p, r in list(run.bad_paths.items())[:3])
        )
    return loss_sum, seen, bad


def evaluate_model(model, loader, tokenizer, arch, device, dist_env: Distributed) -> dict:
    """Validation metrics of `model` over this rank's loader, combined across ranks."""
    core = model.module if hasattr(model, "module") else model
    was_training = core.training
    core.eval()
    reader = PlateReader(core, tokenizer, arch, decoder="constrained", device=str(device))
    rows = []
    for batch in loader:
        if not batch.labels:
            continue
        for result, label, true_type in zip(
            reader.decode(*reader.forward(batch.images)), batch.labels, batch.plate_types.tolist()
        ):
            rows.append((result.plate, label, result.plate_type == PLATE_TYPES[true_type]))
    core.train(was_training)
    rows = dist_env.gather(rows)
    preds, refs = [r[0] for r in rows], [r[1] for r in rows]
    metrics = summarize(preds, refs)
    metrics["type_accuracy"] = sum(r[2] for r in rows) / max(1, len(rows))
    return metrics


# -- the run -----------------------------------------------------------------------------
def check_out_dir(out: Path, resume: bool, overwrite: bool) -> None:
    existing = [f for f in RUN_FILES if (out / f).exists()]
    if existing and not (resume or overwrite):
        raise PlateOCRError(
            f"{out} already holds a run ({', '.join(existing)}); pass --resume to "
            f"continue it, --overwrite to replace it, or choose another --out"
        )
    if resume and not (out / "last.pt").exists():
        raise PlateOCRError(f"--resume: no last.pt in {out} to resume from")


def rng_state() -> dict:
    np_state: Any = np.random.get_state()  # the legacy (name, keys, pos, ...) tuple
    return {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_pos": int(np_state[2]),
        "python": random.getstate(),
    }


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), state["numpy_pos"], 0, 0.0))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def weight_average(model, cfg: TrainConfig, resumed: dict | None):
    """An exponential moving average of `model`'s weights and BatchNorm statistics, or None when off.

    Weights averaged over the last ~1/(1-decay) steps smooth out the step-to-step noise of a small
    batch; the average is what gets validated and saved.
    """
    if not cfg.ema_decay:
        return None
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
    for rnn in (m for m in ema.modules() if isinstance(m, torch.nn.RNNBase)):
        rnn.flatten_parameters()  # the deep copy breaks cuDNN's single weight buffer (a no-op on CPU)
    if resumed is not None and "train_model" in resumed:
        ema.module.load_state_dict(resumed["model"])
        ema.n_averaged.fill_(resumed["ema_updates"])
    return ema


def step_schedule(run: Run, metrics: dict) -> None:
    if isinstance(run.scheduler, CosineAnnealingLR):
        run.scheduler.step()
    else:  # exact accuracy drives the plateau; CER breaks its early ties (accuracy stays 0 a while)
        run.scheduler.step(metrics["accuracy"] - 0.1 * metrics["cer"])


def write_checkpoints(run: Run, epoch: int, metrics: dict, improved: bool) -> None:
    """last.pt every epoch, best.pt when validation improved (the main rank only)."""
    model, ema = run.model, run.ema
    payload = {
        "arch": run.cfg.arch,
        "alphabet": run.tokenizer.alphabet,
        "model": (model if ema is None else ema.module).state_dict(),
        "config": run.cfg.to_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "epoch": epoch,
        "best_accuracy": run.best_acc,
        "history": run.history,
        "metrics": metrics,
        "rng": rng_state(),
    }
    if ema is not None:  # resuming needs the weights being trained, not only their average
        payload.update(train_model=model.state_dict(), ema_updates=int(ema.n_averaged))
    if improved:
        save_checkpoint(run.out / "best.pt", payload)
    save_checkpoint(run.out / "last.pt", payload)


def run_epoch(run: Run, epoch: int, progress: bool) -> None:
    """Train, validate, step the schedule, record and (on the main rank) save one epoch."""
    cfg, epoch_start = run.cfg, time.time()
    loss_sum, seen, bad = train_one_epoch(run, epoch, progress)
    validated = run.ddp_model if run.ema is None else run.ema.module
    metrics = evaluate_model(validated, run.val_loader, run.tokenizer, cfg.arch, run.device, run.dist_env)
    lr_used = run.optimizer.param_groups[0]["lr"]
    step_schedule(run, metrics)
    record = {
        "epoch": epoch + 1,
        "train_loss": loss_sum / max(1, seen),
        "val_accuracy": metrics["accuracy"],
        "val_cer": metrics["cer"],
        "val_type_accuracy": metrics["type_accuracy"],
        "lr": lr_used,
        "bad_images": int(bad),
    }
    run.history.append(record)
    seconds = round(time.time() - epoch_start, 2)  # wall time is provenance, not a metric
    run.epoch_seconds.append(seconds)
    run.epoch_plates.append({"train": int(seen), "val": metrics["n"]})
    improved = metrics["accuracy"] > run.best_acc
    run.best_acc = max(run.best_acc, metrics["accuracy"])
    if run.dist_env.main:
        write_checkpoints(run, epoch, metrics, improved)
        run.log(
            f"epoch {epoch + 1}/{cfg.epochs}: loss {record['train_loss']:.4f}  val exact "
            f"{metrics['accuracy']:.4f}  CER {metrics['cer']:.4f}  type {metrics['type_accuracy']:.3f}  "
            f"lr {record['lr']:.2e}  {seconds:.1f}s" + (f"  ({int(bad)} unreadable images skipped)" if bad else "")
        )
    run.dist_env.barrier()


def write_metrics(run: Run, started: float) -> dict:
    """The run's result; on the main rank also metrics.json (written atomically) with provenance."""
    result = {
        "metrics": run.history[-1] if run.history else {},
        "best_val_accuracy": run.best_acc,
        "history": run.history,
        "checkpoint": str(run.out / "best.pt"),
        "bad_images": sorted(run.bad_paths.items()),
    }
    if run.dist_env.main:
        result["provenance"] = provenance(
            run.cfg.to_dict(), run.data_fp, str(run.device), round(time.time() - started, 1)
        )
        result["provenance"]["epoch_seconds"] = run.epoch_seconds
        result["provenance"]["epoch_plates"] = run.epoch_plates
        tmp = run.out / "metrics.json.tmp"
        tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        os.replace(tmp, run.out / "metrics.json")
    return result


def train(cfg: TrainConfig, resume: bool = False, overwrite: bool = False, progress: bool = True) -> dict:
    """Train per `cfg`; writes best.pt, last.pt and metrics.json to cfg.out and returns the metrics."""
    cfg.validate()
    started = time.time()
    dist_env = Distributed(resolve_device(cfg.device))
    try:
        log = (lambda msg: print(msg, file=sys.stderr, flush=True)) if dist_env.main else (lambda msg: None)
        if dist_env.main:
            check_out_dir(Path(cfg.out), resume, overwrite)
        dist_env.barrier()
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        seed_everything(cfg.seed + dist_env.rank)
        with deterministic_cpu(dist_env.device):
            run = set_up(cfg, dist_env, log, resume)
            for epoch in range(run.start_epoch, cfg.epochs):
                run_epoch(run, epoch, progress)
            return write_metrics(run, started)
    finally:
        dist_env.close()
