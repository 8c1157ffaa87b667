import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PLATES_DEV = SHARED / "data" / "plates_dev"
CCPD_RAW = SHARED / "data" / "ccpd_raw_sample"

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def plates_dev() -> Path:
    if not PLATES_DEV.is_dir():
        pytest.skip(f"{PLATES_DEV} is not present (../shared beside the repo)")
    return PLATES_DEV


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A compact model trained for 2 short epochs on the bundled real sample (a real, quick run)."""
    from plateocr import SAMPLE_DIR
    from plateocr.config import TrainConfig
    from plateocr.train import train
    out = tmp_path_factory.mktemp("tiny_run")
    cfg = TrainConfig(data=str(SAMPLE_DIR), out=str(out), arch="compact", epochs=2, batch_size=16, seed=1)
    result = train(cfg, progress=False)
    return out, result


def pytest_collection_modifyitems(items):
    """A test that needs the training run of `tiny_run` is slow wherever it lives."""
    for item in items:
        if "tiny_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
