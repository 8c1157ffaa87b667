import pytest
import torch

from plateocr.errors import PlateOCRError
from plateocr.models import ARCH_INPUT_SIZE, build_model, count_parameters


@pytest.mark.parametrize("arch", ["compact", "wide", "seed"])
def test_output_shapes(arch):
    model = build_model(arch, num_classes=77).eval()
    images = torch.randint(0, 256, (3, 3, *ARCH_INPUT_SIZE[arch]), dtype=torch.uint8)
    with torch.no_grad():
        log_probs, type_logits = model(images)
    assert log_probs.shape[1:] == (3, 77) and log_probs.shape[0] >= 2 * 8 - 1
    assert type_logits.shape == (3, 6)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(log_probs.shape[:2]), atol=1e-4)


def test_sizes():
    assert count_parameters(build_model("compact", 77)) <= 400_000
    assert count_parameters(build_model("compact", 77)) < count_parameters(build_model("wide", 77)) <= 2_000_000
    assert 30e6 < count_parameters(build_model("seed", 77)) < 40e6


def test_unknown_arch_is_a_clear_error():
    with pytest.raises(PlateOCRError, match="unknown arch"):
        build_model("resnet", 77)
