"""Slant correction: measured where the model looks and taken out of whole batches of prepared crops."""

import sys

import numpy as np
import pytest
import torch
from PIL import Image

from plateocr import SAMPLE_DIR, PlateReader
from plateocr.data.compiled import kernels
from plateocr.data.datasets import CropDataset, list_records
from plateocr.data.deskew import _gradient, deskew_batch, deskew_torch, load_cpu_kernel, slant
from plateocr.data.deskew_cpu import deskew_crops
from plateocr.data.images import prepare_crop, prepare_layouts
from plateocr.data.perturbations import perturb
from plateocr.synth.render import render_clean

SIZE = (32, 96)


def italic(image: Image.Image, k: float) -> Image.Image:
    """`image` sheared so upright strokes lean k px right per px up, in the 32 × 96 input's pixels."""
    w, h = image.size
    k_own = k * (w / SIZE[1]) / (h / SIZE[0])
    return image.transform(
        image.size,
        Image.Transform.AFFINE,
        (1, k_own, -k_own * h / 2, 0, 1, 0),
        Image.Resampling.BICUBIC,
        fillcolor=(40, 40, 40),
    )


@pytest.fixture(scope="module")
def plate():
    return render_clean("皖A12345", "blue").resize((132, 42), Image.Resampling.LANCZOS)


def test_an_upright_plate_measures_upright(plate):
    assert abs(slant(plate, SIZE)) < 0.03


@pytest.mark.parametrize("k", [-0.35, -0.15, 0.15, 0.35])
def test_the_measured_slant_is_the_one_put_in_and_deskewing_removes_it(plate, k):
    slanted = italic(plate, k)
    # Within 0.08: the diagonals of A, 2 and 4 pull the median of the edges a little their way.
    assert slant(slanted, SIZE) == pytest.approx(k, abs=0.08)
    straight = prepare_crop(slanted, SIZE, deskew=True)
    assert straight.shape == (*SIZE, 3) and straight.dtype == np.uint8
    assert abs(slant(Image.fromarray(straight), SIZE)) < 0.08
    # What the model sees comes back close to the upright plate's input (the sides are filled in).
    upright, skewed = (prepare_crop(i, SIZE).astype(float)[:, 8:-8] for i in (plate, slanted))
    restored = straight.astype(float)[:, 8:-8]
    assert np.abs(restored - upright).mean() < 0.5 * np.abs(skewed - upright).mean()


def test_a_featureless_crop_is_left_alone():
    blank = torch.tensor([20, 60, 200], dtype=torch.uint8).view(1, 3, 1, 1).expand(1, 3, *SIZE).contiguous()
    assert torch.equal(deskew_batch(blank), blank)


def test_a_batch_deskews_each_crop_as_if_alone(plate):
    crops = [prepare_crop(italic(plate, k), SIZE) for k in (-0.3, 0.0, 0.25)]
    batch = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2)
    together = deskew_batch(batch)
    for i in range(len(crops)):
        assert torch.equal(together[i], deskew_batch(batch[i : i + 1])[0])
    assert deskew_batch(batch.float()).dtype == torch.float32


def real_crops(perturbations=(None, ("rotation", 8.0), ("loose_box", 0.3), ("scale", 0.5), ("jpeg", 20))):
    """The bundled sample plates, as they are and perturbed, prepared as the reader prepares them."""
    crops = []
    for n, kind in enumerate(perturbations):
        for i, path in enumerate(sorted(SAMPLE_DIR.glob("*.jpg"))):
            image = Image.open(path).convert("RGB")
            if kind:
                image = perturb(image, *kind, np.random.default_rng(100 * n + i))
            crops += prepare_layouts(image, SIZE, rectify=True)
    return np.stack(crops)


def test_the_compiled_kernel_gives_the_torch_deskewing_bytes_in_batches_and_alone():
    crops = real_crops()
    nchw = torch.from_numpy(crops).permute(0, 3, 1, 2)
    expected = deskew_torch(nchw.contiguous()).numpy()
    assert (expected != nchw.numpy()).any(axis=(1, 2, 3)).mean() > 0.5  # most crops did change
    batched = np.concatenate([deskew_crops(nchw[s : s + 64].numpy()) for s in range(0, len(crops), 64)])
    alone = np.concatenate([deskew_crops(np.ascontiguousarray(nchw[i : i + 1].numpy())) for i in range(len(crops))])
    for got in (batched, alone, deskew_batch(nchw).numpy()):
        if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"):
            # torch's grid_sample fuses its multiply-adds there, and so does the kernel.
            np.testing.assert_array_equal(got, expected)
        else:
            assert np.abs(got.astype(int) - expected).max() <= 1


def test_where_the_compiled_kernel_cannot_load_torch_deskews_to_the_same_bytes(monkeypatch):
    crops = torch.from_numpy(real_crops(perturbations=(None,))).permute(0, 3, 1, 2)
    with_kernel = deskew_batch(crops)
    monkeypatch.setitem(sys.modules, "plateocr.data.deskew_cpu", None)  # as if numba had no build here
    kernels.cache_clear()
    try:
        with pytest.warns(UserWarning, match="deskew_cpu: the compiled kernels did not load"):
            assert load_cpu_kernel() is None
        assert torch.equal(deskew_batch(crops), with_kernel)
    finally:
        kernels.cache_clear()


def test_the_compiled_kernel_refuses_what_is_not_a_batch_of_uint8_crops():
    with pytest.raises(ValueError, match="uint8 crops"):
        deskew_crops(np.zeros((1, 32, 96, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8 crops"):
        deskew_crops(np.zeros((1, 3, 32, 96), np.float32))


def test_the_shipped_reader_deskews_as_its_model_was_trained_and_a_direct_one_does_not(plate):
    shipped = PlateReader.from_pretrained(tta="none")
    assert shipped.deskew and not PlateReader(shipped.model, shipped.tokenizer, shipped.arch).deskew
    slanted = italic(plate, 0.3)
    expected = shipped.read_prepared(prepare_crop(slanted, shipped.input_size)[None])[0]
    assert shipped.read(slanted).plate == expected.plate
    assert shipped.read(slanted).confidence == pytest.approx(expected.confidence, abs=1e-6)


def test_a_model_is_read_as_it_was_trained_unless_told_otherwise(tiny_run):
    checkpoint = tiny_run[0] / "best.pt"  # trained on crops as they are
    assert not PlateReader.from_pretrained(checkpoint).deskew
    assert PlateReader.from_pretrained(checkpoint, deskew=True).deskew
    assert not PlateReader.from_pretrained(deskew=False).deskew


def test_the_reader_reads_a_strongly_slanted_real_plate_with_the_slant_taken_out():
    # A real sample crop made italic: deskewed, the shipped model reads it as it reads the original.
    reader, file = PlateReader.from_pretrained(tta="none"), SAMPLE_DIR / "浙D911SY.jpg"
    slanted = italic(Image.open(file).convert("RGB"), 0.4)
    assert reader.read(slanted).plate == file.stem


def test_training_data_is_deskewed_when_asked():
    records, _ = list_records(SAMPLE_DIR)
    plain, straight = CropDataset(records[:3], SIZE), CropDataset(records[:3], SIZE, deskew=True)
    for i, rec in enumerate(records[:3]):
        expected = prepare_crop(Image.open(rec.path), SIZE, deskew=True)
        assert torch.equal(straight[i][0], torch.from_numpy(expected).permute(2, 0, 1))
    assert any(not torch.equal(plain[i][0], straight[i][0]) for i in range(3))


def test_a_model_trained_with_deskew_is_read_with_it(tmp_path):
    from plateocr.cli import main

    out = tmp_path / "run"
    main(
        [
            "train",
            "--data",
            "sample",
            "--out",
            str(out),
            "--arch",
            "compact",
            "--epochs",
            "1",
            "--batch-size",
            "16",
            "--deskew",
            "--quiet",
        ]
    )
    reader = PlateReader.from_pretrained(out / "best.pt")
    assert reader.deskew and not PlateReader.from_pretrained(out / "best.pt", deskew=False).deskew


def test_the_gradient_is_torch_gradient_to_the_bit():
    """Deskewing's own central differences give torch.gradient's values exactly, so crops deskew
    as the shipped models trained on them."""
    grey = torch.rand(3, 32, 96, generator=torch.Generator().manual_seed(0)) * 255
    for dim in (1, 2):
        assert torch.equal(_gradient(grey, dim), torch.gradient(grey, dim=dim)[0])
