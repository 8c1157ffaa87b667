"""ONNX export: a dynamic batch axis, and onnxruntime reads the same plates as torch."""

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

from plateocr import SAMPLE_DIR, PlateReader
from plateocr.data.images import load_image
from plateocr.data.perturbations import perturb
from plateocr.data.recolour import recolour_image
from plateocr.errors import PlateOCRError
from plateocr.reading.export import export_onnx
from plateocr.research.recipe import STUDENT
from tests.conftest import PLATES_DEV, REPO

pytestmark = pytest.mark.slow  # an ONNX export, and the CLI in subprocesses


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory):
    return export_onnx("accurate", tmp_path_factory.mktemp("onnx") / "accurate.onnx")


def real_crops():
    return sorted(PLATES_DEV.glob("*.jpg"))[::3] if PLATES_DEV.is_dir() else sorted(SAMPLE_DIR.glob("*.jpg"))


def assert_same_reads(torch_reader, onnx_reader):
    files = real_crops()
    assert torch_reader.deskew and onnx_reader.deskew  # the export says how its crops are prepared
    a, b = torch_reader.read(files), onnx_reader.read(files)
    assert [r.plate for r in a] == [r.plate for r in b]
    assert [r.plate_type for r in a] == [r.plate_type for r in b]
    assert np.allclose([r.confidence for r in a], [r.confidence for r in b], atol=1e-3)


def test_the_accurate_ensembles_onnx_export_reads_as_torch_does(onnx_file):
    # An export is float32: compared with torch in float32 (bf16 convolutions move confidences ~1e-3).
    onnx_reader = PlateReader.from_pretrained(onnx_file)
    assert_same_reads(PlateReader.from_pretrained("accurate", precision="float32"), onnx_reader)


def test_the_default_students_onnx_export_reads_as_torch_does(tmp_path):
    onnx_reader = PlateReader.from_pretrained(export_onnx(None, tmp_path / "fast.onnx"))
    assert (onnx_reader.arch, onnx_reader.tta) == (STUDENT, "none")
    assert_same_reads(PlateReader.from_pretrained(precision="float32"), onnx_reader)


def test_the_int8_export_is_smaller_and_reads_real_crops_as_the_float32_export(tmp_path):
    float_path, int8_path = export_onnx(None, tmp_path / "f.onnx"), export_onnx(None, tmp_path / "q.onnx", int8=True)
    assert int8_path.stat().st_size < 0.4 * float_path.stat().st_size  # int8 weights: a quarter of float32's
    int8_reader = PlateReader.from_pretrained(int8_path)
    assert int8_reader.onnx_session.get_modelmeta().custom_metadata_map["plateocr_precision"] == "int8"
    # Bright crops and dark characters on white drive activations hardest: on CPUs without VNNI
    # an export with 8-bit weights saturated there (30 % and 6 % of plates_dev misread).
    crops = [load_image(f) for f in real_crops()]
    bright = [perturb(c, "overexposed", 1.8, np.random.default_rng(i)) for i, c in enumerate(crops)]
    white = [recolour_image(c, "white") for c in crops]
    for images in (crops, bright, white):
        plain, quantized = PlateReader.from_pretrained(float_path).read(images), int8_reader.read(images)
        # The same plates up to int8 rounding.
        assert sum(a.plate != b.plate for a, b in zip(plain, quantized)) <= max(1, len(images) // 100)
    assert np.median([r.confidence for r in quantized]) > 0.9  # the calibration travels with the model


def test_shipping_the_default_model_writes_its_int8_export_beside_it(tmp_path):
    from plateocr.reading.reader import INT8_EXPORTS, MODELS
    from plateocr.research.recipe import write_shipped

    write_shipped([(MODELS["fast"], MODELS["fast"].name)], tmp_path)
    int8 = PlateReader.from_pretrained(tmp_path / INT8_EXPORTS["fast"].name)
    assert (tmp_path / MODELS["fast"].name).read_bytes() == MODELS["fast"].read_bytes()
    assert int8.precision == "int8" and int8.temperature == PlateReader.from_pretrained("fast").temperature


def test_the_lstm_ensemble_exports_without_a_false_batch_size_warning_and_reads_any_batch(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reader = PlateReader.from_pretrained(export_onnx("accurate", tmp_path / "accurate.onnx"))
    assert not [w for w in caught if "batch_size" in str(w.message)]
    one = reader.read(SAMPLE_DIR / "苏E7R5Y0.jpg")
    for n in (1, 5, 64):
        assert reader.read([SAMPLE_DIR / "苏E7R5Y0.jpg"] * n) == [one] * n


def test_cli_int8_export_then_evaluate_with_onnx(tmp_path):
    out = tmp_path / "m.onnx"
    subprocess.run(
        [sys.executable, "-m", "plateocr", "export", "--int8", "--onnx", str(out)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "plateocr", "evaluate", "--data", "sample", "--onnx", str(out), "--json"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["n"] == len(list(SAMPLE_DIR.glob("*.jpg"))) and summary["accuracy"] > 0.85


def test_a_foreign_onnx_file_is_refused(tmp_path):
    bad = tmp_path / "x.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(PlateOCRError, match="not a loadable ONNX model"):
        PlateReader.from_pretrained(bad)


def test_the_onnx_thread_count_is_set_when_the_session_is_created(onnx_file):
    for threads in (1, 3):
        reader = PlateReader.from_pretrained(onnx_file, onnx_threads=threads)
        assert reader.onnx_session.get_session_options().intra_op_num_threads == threads


def test_the_export_carries_how_its_model_reads_and_the_onnx_reader_applies_it(tmp_path):
    from plateocr.models.checkpoint import load_checkpoint, save_checkpoint
    from plateocr.reading.reader import DEFAULT_CHECKPOINT

    checkpoint = save_checkpoint(
        tmp_path / "calibrated.pt",
        {**load_checkpoint(DEFAULT_CHECKPOINT), "tta": "none", "temperature": 0.5, "confidence_map": [0.6, 1.5]},
    )
    onnx_reader = PlateReader.from_pretrained(export_onnx(checkpoint, tmp_path / "calibrated.onnx"))
    torch_reader = PlateReader.from_pretrained(checkpoint, precision="float32")
    how = lambda r: (r.tta, r.temperature, r.confidence_map)
    assert how(onnx_reader) == how(torch_reader) == ("none", 0.5, (0.6, 1.5))
    files = sorted(SAMPLE_DIR.glob("*.jpg"))[:6]
    assert np.allclose(
        [r.confidence for r in onnx_reader.read(files)], [r.confidence for r in torch_reader.read(files)], atol=1e-3
    )


def test_export_without_onnx_names_the_extra_in_one_line(tmp_path):
    code = (
        "import sys; sys.modules['onnx'] = None; from plateocr.cli import main; "
        f"sys.exit(main(['export', '--onnx', {str(tmp_path / 'x.onnx')!r}]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: export needs the onnx package: pip install 'plateocr[export]'"
