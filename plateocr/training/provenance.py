"""Where a result came from: code version, git commit, library versions, parameters, data."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def is_report_output(path: str) -> bool:
    """Files `make reports` itself rewrites while it runs; its parameter files are inputs.

    >>> is_report_output("reports/01_explore.html"), is_report_output("reports/params_full.yaml")
    (True, False)
    """
    return path.startswith("reports/") and not path.endswith(".yaml")


def git_state() -> dict:
    """The commit of the repo holding this package and whether its code or parameters have changes.

    Report outputs do not count: 01's outputs are already rewritten when 02 records its provenance.
    """

    def git(*args):
        return subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10
        ).stdout.rstrip()

    try:
        commit = git("rev-parse", "HEAD")
        changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "git_dirty": None}
    dirty = any(not is_report_output(path.split(" -> ")[-1].strip('"')) for path in changed)
    return {"git_commit": commit or None, "git_dirty": dirty if commit else None}


def versions() -> dict:
    import torch

    from .. import __version__

    return {
        "plateocr": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def files_fingerprint(paths) -> dict:
    """Number of files and a hash of their names and sizes (cheap, catches changed data sets)."""
    digest = hashlib.sha256()
    n = 0
    for p in sorted(str(p) for p in paths):
        size = os.path.getsize(p) if os.path.exists(p) else -1
        digest.update(f"{Path(p).name}\t{size}\n".encode())
        n += 1
    return {"n_files": n, "sha256": digest.hexdigest()[:16]}


def provenance(
    parameters: dict, data: dict | None = None, device: str | None = None, wall_time_s: float | None = None
) -> dict:
    """Everything a report records about how it was made."""
    return {
        **versions(),
        **git_state(),
        "argv": sys.argv[:1] and [Path(sys.argv[0]).name] + sys.argv[1:],
        "parameters": parameters,
        "data": data,
        "device": device,
        "hardware": hardware(device) if device else None,
        "wall_time_s": wall_time_s,
    }


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hardware(device: str | None = "cpu") -> str:
    """The machine a result was measured on, in words: the GPU's name, or the CPU model and the
    threads torch uses (a shared or smaller machine explains a slower wall time)."""
    import torch

    if device and str(device).startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    model = platform.processor() or "CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {torch.get_num_threads()} threads of {os.cpu_count()} cores"


def checkpoint_identity(path) -> dict:
    """What names a model in a report: its file, arch and the file's sha256."""
    from ..models.checkpoint import load_checkpoint

    payload = load_checkpoint(path)
    return {"checkpoint": str(path), "arch": payload["arch"], "sha256": file_sha256(path)}


def reader_settings(reader) -> dict:
    """How a PlateReader reads: its model (file, arch, sha256), views, deskewing, rectifying, decoder and the
    precision of its model (int8 for an int8 export; bf16 on hardware with bf16 units unless float32 was asked for)."""
    source = Path(reader.source) if reader.source else None
    return {
        "checkpoint": str(source) if source else None,
        "arch": reader.arch,
        "sha256": file_sha256(source) if source and source.is_file() else None,
        "tta": reader.tta,
        "deskew": reader.deskew,
        "rectify": reader.rectify,
        "decoder": reader.decoder,
        "temperature": reader.temperature,
        "device": str(reader.device),
        "precision": reader.precision,
    }
