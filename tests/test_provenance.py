"""What a report records about how it was made: hardware, the model's identity, the reader's settings."""
import hashlib

from plateocr import PlateReader
from plateocr.provenance import checkpoint_identity, hardware, provenance, reader_settings
from plateocr.reader import DEFAULT_CHECKPOINT


def test_hardware_names_the_cpu_and_its_threads():
    assert "threads of" in hardware("cpu")
    assert provenance({}, None, "cpu")["hardware"] == hardware("cpu")
    assert provenance({}, None, None)["hardware"] is None


def test_checkpoint_identity_and_reader_settings_name_the_same_model():
    identity = checkpoint_identity(DEFAULT_CHECKPOINT)
    assert identity["sha256"] == hashlib.sha256(DEFAULT_CHECKPOINT.read_bytes()).hexdigest()
    reader = PlateReader.from_pretrained(tta="none", deskew=False, decoder="greedy")
    settings = reader_settings(reader)
    assert settings["sha256"] == identity["sha256"] and settings["arch"] == identity["arch"]
    assert (settings["tta"], settings["deskew"], settings["decoder"]) == ("none", False, "greedy")
