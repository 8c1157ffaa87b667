"""PlateReader, the one way to read plates: every input kind, lists, errors, a light import."""

import subprocess
import sys
from dataclasses import asdict

import numpy as np
import pytest
import torch
from PIL import Image

from plateocr import SAMPLE_DIR, PlateReader, PlateResult
from plateocr.alphabet import PLATE_TYPES
from plateocr.errors import PlateOCRError
from plateocr.reading import reader as reader_module

FILE = SAMPLE_DIR / "浙D911SY.jpg"


@pytest.fixture(scope="module")
def reader(tiny_run):
    return PlateReader.from_pretrained(tiny_run[0] / "best.pt")


def test_every_input_kind_reads_the_same(reader):
    pil = Image.open(FILE).convert("RGB")
    arr = np.array(pil)
    tensor = torch.from_numpy(arr).permute(2, 0, 1)
    results = [reader.read(x) for x in (FILE, str(FILE), pil, arr, tensor, tensor.float() / 255)]
    assert len({(r.plate, round(r.confidence, 5)) for r in results}) == 1
    assert results[0].plate_type in PLATE_TYPES and 0.0 <= results[0].confidence <= 1.0
    assert results[0].path == str(FILE) and results[2].path is None


def test_grayscale_and_rgba_inputs(reader):
    pil = Image.open(FILE)
    gray = reader.read(np.asarray(pil.convert("L")))
    rgba = reader.read(pil.convert("RGBA"))
    assert gray.plate_type in PLATE_TYPES and rgba.plate == reader.read(pil).plate


def test_a_list_returns_a_list_in_order(reader):
    files = (sorted(SAMPLE_DIR.glob("*.jpg")) * 2)[:70]  # more than one internal batch
    batch = reader.read(files, batch_size=32)
    one_by_one = [reader.read(f) for f in files[:5]]
    assert isinstance(batch, list) and len(batch) == 70
    assert [r.path for r in batch] == [str(f) for f in files]
    assert [r.plate for r in batch[:5]] == [r.plate for r in one_by_one]


def test_read_files_matches_read_and_reports_bad_files(reader, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_text("nope")
    files = [FILE, broken, SAMPLE_DIR / "苏E7R5Y0.jpg"]
    results = list(reader.read_files(files, batch_size=2))
    assert [r.path for r in results] == [str(f) for f in files]
    assert results[1].error and "not a readable image" in results[1].error and results[1].plate == ""
    assert results[0].plate == reader.read(FILE).plate
    assert "error=" in repr(results[1]) and "plate=" in repr(results[0])


def test_read_files_in_a_worker_reads_the_same_and_gives_its_threads_back(reader, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_text("nope")
    files = sorted(SAMPLE_DIR.glob("*.jpg"))[:5] + [broken]
    threads = torch.get_num_threads()
    one_process = list(reader.read_files(files, batch_size=2))
    with_worker = list(reader.read_files(files, batch_size=2, workers=1))
    assert [(r.path, r.plate, r.error is None) for r in with_worker] == [
        (r.path, r.plate, r.error is None) for r in one_process
    ]
    assert torch.get_num_threads() == threads


def test_an_onnx_reader_reads_the_same_beside_a_worker_on_a_session_of_fewer_threads(monkeypatch):
    int8 = PlateReader.from_pretrained(onnx_threads=2)
    files = sorted(SAMPLE_DIR.glob("*.jpg"))[:6]
    session, opened = int8.graph.model.session, []
    real_session = reader_module._onnx_session
    monkeypatch.setattr(reader_module, "_onnx_session", lambda path, n: opened.append(n) or real_session(path, n))
    with_worker = list(int8.read_files(files, batch_size=2, workers=1))
    assert opened == [1] and int8.graph.model.session is session  # one thread beside the worker, then given back
    assert [r.plate for r in with_worker] == [r.plate for r in int8.read(files)]


def test_workers_deskew_the_crops_they_prepare_and_the_model_reads_them_as_it_would_have(monkeypatch):
    default = PlateReader.from_pretrained()
    assert default.deskew
    files = sorted(SAMPLE_DIR.glob("*.jpg"))[:7]
    alone = list(default.read_files(files, batch_size=3))
    # The workers run the data module's deskewing; the reading graph itself must not run it again.
    monkeypatch.setattr("plateocr.reading.graph.deskew_batch", lambda images: pytest.fail("deskewed twice"))
    with_workers = list(default.read_files(files, batch_size=3, workers=2))
    assert [(r.plate, r.confidence, r.plate_type) for r in with_workers] == [
        (r.plate, r.confidence, r.plate_type) for r in alone
    ]


def test_workers_prepare_only_where_preparing_costs_as_much_as_reading(reader, monkeypatch):
    from plateocr.reading.reader import default_workers

    monkeypatch.setattr("os.cpu_count", lambda: 4)
    monkeypatch.setattr(reader.graph, "tta", "none")  # one model pass a plate, as `fast` reads
    assert reader.rectify and default_workers(reader, 1000) == 2
    assert default_workers(reader, 10) == 0  # one batch: a process costs more than it saves
    monkeypatch.setattr(reader, "rectify", False)
    assert default_workers(reader, 1000) == 0  # the model costs far more than preparing the box
    monkeypatch.setattr(reader, "rectify", True)
    monkeypatch.setattr(reader.graph, "tta", "phase")
    assert default_workers(reader, 1000) == 0  # four model passes a plate
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert default_workers(reader, 1000) == 0


def test_an_onnx_reader_gets_more_workers_than_a_torch_one(monkeypatch):
    from plateocr.reading.reader import default_workers

    int8 = PlateReader.from_pretrained()  # the shipped int8 export: its idle threads do not spin
    for cores, workers in ((2, 2), (4, 3), (8, 5)):
        monkeypatch.setattr("os.cpu_count", lambda cores=cores: cores)
        assert default_workers(int8, 1000) == workers
    monkeypatch.setattr(int8, "rectify", False)
    assert default_workers(int8, 1000) == 0


@pytest.mark.parametrize("bad", [42, {"image": 1}, np.zeros((4, 4, 3), np.float32), torch.zeros(2, 8, 8)])
def test_unsupported_inputs_are_clear_errors(reader, bad):
    with pytest.raises(PlateOCRError, match="crop|cannot read"):
        reader.read(bad)


def test_unknown_decoder_is_refused(tiny_run):
    with pytest.raises(PlateOCRError, match="unknown decoder"):
        PlateReader.from_pretrained(tiny_run[0] / "best.pt", decoder="beam")


@pytest.mark.slow
def test_import_is_light():
    code = (
        "import sys, plateocr; from plateocr import PlateReader; "
        "heavy = [m for m in ('matplotlib', 'pandas', 'papermill', 'jupyter_client', 'IPython', "
        "'evaluate', 'nbformat') if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.slow
def test_the_accurate_model_is_the_recipes_slim_ensemble_and_loads_by_its_name():
    from plateocr.models.checkpoint import load_checkpoint
    from plateocr.research.recipe import FINETUNE, MEMBERS, READING, SHIPPED_ACCURATE

    assert SHIPPED_ACCURATE.stat().st_size <= 10_000_000
    shipped = load_checkpoint(SHIPPED_ACCURATE)
    assert shipped["arch"] == "+".join(MEMBERS) and "optimizer" not in shipped
    for member in shipped["config"]["members"]:  # each member fine-tuned as the recipe says
        assert {k: member[k] for k in FINETUNE} == FINETUNE
    reader = PlateReader.from_pretrained("accurate")
    assert reader.arch == "+".join(MEMBERS) and reader.source == str(SHIPPED_ACCURATE)
    assert reader.tta == READING["accurate"]["tta"]
    calibration = READING["accurate"]
    assert (reader.temperature, list(reader.confidence_map)) == (
        calibration["temperature"],
        calibration["confidence_map"],
    )
    # The bundled sample is real crops the recipe held out, a quarter of them outside 皖: the shipped
    # model reads about 0.94 of them, a stage-1 file or a wrong one far fewer.
    files = sorted(SAMPLE_DIR.glob("*.jpg"))
    correct = sum(r.plate == f.stem for r, f in zip(reader.read(files), files))
    assert correct >= 0.8 * len(files)


@pytest.mark.slow
def test_the_fast_model_is_the_student_distilled_from_the_accurate_model_and_loads_by_its_name():
    from plateocr.models.checkpoint import load_checkpoint
    from plateocr.reading.reader import MODELS
    from plateocr.research.recipe import READING, STUDENT, STUDENT_FINETUNE
    from plateocr.training.config import TrainConfig

    shipped = load_checkpoint(MODELS["fast"])
    assert shipped["arch"] == STUDENT and "optimizer" not in shipped
    # A parameter added after the checkpoint was trained took its default there.
    config = {**asdict(TrainConfig()), **shipped["config"]}
    assert {k: config[k] for k in STUDENT_FINETUNE} == STUDENT_FINETUNE
    assert shipped["config"]["teacher"]  # it learnt a teacher's posteriors beside the labels
    reader = PlateReader.from_pretrained("fast")
    assert (reader.arch, reader.tta, reader.deskew) == (STUDENT, "none", True)
    assert reader.temperature == READING["fast"]["temperature"] != 1.0
    files = sorted(SAMPLE_DIR.glob("*.jpg"))  # held out of its training, as of the accurate model's
    correct = sum(r.plate == f.stem for r, f in zip(reader.read(files), files))
    assert correct >= 0.8 * len(files)


def test_the_default_reader_is_the_student_read_once():
    from plateocr.reading.reader import DEFAULT_CHECKPOINT, DEFAULT_MODEL, INT8_EXPORTS, MODELS
    from plateocr.research.recipe import STUDENT

    assert DEFAULT_MODEL == "fast" and DEFAULT_CHECKPOINT == MODELS["fast"]
    reader = PlateReader.from_pretrained()  # on a CPU: the student's shipped int8 export
    assert (reader.source, reader.precision) == (str(INT8_EXPORTS["fast"]), "int8")
    assert (reader.arch, reader.tta) == (STUDENT, "none")
    checkpoint = PlateReader.from_pretrained(precision="float32")
    assert (checkpoint.source, checkpoint.onnx_session) == (str(MODELS["fast"]), None)


def test_the_shipped_int8_export_is_the_shipped_students(tmp_path):
    """A retrained fast.pt ships with its own int8 export: the shipped one reads as a fresh export
    of fast.pt does and carries its calibration."""
    from plateocr.reading.export import export_onnx
    from plateocr.reading.reader import INT8_EXPORTS

    shipped = PlateReader.from_pretrained(INT8_EXPORTS["fast"])
    fresh = PlateReader.from_pretrained(export_onnx("fast", tmp_path / "fast.int8.onnx", int8=True))
    student = PlateReader.from_pretrained("fast", precision="float32")
    assert (shipped.temperature, shipped.confidence_map) == (student.temperature, student.confidence_map)
    assert (shipped.deskew, shipped.tta, shipped.tokenizer.alphabet) == (True, "none", student.tokenizer.alphabet)
    files = sorted(SAMPLE_DIR.glob("*.jpg"))
    assert [(r.plate, round(r.confidence, 4)) for r in shipped.read(files)] == [
        (r.plate, round(r.confidence, 4)) for r in fresh.read(files)
    ]


def test_int8_reading_needs_a_shipped_export_and_the_cpu(tiny_run):
    from plateocr.reading.reader import INT8_EXPORTS

    with pytest.raises(PlateOCRError, match="no int8 export ships for accurate"):
        PlateReader.from_pretrained("accurate", precision="int8")
    with pytest.raises(PlateOCRError, match="no int8 export ships for"):
        PlateReader.from_pretrained(tiny_run[0] / "best.pt", precision="int8")
    with pytest.raises(PlateOCRError, match="runs on the CPU"):
        PlateReader.from_pretrained("fast", device="cuda", precision="int8")
    # A checkpoint given by its path reads with torch, as "auto" reads every checkpoint; an ONNX
    # file reads as it was exported, whatever the precision asked for.
    assert PlateReader.from_pretrained(tiny_run[0] / "best.pt").onnx_session is None
    assert PlateReader.from_pretrained(INT8_EXPORTS["fast"], precision="float32").precision == "int8"


def test_repr_lists_its_fields_with_commas():
    read = PlateResult("皖A12345", 0.98765, "blue", "a/b.jpg", valid=True)
    assert (
        repr(read) == "PlateResult(plate='皖A12345', confidence=0.988, plate_type='blue', valid=True, path='a/b.jpg')"
    )
    assert (
        repr(PlateResult("", 0.0, "", "x.jpg", "x.jpg: empty file"))
        == "PlateResult(error='x.jpg: empty file', path='x.jpg')"
    )


def test_reads_that_are_no_valid_plate_are_marked(reader):
    tok = reader.tokenizer
    frames = [tok.encode(c)[0] if c else 0 for c in ["粤", "", "A", "", "L", "", "6"]]
    log_probs = torch.full((len(frames), 2, tok.num_classes), -30.0).log_softmax(-1)
    for t, c in enumerate(frames):
        log_probs[t, :, c] = 0.0
    log_probs[:, 1] = torch.full((len(frames), tok.num_classes), -30.0)
    for t, c in enumerate(tok.encode("皖A12345")):
        log_probs[t, 1, c] = 0.0
    short, full = reader.decode(log_probs, torch.zeros(2, len(PLATE_TYPES)))
    assert (short.plate, short.valid) == ("粤AL6", False) and "valid=False" in repr(short)
    assert (full.plate, full.valid) == ("皖A12345", True)
    assert all(r.valid for r in reader.read(sorted(SAMPLE_DIR.glob("*.jpg"))[:4]))


def test_a_double_row_plate_is_read_end_to_end():
    """Rendered two-row yellow plates go through shape detection, row joining, model and decoding:
    every one is typed and valid with its lower row read, and nearly all are read whole (the
    default reader reads 0.90 of held-out synthetic double-row plates; its misses are the upper
    row's province character)."""
    from plateocr.synth.render import random_plate, render_clean

    shipped = PlateReader.from_pretrained()
    rng = np.random.default_rng(0)
    labels = [random_plate(rng, "yellow_double")[0] for _ in range(12)]
    images = [render_clean(label, "yellow_double") for label in labels]
    assert all(im.width / im.height < 2.5 for im in images)  # taken for double-row plates
    results = shipped.read(images)
    assert all(
        r.plate_type == "yellow_double" and r.valid and r.plate[2:] == lab[2:] for r, lab in zip(results, labels)
    )
    assert sum(r.plate == lab for r, lab in zip(results, labels)) >= 10


def test_a_stored_temperature_changes_confidences_and_never_readings(tmp_path):
    from plateocr.models.checkpoint import load_checkpoint, save_checkpoint
    from plateocr.reading.reader import DEFAULT_CHECKPOINT

    payload = load_checkpoint(DEFAULT_CHECKPOINT)
    files = sorted(SAMPLE_DIR.glob("*.jpg"))[:8]
    reads = {}
    for t in (1.0, 0.5, 2.0):
        path = save_checkpoint(tmp_path / f"t{t}.pt", {**payload, "temperature": t})
        reader = PlateReader.from_pretrained(path, tta="none")
        assert reader.temperature == t
        reads[t] = reader.read(files)
    assert [r.plate for r in reads[0.5]] == [r.plate for r in reads[1.0]] == [r.plate for r in reads[2.0]]
    # Softened frame posteriors make reads less certain. (Sharpened ones need not make them more
    # certain: where views disagree on which frame holds a character, sharpening takes from the plate.)
    confidences = {t: np.median([r.confidence for r in rs]) for t, rs in reads.items()}
    assert confidences[1.0] > confidences[2.0]
    assert all(len({rs[i].confidence for rs in reads.values()}) == 3 for i in range(len(files)))


def test_a_stored_confidence_map_changes_confidences_and_never_readings(tmp_path):
    from plateocr.models.checkpoint import load_checkpoint, save_checkpoint
    from plateocr.reading.reader import DEFAULT_CHECKPOINT

    payload, files = load_checkpoint(DEFAULT_CHECKPOINT), sorted(SAMPLE_DIR.glob("*.jpg"))[:8]
    reads = {}
    for confidence_map in ((1.0, 0.0), (0.5, 3.0)):
        path = save_checkpoint(tmp_path / f"m{confidence_map}.pt", {**payload, "confidence_map": list(confidence_map)})
        reader = PlateReader.from_pretrained(path, tta="none")
        assert reader.confidence_map == confidence_map
        reads[confidence_map] = reader.read(files)
    plain, mapped = reads.values()
    assert [r.plate for r in plain] == [r.plate for r in mapped]
    # A slope under 1 and an intercept above 0 lift every confidence under 0.998 (σ(3) ≈ 0.95 at 0.5).
    assert all(m.confidence > p.confidence for p, m in zip(plain, mapped) if p.confidence < 0.998)
    order = lambda rs: np.argsort([r.confidence for r in rs], kind="stable").tolist()
    assert order(plain) == order(mapped)  # a monotone map: the ranking of reads is kept


def test_a_loosely_cropped_sample_plate_is_read():
    """A detector's box: the plate with up to 10 % of its size around it on every side, off-centre."""
    from plateocr.data.images import load_image
    from plateocr.data.perturbations import perturb

    shipped = PlateReader.from_pretrained()
    plate = load_image(FILE)
    loose = perturb(plate, "loose_box", 0.1, np.random.default_rng(0))
    assert loose.width > plate.width * 1.06 and loose.height > plate.height * 1.06
    assert shipped.read(loose).plate == FILE.stem


@pytest.mark.parametrize("kind, strength", [("loose_box", 0.3), ("rotation", 8.0)])
def test_loose_and_turned_boxes_read_better_rectified(kind, strength):
    """Boxes with 10-30 % margins, or around a plate turned 8°, of the bundled sample plates: the
    reader finds the plate inside before reading, and reads more of them than from the box itself."""
    from plateocr import SAMPLE_DIR
    from plateocr.data.images import load_image
    from plateocr.data.perturbations import perturb

    files = sorted(SAMPLE_DIR.glob("*.jpg"))
    boxes = [perturb(load_image(f), kind, strength, np.random.default_rng(i)) for i, f in enumerate(files)]
    rectified, as_they_are = (
        np.mean([r.plate == f.stem for r, f in zip(PlateReader.from_pretrained(rectify=on).read(boxes), files)])
        for on in (True, False)
    )
    assert rectified >= 0.85 and rectified > as_they_are


def test_a_turned_plate_whose_box_looks_double_row_is_read_as_one_row():
    """Turned 10 degrees, a single-row crop's box is squarer than the double-row threshold: the reader
    reads both layouts and keeps the valid, confident one."""
    from plateocr.data.images import DOUBLE_ROW_MAX_ASPECT, load_image, row_layouts
    from plateocr.data.perturbations import perturb

    shipped, file = PlateReader.from_pretrained(), SAMPLE_DIR / "苏E7R5Y0.jpg"
    turned = perturb(load_image(file), "rotation", 10.0, np.random.default_rng(0))
    assert turned.width / turned.height < DOUBLE_ROW_MAX_ASPECT and row_layouts(turned) == (False, True)
    result = shipped.read(turned)
    assert (result.plate, result.valid, result.plate_type) == (file.stem, True, "blue")
    assert [r.plate for r in shipped.read_files([file])] == [file.stem]


def test_the_posteriors_of_a_reading_are_those_of_the_crop_it_read():
    """Calibration is fitted on the frames a reading was decoded from: for boxes the reader rectifies
    or reads in two layouts, those of the plate it found and of the layout it kept."""
    from plateocr.alphabet import Tokenizer
    from plateocr.data.images import load_image
    from plateocr.data.perturbations import perturb
    from plateocr.reading.decoding import sequence_confidence
    from plateocr.scoring.calibration import map_confidences

    shipped, files = PlateReader.from_pretrained(), sorted(SAMPLE_DIR.glob("*.jpg"))[:6]
    boxes = [perturb(load_image(f), "loose_box", 0.3, np.random.default_rng(i)) for i, f in enumerate(files)]
    boxes += [perturb(load_image(files[0]), "rotation", 10.0, np.random.default_rng(0))]  # two layouts
    results, log_probs = shipped.read_with_posteriors(boxes)
    assert results == shipped.read(boxes) and log_probs.shape[1] == len(boxes)
    sequences = [Tokenizer().encode(r.plate) for r in results]
    recomputed = map_confidences(sequence_confidence(log_probs, sequences, shipped.temperature), shipped.confidence_map)
    assert recomputed == pytest.approx([r.confidence for r in results], abs=1e-5)


def test_reading_precision_is_chosen_by_the_hardware_and_float32_on_request():
    from plateocr.reading.devices import cpu_has_bf16
    from plateocr.reading.reader import MODELS

    # A checkpoint's "auto" (the shipped model by name reads its int8 export on a CPU).
    auto = PlateReader.from_pretrained(MODELS["fast"])
    exact = PlateReader.from_pretrained("fast", precision="float32")
    assert auto.autocast_dtype == (torch.bfloat16 if cpu_has_bf16() else None)
    assert exact.autocast_dtype is None
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in auto.model.modules())  # folded for reading
    files = sorted(SAMPLE_DIR.glob("*.jpg"))
    read_auto, read_exact = auto.read(files), exact.read(files)
    assert [r.plate for r in read_auto] == [r.plate for r in read_exact]
    assert max(abs(a.confidence - b.confidence) for a, b in zip(read_auto, read_exact)) < 0.05
    with pytest.raises(PlateOCRError, match="unknown precision"):
        PlateReader.from_pretrained("fast", precision="fp8")
