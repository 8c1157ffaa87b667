import pytest
import torch

from plateocr.errors import PlateOCRError
from plateocr.reading.reader import DEFAULT_CHECKPOINT, PlateReader
from plateocr.training.distill import Teacher, distillation_loss


def test_distillation_loss_is_zero_when_the_student_matches_its_teacher_and_grows_apart():
    torch.manual_seed(0)
    teacher = torch.randn(24, 4, 20).log_softmax(-1)
    assert distillation_loss(teacher, teacher, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    near = (teacher + 0.1 * torch.randn_like(teacher)).log_softmax(-1)
    far = torch.randn(24, 4, 20).log_softmax(-1)
    assert 0 < distillation_loss(near, teacher, 2.0) < distillation_loss(far, teacher, 2.0)


def test_distillation_needs_one_frame_grid():
    with pytest.raises(ValueError, match="one frame grid"):
        distillation_loss(torch.zeros(24, 2, 10), torch.zeros(26, 2, 10), 1.0)


def test_the_teacher_reads_as_the_reader_does():
    teacher = Teacher(str(DEFAULT_CHECKPOINT), torch.device("cpu"), tta="phase")
    # The teacher's precision is the training step's (float32 here, bf16 under --amp).
    reader = PlateReader.from_pretrained(tta="phase", deskew=False, precision="float32")
    images = torch.randint(0, 256, (3, 3, *reader.input_size), dtype=torch.uint8)
    assert torch.allclose(teacher(images), reader.forward(images)[0], atol=1e-5)
    teacher.check_student("fast", teacher.alphabet)
    with pytest.raises(PlateOCRError, match="share the alphabet and input size"):
        teacher.check_student("seed", teacher.alphabet)
