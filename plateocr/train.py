"""The training loop: one process, or many under torchrun (DDP), on CPU or CUDA.

    python -m plateocr train --data PATH --out DIR [--arch wide|compact|seed] [--epochs N] [--resume]
    torchrun --nproc_per_node=N -m plateocr train ...
"""
from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import ConcatDataset, DataLoader, Subset
from tqdm import tqdm   # plain bars: tqdm.auto warns in a kernel without ipywidgets

from .alphabet import BLANK, PLATE_TYPES, Tokenizer
from .checkpoint import load_checkpoint, member_checkpoint, save_checkpoint
from .config import SYNTHETIC, TrainConfig
from .datasets import (CropDataset, SyntheticPlateDataset, list_records, make_collate,
                       seed_worker, split_records)
from .distill import Teacher, distillation_loss
from .errors import PlateOCRError
from .metrics import summarize
from .models import arch_members, build_model, count_parameters
from .provenance import files_fingerprint, provenance
from .reader import PlateReader
from .recolour import RECOLOURED, recolour_blue_plates
from .transforms import BatchAugment

RUN_FILES = ("last.pt", "best.pt", "metrics.json")


# -- set-up ------------------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise PlateOCRError(f"--device {name} asked for, but this machine has no CUDA GPU "
                            f"(use --device cpu or auto)")
    try:
        return torch.device(name)
    except RuntimeError:
        raise PlateOCRError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from None


class Distributed:
    """torchrun's environment: rank, world size; gloo on CPU, nccl on CUDA."""

    def __init__(self, device: torch.device):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = device
        # Under torchrun (it sets all four) even one process joins a group, so DDP runs as launched;
        # a stray MASTER_ADDR alone in a user's environment does not.
        rendezvous = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
        self.launched = self.world > 1 or all(k in os.environ for k in rendezvous)
        if self.launched:
            if device.type == "cuda":
                if self.local_rank >= torch.cuda.device_count():
                    raise PlateOCRError(f"local rank {self.local_rank} has no GPU: this node has "
                                        f"{torch.cuda.device_count()}; start at most that many processes per node")
                self.device = torch.device("cuda", self.local_rank)
                torch.cuda.set_device(self.device)
            if not dist.is_initialized():
                dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def sum(self, *values: float) -> list[float]:
        if self.world == 1:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    def gather(self, items: list) -> list:
        if self.world == 1:
            return items
        parts = [None] * self.world
        dist.all_gather_object(parts, items)
        return [x for part in parts for x in part]

    def broadcast(self, value):
        if self.world == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self):
        if self.world > 1:
            dist.barrier()

    def close(self):
        if self.launched and dist.is_initialized():
            dist.destroy_process_group()


# -- data --------------------------------------------------------------------------------
def build_datasets(cfg: TrainConfig, log) -> tuple:
    """Train and validation datasets and a fingerprint of the data they come from."""
    size = cfg.input_size
    types = {"type_weights": cfg.synthetic_type_weights(), "deskew": cfg.deskew}
    # Held-out synthetic plates come from a seed no training epoch uses.
    synthetic_val = lambda: SyntheticPlateDataset(cfg.synthetic_val, size, cfg.seed + 7919, cfg.cache,
                                                  cfg.render_workers, **types)
    if cfg.data == SYNTHETIC:
        train = SyntheticPlateDataset(cfg.synthetic_train, size, cfg.seed, cfg.cache,
                                      cfg.render_workers, **types)
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
    elif cfg.val or cfg.val_split:   # another data set, or another split of this one (CCPD's val)
        train_records = records
        val_data = cfg.val or cfg.data
        val_records, val_skipped = list_records(val_data, split=cfg.val_split, held_out=bool(cfg.val))
        log(f"validation data {val_data}{f' (split {cfg.val_split})' if cfg.val_split else ''}: "
            f"{len(val_records)} plates; {val_skipped.summary()}")
    else:
        train_records, val_records = split_records(records, cfg.val_fraction, cfg.seed)
    train = CropDataset(train_records, size, cache=cfg.cache, deskew=cfg.deskew)
    if cfg.real_repeat > 1:   # each copy is augmented afresh (in the training loop)
        train = ConcatDataset([train] * cfg.real_repeat)
    if cfg.mix_synthetic:
        train = ConcatDataset([train, SyntheticPlateDataset(cfg.mix_synthetic, size, cfg.seed,
                                                            cfg.cache, cfg.render_workers, **types)])
    val = CropDataset(val_records, size, cache=cfg.cache, deskew=cfg.deskew) if val_records else synthetic_val()
    fingerprint = {"train": files_fingerprint(r.path for r in train_records),
                   "val": files_fingerprint(r.path for r in val_records) if val_records else SYNTHETIC,
                   "skipped": len(skipped), "mix_synthetic": cfg.mix_synthetic}
    return train, val, fingerprint


def _set_epoch(dataset, epoch: int) -> None:
    for part in getattr(dataset, "datasets", [dataset]):
        if hasattr(part, "set_epoch"):
            part.set_epoch(epoch)


# -- one epoch ---------------------------------------------------------------------------
def ctc_and_type_loss(model, batch, cfg: TrainConfig, device, autocast, augment=None, teacher=None):
    images = batch.images.to(device, non_blocking=True)
    plate_types = batch.plate_types.to(device)
    if cfg.recolour_p:
        images, plate_types = recolour_blue_plates(images, plate_types, cfg.recolour_p, PLATE_TYPES.index("blue"),
                                                   {c: PLATE_TYPES.index(c) for c in RECOLOURED})
    if augment is not None:
        images = augment(images)
    if cfg.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    with autocast():
        log_probs, type_logits = model(images)
        soft_targets = teacher(images) if teacher is not None else None
    log_probs = log_probs.float()
    input_lengths = torch.full((images.shape[0],), log_probs.shape[0], dtype=torch.long)
    ctc = F.ctc_loss(log_probs, batch.targets.to(device), input_lengths, batch.target_lengths,
                     blank=BLANK, zero_infinity=True)
    type_loss = F.cross_entropy(type_logits.float(), plate_types)
    loss = ctc + cfg.type_loss_weight * type_loss
    if soft_targets is not None:
        loss = loss + cfg.distill_weight * distillation_loss(log_probs, soft_targets, cfg.distill_temperature)
    return loss


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
        for result, label, true_type in zip(reader.decode(*reader.forward(batch.images)), batch.labels,
                                            batch.plate_types.tolist()):
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
        raise PlateOCRError(f"{out} already holds a run ({', '.join(existing)}); pass --resume to "
                            f"continue it, --overwrite to replace it, or choose another --out")
    if resume and not (out / "last.pt").exists():
        raise PlateOCRError(f"--resume: no last.pt in {out} to resume from")


def rng_state() -> dict:
    np_state = np.random.get_state()
    return {"torch": torch.get_rng_state(), "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "numpy_pos": int(np_state[2]), "python": random.getstate()}


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
        rnn.flatten_parameters()   # the deep copy breaks cuDNN's single weight buffer (a no-op on CPU)
    if resumed is not None and "train_model" in resumed:
        ema.module.load_state_dict(resumed["model"])
        ema.n_averaged.fill_(resumed["ema_updates"])
    return ema


def cpu_has_bf16() -> bool:
    """Whether oneDNN finds bf16 instructions (AVX512-BF16, AMX) on this CPU; True where it cannot tell."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return True


def train(cfg: TrainConfig, resume: bool = False, overwrite: bool = False, progress: bool = True) -> dict:
    """Train per `cfg`; writes best.pt, last.pt and metrics.json to cfg.out and returns the metrics."""
    cfg.validate()
    started = time.time()
    device = resolve_device(cfg.device)
    dist_env = Distributed(device)
    device = dist_env.device
    log = (lambda msg: print(msg, file=sys.stderr, flush=True)) if dist_env.main else (lambda msg: None)
    out = Path(cfg.out)
    if dist_env.main:
        check_out_dir(out, resume, overwrite)
    dist_env.barrier()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed + dist_env.rank)
    # Deterministic kernels on the CPU (same parameters, same metrics); put back afterwards so a later
    # CUDA run in the same process does not warn about its non-deterministic CTC backward.
    determinism = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    amp_dtype = None
    if cfg.amp:   # bf16 on a CPU and on GPUs that have it; fp16 with a grad scaler on older GPUs
        if device.type == "cuda":
            amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        elif device.type == "cpu":
            amp_dtype = torch.bfloat16
            if not cpu_has_bf16():
                log("note: this CPU has no bf16 instructions: --amp trains correctly but slower than float32")
        else:
            log(f"note: --amp covers CUDA and the CPU; training in float32 on {device.type}")
    autocast = lambda: torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None)
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)

    tokenizer = Tokenizer()
    train_set, val_set, data_fp = build_datasets(cfg, log)
    model = build_model(cfg.arch, tokenizer.num_classes)
    if cfg.init_checkpoint and not resume:
        init = load_checkpoint(cfg.init_checkpoint)
        if init["alphabet"] != tokenizer.alphabet or cfg.arch not in arch_members(init["arch"]):
            raise PlateOCRError(f"--init {cfg.init_checkpoint} is a {init['arch']} model with another "
                                f"alphabet or arch than this run ({cfg.arch})")
        init = member_checkpoint(init, cfg.arch)   # an ensemble's member of this run's arch
        model.load_state_dict(init["model"])
        log(f"initialised from {cfg.init_checkpoint}")
    model.to(device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.lr_schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs, eta_min=cfg.lr * 0.01)
    else:
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5,
                                                               patience=cfg.scheduler_patience)
    history, start_epoch, best_acc = [], 0, -1.0
    if resume:
        state = load_checkpoint(out / "last.pt")
        if state["arch"] != cfg.arch or state["alphabet"] != tokenizer.alphabet:
            raise PlateOCRError(f"--resume: {out / 'last.pt'} is a {state['arch']} run, not {cfg.arch}")
        saved_schedule = state["config"].get("lr_schedule", "plateau")
        if saved_schedule != cfg.lr_schedule:
            raise PlateOCRError(f"--resume: {out / 'last.pt'} used lr_schedule {saved_schedule!r}, not "
                                f"{cfg.lr_schedule!r}; resume with the same schedule")
        model.load_state_dict(state.get("train_model", state["model"]))
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if cfg.lr_schedule == "cosine":   # a run extended with a larger --epochs decays over the new total
            scheduler.T_max = cfg.epochs
        history, start_epoch, best_acc = list(state["history"]), state["epoch"] + 1, state["best_accuracy"]
        set_rng_state(state["rng"])
        log(f"resumed from {out / 'last.pt'} after epoch {state['epoch'] + 1}")
    ema = weight_average(model, cfg, state if resume else None)
    if dist_env.launched:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    else:
        ddp_model = model
    log(f"{cfg.arch}: {count_parameters(model) / 1e6:.2f} M parameters on {device} "
        f"(world size {dist_env.world}{', DDP' if dist_env.launched else ''}); "
        f"{len(train_set)} training and {len(val_set)} validation plates")

    collate = make_collate(tokenizer)
    augment = (BatchAugment.detector_crops() if cfg.detector_crops else BatchAugment()) if cfg.augment else None
    teacher = None
    if cfg.teacher:
        teacher = Teacher(cfg.teacher, device, cfg.teacher_tta)
        teacher.check_student(cfg.arch, tokenizer.alphabet)
        log(f"distilling from {cfg.teacher} ({teacher.arch}, {cfg.teacher_tta} views)")
    val_loader = DataLoader(Subset(val_set, range(dist_env.rank, len(val_set), dist_env.world)),
                            batch_size=cfg.batch_size, num_workers=cfg.workers, collate_fn=collate,
                            worker_init_fn=seed_worker, generator=torch.Generator().manual_seed(cfg.seed))
    bad_paths: dict[str, str] = {}
    epoch_seconds: list[float] = []
    for epoch in range(start_epoch, cfg.epochs):
        epoch_start = time.time()
        _set_epoch(train_set, epoch)
        # The order of an epoch depends only on (seed, epoch), so a resumed run sees the same batches.
        order = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        indices = torch.randperm(len(train_set), generator=order).tolist()
        indices = indices[dist_env.rank::dist_env.world]
        per_rank = len(train_set) // dist_env.world     # equal step counts keep DDP ranks in step
        loader = DataLoader(Subset(train_set, indices[:per_rank]), batch_size=cfg.batch_size,
                            num_workers=cfg.workers, collate_fn=collate, drop_last=len(indices) > cfg.batch_size,
                            worker_init_fn=seed_worker, generator=torch.Generator().manual_seed(cfg.seed + epoch),
                            persistent_workers=False, pin_memory=device.type == "cuda")
        ddp_model.train()
        loss_sum, seen, bad = 0.0, 0, 0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not (progress and dist_env.main),
                   leave=False, file=sys.stderr)
        for batch in bar:
            bad += len(batch.bad)
            bad_paths.update((b.path, b.reason) for b in batch.bad)
            if not batch.labels:
                continue
            loss = ctc_and_type_loss(ddp_model, batch, cfg, device, autocast, augment, teacher)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            if ema is not None:
                ema.update_parameters(model)
            n = len(batch.labels)
            loss_sum, seen = loss_sum + float(loss.detach()) * n, seen + n
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}")
        loss_sum, seen, bad = dist_env.sum(loss_sum, seen, bad)
        if bad and bad / max(1, seen + bad) > cfg.max_bad_fraction:
            raise PlateOCRError(f"{int(bad)} of {int(seen + bad)} training images could not be read "
                                f"(more than max_bad_fraction={cfg.max_bad_fraction}); first: "
                                + "; ".join(f"{p}: {r}" for p, r in list(bad_paths.items())[:3]))
        validated = ddp_model if ema is None else ema.module
        metrics = evaluate_model(validated, val_loader, tokenizer, cfg.arch, device, dist_env)
        lr_used = optimizer.param_groups[0]["lr"]
        if cfg.lr_schedule == "cosine":
            scheduler.step()
        else:   # exact accuracy drives the plateau; CER breaks its early ties (accuracy stays 0 a while)
            scheduler.step(metrics["accuracy"] - 0.1 * metrics["cer"])
        record = {"epoch": epoch + 1, "train_loss": loss_sum / max(1, seen), "val_accuracy": metrics["accuracy"],
                  "val_cer": metrics["cer"], "val_type_accuracy": metrics["type_accuracy"],
                  "lr": lr_used, "bad_images": int(bad)}
        history.append(record)
        seconds = round(time.time() - epoch_start, 2)   # wall time is provenance, not a metric
        epoch_seconds.append(seconds)
        improved = metrics["accuracy"] > best_acc
        best_acc = max(best_acc, metrics["accuracy"])
        if dist_env.main:
            payload = {"arch": cfg.arch, "alphabet": tokenizer.alphabet,
                       "model": (model if ema is None else ema.module).state_dict(),
                       "config": cfg.to_dict(), "optimizer": optimizer.state_dict(),
                       "scheduler": scheduler.state_dict(), "epoch": epoch, "best_accuracy": best_acc,
                       "history": history, "metrics": metrics, "rng": rng_state()}
            if ema is not None:   # resuming needs the weights being trained, not only their average
                payload.update(train_model=model.state_dict(), ema_updates=int(ema.n_averaged))
            if improved:
                save_checkpoint(out / "best.pt", payload)
            save_checkpoint(out / "last.pt", payload)
            log(f"epoch {epoch + 1}/{cfg.epochs}: loss {record['train_loss']:.4f}  val exact "
                f"{metrics['accuracy']:.4f}  CER {metrics['cer']:.4f}  type {metrics['type_accuracy']:.3f}  "
                f"lr {record['lr']:.2e}  {seconds:.1f}s" + (f"  ({int(bad)} unreadable images skipped)" if bad else ""))
        dist_env.barrier()

    result = {"metrics": history[-1] if history else {}, "best_val_accuracy": best_acc, "history": history,
              "checkpoint": str(out / "best.pt"), "bad_images": sorted(bad_paths.items())}
    if dist_env.main:
        result["provenance"] = provenance(cfg.to_dict(), data_fp, str(device), round(time.time() - started, 1))
        result["provenance"]["epoch_seconds"] = epoch_seconds
        tmp = out / "metrics.json.tmp"
        tmp.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        os.replace(tmp, out / "metrics.json")
    dist_env.close()
    torch.use_deterministic_algorithms(determinism[0], warn_only=determinism[1])
    return result
