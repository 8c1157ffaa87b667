"""The CLI's exact forms, its output formats, and one-line errors for user mistakes."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from plateocr import SAMPLE_DIR
from tests.conftest import REPO

SAMPLE_FILES = sorted(SAMPLE_DIR.glob("*.jpg"))
# Sample plates the shipped model reads right (the sample is unseen: it misreads a few others).
FILES = [SAMPLE_DIR / f"{label}.jpg" for label in ("浙D911SY", "苏E7R5Y0", "豫DYA080")]

pytestmark = pytest.mark.slow  # each runs the CLI in a subprocess


def cli(*args, check=True):
    proc = subprocess.run(
        [sys.executable, "-m", "plateocr", *map(str, args)], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    if check:
        assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def test_evaluate_json_equals_the_library_summary(tiny_run):
    from plateocr import PlateReader
    from plateocr.data.datasets import list_records
    from plateocr.scoring.evaluation import evaluate_reader

    out, _ = tiny_run
    proc = cli("evaluate", "--data", SAMPLE_DIR, "--checkpoint", out / "best.pt", "--json")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    expected, _ = evaluate_reader(
        PlateReader.from_pretrained(out / "best.pt"), list_records(SAMPLE_DIR, held_out=True)[0]
    )
    assert result.pop("plates_per_s") > 0 and expected.pop("plates_per_s") > 0
    assert result == {**expected, "skipped": 0} and result["n"] == len(SAMPLE_FILES)


def test_evaluate_names_each_unreadable_file_and_why(tmp_path):
    folder = tmp_path / "crops"
    folder.mkdir()
    shutil.copy(FILES[0], folder / FILES[0].name)
    (folder / "皖A12345.jpg").write_bytes(FILES[1].read_bytes()[:600])  # a truncated JPEG
    (folder / "京AD12345.jpg").write_bytes(b"")
    proc = cli("evaluate", "--data", folder, "--tta", "none", "--json")
    assert json.loads(proc.stdout.splitlines()[-1])["unreadable"] == 2
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2 and "Traceback" not in proc.stderr
    assert "皖A12345.jpg: not a readable image (Truncated File Read)" in warnings[1]
    assert "京AD12345.jpg: empty file (0 bytes)" in warnings[0]
    assert "2 image(s) could not be read" in proc.stderr


@pytest.mark.parametrize("command", ["predict", "evaluate"])
def test_damaged_images_never_crash_the_cli(tmp_path, command):
    """Fuzzing the command line: a real JPEG cut at every 25th byte and with random bytes changed;
    each file that cannot be read is named on stderr and counted, and nothing ends in a traceback."""
    from tests.test_images import SMALLEST, damaged_copies

    folder = tmp_path / "crops"
    folder.mkdir()
    for name, data in damaged_copies(SMALLEST, n_flips=30, seed=1):
        if name.startswith("flip") or int(name[3:]) % 25 == 0:
            (folder / f"{SMALLEST.stem}_{name}.jpg").write_bytes(data)
    args = [folder] if command == "predict" else ["--data", folder, "--json"]
    proc = cli(command, *args, "--tta", "none", check=False)
    assert proc.returncode == (1 if command == "predict" else 0), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    named = {line.split(": ", 1)[1].split(": ")[0] for line in proc.stderr.splitlines() if line.startswith("warning: ")}
    cuts = {str(p) for p in folder.glob("*_cut*.jpg")}
    assert cuts <= named  # a cut JPEG never decodes; a flipped one may
    assert f"{len(named)} image(s) could not be read" in proc.stderr
    if command == "evaluate":
        assert json.loads(proc.stdout.splitlines()[-1])["unreadable"] == len(named)


def test_predict_prints_path_plate_confidence(tiny_run):
    out, _ = tiny_run
    proc = cli("predict", "--checkpoint", out / "best.pt", FILES[0], FILES[1])
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 2
    for line, path in zip(lines, FILES[:2]):
        p, plate, conf = line.split("\t")
        assert p == str(path) and 0.0 <= float(conf) <= 1.0


def test_predict_with_test_time_augmentation_and_a_bad_choice():
    proc = cli("predict", "--tta", "shift", FILES[0])
    assert proc.stdout.split("\t")[1] == FILES[0].stem
    bad = cli("predict", "--tta", "flip", FILES[0], check=False)
    assert bad.returncode == 2 and "invalid choice: 'flip'" in bad.stderr


def test_predict_reads_without_deskewing_when_asked():
    plain = cli("predict", "--no-deskew", "--tta", "none", "--json", FILES[0])
    assert json.loads(plain.stdout)["plate"] == FILES[0].stem


def test_predict_reads_boxes_as_they_are_when_asked(tmp_path):
    from PIL import Image

    from plateocr.data.perturbations import perturb

    loose = tmp_path / "loose.png"
    perturb(Image.open(FILES[0]), "loose_box", 0.3, np.random.default_rng(0)).save(loose)
    rectified = json.loads(cli("predict", "--tta", "none", "--json", loose).stdout)
    as_it_is = json.loads(cli("predict", "--no-rectify", "--tta", "none", "--json", loose).stdout)
    assert rectified["plate"] == FILES[0].stem
    assert as_it_is["confidence"] != rectified["confidence"]


def test_predict_reads_in_float32_when_asked():
    exact = cli("predict", "--model", "fast", "--precision", "float32", "--json", FILES[0])
    auto = cli("predict", "--model", "fast", "--json", FILES[0])
    assert json.loads(exact.stdout)["plate"] == json.loads(auto.stdout)["plate"] == FILES[0].stem


def test_predict_runs_on_the_device_asked_for():
    on_cpu = cli("predict", "--device", "cpu", "--tta", "none", "--json", FILES[0])
    assert json.loads(on_cpu.stdout)["plate"] == FILES[0].stem
    on_gpu = cli("predict", "--device", "cuda", "--tta", "none", "--json", FILES[0], check=False)
    if torch.cuda.is_available():
        assert on_gpu.returncode == 0 and json.loads(on_gpu.stdout)["plate"] == FILES[0].stem
    else:
        assert on_gpu.returncode == 2 and "no CUDA GPU" in on_gpu.stderr
        assert len(on_gpu.stderr.strip().splitlines()) == 1


def test_predict_json_and_folders(tiny_run):
    out, _ = tiny_run
    proc = cli("predict", "--json", "--checkpoint", out / "best.pt", SAMPLE_DIR)
    rows = [json.loads(line) for line in proc.stdout.strip().splitlines()]
    assert len(rows) == len(SAMPLE_FILES)
    assert {"path", "plate", "confidence", "plate_type"} <= set(rows[0])
    assert all(r["plate_type"] in ("blue", "green", "yellow", "white", "black", "yellow_double") for r in rows)
    in_workers = cli(
        "predict", "--json", "--checkpoint", out / "best.pt", "--workers", "2", "--batch-size", "16", SAMPLE_DIR
    )
    assert [(r["path"], r["plate"]) for r in map(json.loads, in_workers.stdout.strip().splitlines())] == [
        (r["path"], r["plate"]) for r in rows
    ]
    bad = cli("predict", "--workers", "-1", FILES[0], check=False)
    assert bad.returncode == 2 and bad.stderr.strip().endswith("--workers must be >= 0, got -1")


def test_predict_reports_unreadable_files_and_goes_on(tiny_run, tmp_path):
    out, _ = tiny_run
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really")
    proc = cli("predict", "--checkpoint", out / "best.pt", broken, FILES[0], check=False)
    assert proc.returncode == 1
    assert proc.stdout.count("\n") == 1 and "broken.jpg" in proc.stderr and "Traceback" not in proc.stderr
    folder = tmp_path / "crops"  # a folder: other files in it are reported, not read
    folder.mkdir()
    (folder / "notes.txt").write_text("not a plate")
    broken.rename(folder / "broken.jpg")
    shutil.copy(FILES[0], folder / FILES[0].name)
    proc = cli("predict", "--checkpoint", out / "best.pt", folder, check=False)
    assert proc.returncode == 1 and proc.stdout.count("\n") == 1
    assert "skipped 1 non-image file(s)" in proc.stderr and "notes.txt" in proc.stderr and "broken.jpg" in proc.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["evaluate", "--data", "/nonexistent"], "does not exist"),
        (["predict", "--checkpoint", "/nonexistent.pt", "x.jpg"], "does not exist"),
        (["train", "--data", "sample", "--out", "/tmp/plateocr-cli-test", "--epochs", "0"], "epochs must be"),
        (["train", "--data", "/nonexistent", "--out", "/tmp/plateocr-cli-test2"], "does not exist"),
    ],
)
def test_user_mistakes_give_one_line_errors(args, message):
    proc = cli(*args, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_non_checkpoint_file_is_refused(tmp_path):
    fake = tmp_path / "model.pt"
    fake.write_text("not a checkpoint")
    proc = cli("predict", "--checkpoint", fake, FILES[0], check=False)
    assert proc.returncode == 2 and "not a readable plateocr checkpoint" in proc.stderr


def test_synth_writes_readable_label_named_files(tmp_path):
    cli("synth", "--n", 12, "--out", tmp_path / "s", "--seed", 3)
    from plateocr.data.datasets import list_records

    records, skipped = list_records(tmp_path / "s")
    assert len(records) == 12 and len(skipped) == 0
    proc = cli("synth", "--n", 2, "--out", tmp_path / "s", check=False)
    assert proc.returncode == 2 and "already holds images" in proc.stderr


def test_evaluate_scores_one_split_and_names_its_missing_photos(ccpd_trees):
    root, _ = ccpd_trees
    proc = cli("evaluate", "--data", root, "--split", "ccpd_blur", "--tta", "none", "--json")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["n"] == 2 and result["skipped"] == 1
    assert "listed in split/ccpd_blur.txt but missing" in proc.stderr
    bad = cli("evaluate", "--data", root, "--split", "tset", check=False)
    assert bad.returncode == 2 and "no split 'tset': choose one of" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_train_help_shows_the_split_options():
    out = " ".join(cli("train", "--help").stdout.split())  # argparse wraps the help text
    assert "--split" in out and "--val-split" in out and "official split" in out
