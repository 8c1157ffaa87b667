import itertools

import pytest
import torch

from plateocr.alphabet import BLANK
from plateocr.errors import PlateOCRError
from plateocr.reading.reader import ACCURATE_CHECKPOINT, PlateReader
from plateocr.training.config import TrainConfig
from plateocr.training.distill import (
    Teacher,
    character_distillation_loss,
    character_frames,
    distillation_loss,
    padded_targets,
)


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
    teacher = Teacher(str(ACCURATE_CHECKPOINT), torch.device("cpu"), tta="phase")
    # The teacher's precision is the training step's (float32 here, bf16 under --amp).
    reader = PlateReader.from_pretrained("accurate", tta="phase", deskew=False, precision="float32")
    images = torch.randint(0, 256, (3, 3, *reader.input_size), dtype=torch.uint8)
    assert torch.allclose(teacher(images), reader.forward(images)[0], atol=1e-5)
    teacher.check_student("fast", teacher.alphabet)
    with pytest.raises(PlateOCRError, match="share the alphabet and input size"):
        teacher.check_student("seed", teacher.alphabet)


def _best_path_frames(log_probs: torch.Tensor, label: list[int]) -> list[int]:
    """Brute force: the surest frame of each character's run on the best path spelling `label`."""
    steps, _, classes = log_probs.shape
    best, frames = float("-inf"), None
    for path in itertools.product(range(classes), repeat=steps):
        collapsed = [c for i, c in enumerate(path) if c != BLANK and (i == 0 or c != path[i - 1])]
        if collapsed != label:
            continue
        score = sum(log_probs[t, 0, c].item() for t, c in enumerate(path))
        if score > best:
            starts = [i for i, c in enumerate(path) if c != BLANK and (i == 0 or c != path[i - 1])]
            runs = [range(s, next((j for j in range(s, steps) if path[j] != path[s]), steps)) for s in starts]
            best, frames = score, [max(run, key=lambda t: log_probs[t, 0, path[run[0]]].item()) for run in runs]
    return frames


@pytest.mark.parametrize("label", [[1, 2], [2, 2], [3], [1, 3, 1]])
def test_character_frames_follow_the_best_path_that_spells_the_label(label):
    generator = torch.Generator().manual_seed(len(label) * 7 + label[0])
    log_probs = torch.randn(6, 1, 4, generator=generator).log_softmax(-1)
    frames = character_frames(log_probs, torch.tensor([label]), torch.tensor([len(label)]))
    assert frames[0].tolist() == _best_path_frames(log_probs, label)


def test_character_frames_mark_padding_and_labels_too_long_for_the_frames():
    log_probs = torch.randn(3, 2, 5).log_softmax(-1)
    labels = padded_targets(torch.tensor([1, 1, 1, 2]), torch.tensor([3, 1]))  # 1,1,1 needs 5 frames
    assert labels.tolist() == [[1, 1, 1], [2, BLANK, BLANK]]
    frames = character_frames(log_probs, labels, torch.tensor([3, 1]))
    assert frames[0].tolist() == [-1, -1, -1]
    assert frames[1, 0] >= 0 and frames[1, 1:].tolist() == [-1, -1]


def _one_path(frames_and_chars: dict[int, int], steps: int = 10, classes: int = 6) -> torch.Tensor:
    """Confident (T, 1, C) posteriors: the given characters at the given frames, blank elsewhere."""
    log_probs = torch.full((steps, 1, classes), -6.0)
    log_probs[:, 0, BLANK] = 0.0
    for t, c in frames_and_chars.items():
        log_probs[t, 0, BLANK], log_probs[t, 0, c] = -6.0, 0.0
    return log_probs.log_softmax(-1)


def test_character_distillation_asks_what_each_character_is_not_where():
    labels, lengths = torch.tensor([[3, 4]]), torch.tensor([2])
    teacher = _one_path({0: 3, 1: 4})  # emits both characters at once, as a recurrent teacher may
    student_elsewhere = _one_path({2: 3, 7: 4})  # the same reading, each character where it stands
    student_wrong = _one_path({2: 3, 7: 5})
    assert distillation_loss(student_elsewhere, teacher, 2.0) > 1.0
    assert character_distillation_loss(student_elsewhere, teacher, labels, lengths, 2.0) == pytest.approx(0, abs=1e-3)
    assert character_distillation_loss(student_wrong, teacher, labels, lengths, 2.0) > 1.0


def test_an_unknown_distillation_alignment_is_refused():
    with pytest.raises(PlateOCRError, match="distill_alignment"):
        TrainConfig(distill_alignment="word").validate()
