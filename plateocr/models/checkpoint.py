"""Checkpoints: state_dicts + config + alphabet, written atomically, loaded with weights_only=True.

A checkpoint is a plain dict of tensors, numbers and strings; it never holds a pickled model.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path

import torch

from ..errors import CheckpointError, PlateOCRError
from .crnn import ENSEMBLE_SEPARATOR, arch_members

FORMAT_VERSION = 1
REQUIRED_KEYS = ("format_version", "arch", "alphabet", "model", "config")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_checkpoint(path: str | Path, payload: dict) -> Path:
    """Write `payload` to `path` atomically: a kill mid-write leaves the previous file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format_version": FORMAT_VERSION, **payload}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; a checkpoint is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Load and check a checkpoint; raises CheckpointError saying what is wrong with the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    # torch.save writes a zip archive; a file cut short has lost its central directory.
    if not zipfile.is_zipfile(path):
        raise CheckpointError(
            f"{path} is not a readable plateocr checkpoint (truncated, or not a file "
            f"that torch.save wrote); retrain or copy the file again"
        )
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{path} is not a readable plateocr checkpoint: it holds pickled Python "
            f"objects (a whole model?), which plateocr never loads; save a state_dict"
        ) from None
    except Exception as exc:  # torch raises many types for damaged archives
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path} is not a readable plateocr checkpoint (damaged: {first_line[:120]})") from None
    if not isinstance(payload, dict) or any(k not in payload for k in REQUIRED_KEYS):
        raise CheckpointError(
            f"{path} is not a plateocr checkpoint (missing "
            f"{', '.join(k for k in REQUIRED_KEYS if not isinstance(payload, dict) or k not in payload)})"
        )
    if payload["format_version"] != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {payload['format_version']}, this plateocr reads format {FORMAT_VERSION}"
        )
    try:
        arch_members(payload["arch"])
    except PlateOCRError:
        raise CheckpointError(f"{path} was made with unknown arch {payload['arch']!r}") from None
    return payload


def trained_deskewed(payload: dict) -> bool:
    """Whether a checkpoint's model (every member of an ensemble) was trained on deskewed crops."""
    config = payload.get("config") or {}
    return all(member.get("deskew", False) for member in config.get("members", [config]))


def as_one_model(checkpoints: list[dict]) -> dict:
    """The checkpoint itself when there is one, else the ensemble of them (join_checkpoints)."""
    return checkpoints[0] if len(checkpoints) == 1 else join_checkpoints(checkpoints)


def join_checkpoints(members: list[dict]) -> dict:
    """One ensemble checkpoint (read as models.EnsembleCRNN) from trained single-arch checkpoints.

    The members' state_dicts sit side by side under `members.K.`; their configs and metrics are kept
    in order, so each member's training stays on record.
    """
    if len(members) < 2:
        raise CheckpointError(f"an ensemble needs at least two members, got {len(members)}")
    if any(ENSEMBLE_SEPARATOR in m["arch"] for m in members):
        raise CheckpointError("an ensemble's members must be single models, not ensembles")
    if len({m["alphabet"] for m in members}) > 1:
        raise CheckpointError("the ensemble's members were trained on different alphabets")
    if len({trained_deskewed(m) for m in members}) > 1:  # one reader prepares every member's crops
        raise CheckpointError("the ensemble's members were trained on crops prepared differently (deskew)")
    arch = ENSEMBLE_SEPARATOR.join(m["arch"] for m in members)
    try:
        arch_members(arch)
    except PlateOCRError as exc:
        raise CheckpointError(str(exc)) from None
    return {
        "arch": arch,
        "alphabet": members[0]["alphabet"],
        "model": {f"members.{k}.{name}": t for k, m in enumerate(members) for name, t in m["model"].items()},
        "config": {"members": [m["config"] for m in members]},
        "metrics": {"members": [m.get("metrics", {}) for m in members]},
    }


def member_checkpoint(payload: dict, arch: str) -> dict:
    """The single model of `arch` from a checkpoint: the checkpoint itself, or that member of an ensemble.

    Lets a run fine-tune from the shipped ensemble (`train --arch sharp --init ...` takes its sharp member).
    """
    members = arch_members(payload["arch"])
    if arch not in members:
        raise CheckpointError(f"the checkpoint is a {payload['arch']} model, with no {arch} model in it")
    if len(members) == 1:
        return payload
    k = members.index(arch)
    prefix = f"members.{k}."
    return {
        **payload,
        "arch": arch,
        "config": payload["config"]["members"][k],
        "metrics": payload.get("metrics", {}).get("members", [{}] * len(members))[k],
        "model": {name[len(prefix) :]: t for name, t in payload["model"].items() if name.startswith(prefix)},
    }
