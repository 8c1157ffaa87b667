"""Knowledge distillation: a student learns a teacher's per-frame CTC posteriors beside the labels.

The teacher (usually the accurate ensemble) reads the same augmented batch as the student; its
frame posteriors, averaged over its views and softened by a temperature, are the student's soft
targets. Both must share the CTC frame grid (the same input size and step count: the compact,
fast, wide and sharp archs all read 32 × 96 crops in 24 steps), so frame t of one is frame t of
the other. Soft targets carry what labels cannot: which frames hold a character, and which other
characters a teacher found plausible (a 皖 that looks a little like 陕).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import PlateOCRError
from ..models.crnn import input_size
from ..reading.reader import PlateReader


class Teacher:
    """A frozen checkpoint read as `PlateReader` reads it, returning (T, B, C) log-probabilities."""

    def __init__(self, checkpoint: str, device: torch.device, tta: str = "none"):
        # Loaded and read as the reader reads (its graph), but without the reader's inference mode
        # and copy to the CPU, so its frames can be the targets of a loss on the training device; in
        # the training step's precision, and on crops the training batch has already deskewed.
        reader = PlateReader.from_pretrained(checkpoint, device=str(device), tta=tta, deskew=False, precision="float32")
        if reader.onnx_session is not None:
            raise PlateOCRError(f"teacher {checkpoint}: distillation needs a torch checkpoint, not an ONNX export")
        self.graph, self.arch, self.tta = reader.graph, reader.arch, reader.tta
        self.alphabet = reader.tokenizer.alphabet

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return self.graph(images)[0]

    def check_student(self, arch: str, alphabet: str) -> None:
        if alphabet != self.alphabet or input_size(arch) != input_size(self.arch):
            raise PlateOCRError(f"teacher {self.arch} and student {arch} must share the alphabet and input size")


def distillation_loss(
    student_log_probs: torch.Tensor, teacher_log_probs: torch.Tensor, temperature: float
) -> torch.Tensor:
    """KL(teacher ‖ student) per frame at `temperature`, times temperature² (so its gradient keeps
    its scale as the temperature changes), averaged over frames and plates."""
    if student_log_probs.shape != teacher_log_probs.shape:
        raise ValueError(
            f"student frames {tuple(student_log_probs.shape)} and teacher frames "
            f"{tuple(teacher_log_probs.shape)} differ: distillation needs one frame grid"
        )
    student = F.log_softmax(student_log_probs.float() / temperature, -1)
    teacher = F.log_softmax(teacher_log_probs.float() / temperature, -1)
    kl = F.kl_div(student, teacher, log_target=True, reduction="none").sum(-1)  # T, B
    return kl.mean() * temperature**2
