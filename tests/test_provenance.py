"""Provenance: versions, the git commit of this checkout, a fingerprint of the data, the device."""

import hashlib
import subprocess

import torch

from plateocr import PlateReader, __version__
from plateocr.reading.reader import DEFAULT_CHECKPOINT, INT8_EXPORTS
from plateocr.training.provenance import (
    checkpoint_identity,
    files_fingerprint,
    git_state,
    hardware,
    is_report_output,
    provenance,
    reader_settings,
)
from tests.conftest import REPO


def test_git_state_names_this_checkouts_commit():
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    state = git_state()
    assert state["git_commit"] == head and isinstance(state["git_dirty"], bool)


def test_report_outputs_are_not_changes_but_their_parameters_are():
    assert is_report_output("reports/03_error_analysis/metrics.json")
    assert not is_report_output("reports/params_full.yaml") and not is_report_output("plateocr/training/loop.py")


def test_fingerprint_changes_with_a_files_size_or_name(tmp_path):
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    a.write_bytes(b"12345")
    b.write_bytes(b"1")
    before = files_fingerprint([a, b])
    assert before["n_files"] == 2 and files_fingerprint([b, a]) == before  # order does not matter
    b.write_bytes(b"12")
    assert files_fingerprint([a, b])["sha256"] != before["sha256"]
    b.rename(tmp_path / "c.jpg")
    assert files_fingerprint([a, tmp_path / "c.jpg"])["sha256"] != before["sha256"]


def test_provenance_records_what_it_is_given_and_the_versions():
    prov = provenance({"lr": 0.1}, {"n_files": 3}, "cuda:0", 12.5)
    assert (prov["parameters"], prov["data"], prov["device"], prov["wall_time_s"]) == (
        {"lr": 0.1},
        {"n_files": 3},
        "cuda:0",
        12.5,
    )
    assert prov["plateocr"] == __version__ and prov["torch"] == torch.__version__


# -- hardware and model identity --


def test_hardware_names_the_cpu_and_its_threads():
    assert "threads of" in hardware("cpu")
    assert provenance({}, None, "cpu")["hardware"] == hardware("cpu")
    assert provenance({}, None, None)["hardware"] is None


def test_checkpoint_identity_and_reader_settings_name_the_same_model():
    identity = checkpoint_identity(DEFAULT_CHECKPOINT)
    assert identity["sha256"] == hashlib.sha256(DEFAULT_CHECKPOINT.read_bytes()).hexdigest()
    reader = PlateReader.from_pretrained(tta="none", deskew=False, decoder="greedy", precision="float32")
    settings = reader_settings(reader)
    assert settings["sha256"] == identity["sha256"] and settings["arch"] == identity["arch"]
    assert (settings["tta"], settings["deskew"], settings["decoder"]) == ("none", False, "greedy")
    assert settings["rectify"] is True and settings["precision"] == "float32"
    exact = PlateReader.from_pretrained(tta="none", precision="float32", rectify=False)
    assert reader_settings(exact)["rectify"] is False
    checkpoint_auto = PlateReader.from_pretrained(DEFAULT_CHECKPOINT)
    assert reader_settings(checkpoint_auto)["precision"] == (
        "bfloat16" if checkpoint_auto.autocast_dtype == torch.bfloat16 else "float32"
    )
    # On a CPU the default reads the int8 export: a report names that file and its precision.
    int8 = reader_settings(PlateReader.from_pretrained())
    assert (int8["checkpoint"], int8["precision"]) == (str(INT8_EXPORTS["fast"]), "int8")
    assert int8["sha256"] == hashlib.sha256(INT8_EXPORTS["fast"].read_bytes()).hexdigest()
