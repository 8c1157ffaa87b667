"""Test-time augmentation: shifted views averaged into one reading, the same in torch and ONNX."""

import pytest
import torch

from plateocr import SAMPLE_DIR, PlateReader
from plateocr.errors import PlateOCRError
from plateocr.reading.tta import TTA_SHIFTS, average_views, shift_columns, view_batch

FILES = sorted(SAMPLE_DIR.glob("*.jpg"))


@pytest.mark.parametrize("tta", ["shift", "phase"])
def test_a_tta_reading_is_the_mean_of_its_views_probabilities(tta):
    # Without deskewing, which the reader does once to the batch before cutting the views.
    plain = PlateReader.from_pretrained(tta="none", deskew=False)
    shifted = PlateReader.from_pretrained(tta=tta, deskew=False)
    images = torch.randint(0, 256, (3, 3, *plain.input_size), dtype=torch.uint8)
    log_probs, type_log_probs = shifted.forward(images)
    views = [plain.forward(shift_columns(images, dx)) for dx in TTA_SHIFTS[tta]]
    assert torch.allclose(log_probs.exp(), sum(v[0].exp() for v in views) / len(views), atol=1e-5)
    expected_types = sum(v[1].softmax(-1) for v in views) / len(views)
    assert torch.allclose(type_log_probs.exp(), expected_types, atol=1e-5)


def test_the_accurate_model_reads_every_phase_of_the_4_pixel_column_grid_once():
    reader = PlateReader.from_pretrained("accurate")
    assert reader.tta == "phase" and len(reader.model(torch.zeros(1, 3, *reader.input_size))[0]) == 24
    assert reader.input_size[1] // 24 == 4 and sorted(dx % 4 for dx in TTA_SHIFTS["phase"]) == [0, 1, 2, 3]


@pytest.mark.parametrize("tta", ["shift", "phase"])
def test_a_shifted_reader_still_reads_the_sample_and_keeps_the_order(tta):
    plain, shifted = PlateReader.from_pretrained(tta="none"), PlateReader.from_pretrained(tta=tta)
    a, b = plain.read(FILES), shifted.read(FILES)
    assert [r.path for r in b] == [str(f) for f in FILES]
    agree = sum(x.plate == y.plate for x, y in zip(a, b)) / len(FILES)
    right = sum(r.plate == f.stem for r, f in zip(b, FILES)) / len(FILES)
    assert agree >= 0.85 and right >= 0.8 and all(0.0 <= r.confidence <= 1.0 for r in b)


def test_onnx_reads_the_same_views_as_torch(tmp_path):
    from plateocr.reading.export import export_onnx

    onnx = PlateReader.from_pretrained(export_onnx(None, tmp_path / "m.onnx"), tta="phase")
    torch_reader = PlateReader.from_pretrained(tta="phase")
    a, b = torch_reader.read(FILES[:16]), onnx.read(FILES[:16])
    assert [r.plate for r in a] == [r.plate for r in b]


def test_views_are_stacked_view_by_view_and_averaged_back():
    images = torch.arange(2 * 3 * 2 * 6, dtype=torch.uint8).reshape(2, 3, 2, 6)
    views = view_batch(images, "shift")
    assert torch.equal(views[:2], images) and torch.equal(views[2:4], shift_columns(images, -2))
    log_probs = torch.randn(5, 6, 4).log_softmax(-1)
    averaged, _ = average_views(log_probs, torch.randn(6, 3), 3)
    expected = log_probs.reshape(5, 3, 2, 4).exp().mean(1)
    assert averaged.shape == (5, 2, 4) and torch.allclose(averaged.exp(), expected, atol=1e-6)


def test_an_unknown_tta_is_a_clear_error():
    with pytest.raises(PlateOCRError, match="unknown tta 'flip'"):
        PlateReader.from_pretrained(tta="flip")
