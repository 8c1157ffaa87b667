"""Checkpoints are written atomically and checked on load."""

import signal
import subprocess
import sys
import textwrap

import pytest
import torch

from plateocr.alphabet import Tokenizer
from plateocr.errors import CheckpointError
from plateocr.models.checkpoint import join_checkpoints, load_checkpoint, member_checkpoint, save_checkpoint
from plateocr.models.crnn import build_model
from plateocr.reading.reader import PlateReader


def payload(arch="compact", alphabet=None):
    tok = Tokenizer(alphabet) if alphabet else Tokenizer()
    return {
        "arch": arch,
        "alphabet": tok.alphabet,
        "model": build_model(arch, tok.num_classes).state_dict(),
        "config": {"arch": arch},
    }


def test_round_trip_with_weights_only(tmp_path):
    path = save_checkpoint(tmp_path / "a.pt", payload())
    loaded = load_checkpoint(path)
    assert loaded["arch"] == "compact" and loaded["format_version"] == 1
    reader = PlateReader.from_checkpoint(loaded)
    assert reader.tokenizer.alphabet == Tokenizer().alphabet
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_checkpoint_decodes_with_its_own_alphabet(tmp_path):
    path = save_checkpoint(tmp_path / "ab.pt", payload(alphabet="皖AB0123456789"))
    reader = PlateReader.from_pretrained(path)
    assert reader.tokenizer.alphabet == "皖AB0123456789"
    assert reader.model.classifier.out_features == 3 + 13


def test_joined_members_read_as_one_ensemble_checkpoint(tmp_path):
    torch.manual_seed(0)
    members = [payload("wide"), payload("sharp")]
    path = save_checkpoint(tmp_path / "ensemble.pt", join_checkpoints(members))
    ensemble = PlateReader.from_pretrained(path)
    assert ensemble.arch == "wide+sharp" and load_checkpoint(path)["config"] == {
        "members": [{"arch": "wide"}, {"arch": "sharp"}]
    }
    images = torch.randint(0, 256, (2, 3, 32, 96), dtype=torch.uint8)
    mean = sum(PlateReader.from_checkpoint(m).forward(images)[0].exp() for m in members) / 2
    assert torch.allclose(ensemble.forward(images)[0].exp(), mean, atol=1e-6)


def test_an_ensembles_member_comes_back_out_as_the_model_it_was():
    torch.manual_seed(0)
    members = [payload("wide"), payload("sharp")]
    joined = join_checkpoints(members)
    sharp = member_checkpoint(joined, "sharp")
    assert sharp["arch"] == "sharp" and sharp["config"] == {"arch": "sharp"}
    assert sharp["model"].keys() == members[1]["model"].keys()
    assert all(torch.equal(sharp["model"][k], members[1]["model"][k]) for k in sharp["model"])
    assert member_checkpoint(members[0], "wide") is members[0]
    with pytest.raises(CheckpointError, match="no compact model"):
        member_checkpoint(joined, "compact")


def test_members_that_cannot_be_joined_are_refused():
    with pytest.raises(CheckpointError, match="at least two members"):
        join_checkpoints([payload("wide")])
    with pytest.raises(CheckpointError, match="different alphabets"):
        join_checkpoints([payload("wide"), payload("sharp", alphabet="皖AB0123456789")])
    with pytest.raises(CheckpointError, match="different input sizes"):
        join_checkpoints([payload("wide"), payload("seed")])
    deskewed = {**payload("sharp"), "config": {"arch": "sharp", "deskew": True}}
    with pytest.raises(CheckpointError, match="prepared differently"):
        join_checkpoints([payload("wide"), deskewed])
    nested = {**join_checkpoints([payload("wide"), payload("sharp")])}
    with pytest.raises(CheckpointError, match="single models"):
        join_checkpoints([nested, payload("wide")])


def test_weights_for_another_arch_are_refused(tmp_path):
    bad = payload()
    bad["model"] = build_model("compact", 50).state_dict()  # another alphabet's head
    path = save_checkpoint(tmp_path / "x.pt", bad)
    with pytest.raises(CheckpointError, match="do not fit"):
        PlateReader.from_pretrained(path)


def test_unknown_arch_and_format_are_refused(tmp_path):
    p = payload()
    p["arch"] = "vit"
    with pytest.raises(CheckpointError, match="unknown arch"):
        load_checkpoint(save_checkpoint(tmp_path / "v.pt", p))
    torch.save({**payload(), "format_version": 99}, tmp_path / "f.pt")
    with pytest.raises(CheckpointError, match="format 99"):
        load_checkpoint(tmp_path / "f.pt")


def test_truncated_and_foreign_files(tmp_path):
    good = save_checkpoint(tmp_path / "good.pt", payload())
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="not a readable plateocr checkpoint"):
        load_checkpoint(truncated)
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="not a readable plateocr checkpoint"):
        load_checkpoint(text)
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_pickled_models_are_never_loaded(tmp_path):
    path = tmp_path / "pickled.pt"
    torch.save({**payload(), "model": build_model("compact", 77)}, path)  # a whole nn.Module
    with pytest.raises(CheckpointError, match="pickled Python objects"):
        load_checkpoint(path)


@pytest.mark.slow
def test_a_kill_while_writing_leaves_the_previous_checkpoint_intact(tmp_path):
    path = save_checkpoint(tmp_path / "last.pt", payload())
    before = path.read_bytes()
    # A child process starts overwriting last.pt with a big payload and is killed mid-write.
    script = textwrap.dedent(f"""
        import os, signal, torch
        import plateocr.models.checkpoint as ck
        real_save = torch.save
        def slow_save(obj, f):
            f.write(b"partial bytes")
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        ck.torch.save = slow_save
        ck.save_checkpoint({str(path)!r}, {{"arch": "compact"}})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert path.read_bytes() == before
    assert load_checkpoint(path)["arch"] == "compact"
    # The half-written temporary file is left aside, never under the checkpoint's name.
    assert all(p.name.startswith(".last.pt.") for p in tmp_path.iterdir() if p.name != "last.pt")
