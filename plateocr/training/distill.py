"""Knowledge distillation: a student learns a teacher's per-frame CTC posteriors beside the labels.

The teacher (usually the accurate ensemble) reads the same augmented batch as the student; its
frame posteriors, averaged over its views and softened by a temperature, are the student's soft
targets. Both must share the CTC frame grid (the same input size and step count: the compact,
fast, glance, wide and sharp archs all read 32 × 96 crops in 24 steps), so frame t of one is
frame t of the other. Soft targets carry what labels cannot: which frames hold a character, and
which other characters a teacher found plausible (a 皖 that looks a little like 陕).
`character_distillation_loss` compares characters instead of frames, each model at its own
alignment.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..alphabet import BLANK
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


def padded_targets(targets: torch.Tensor, target_lengths: torch.Tensor) -> torch.Tensor:
    """Concatenated label ids (as CTC takes them) as a (B, L) array padded with BLANK."""
    lengths = [int(n) for n in target_lengths]
    out = torch.full((len(lengths), max(lengths, default=0)), BLANK, dtype=torch.long, device=targets.device)
    for b, row in enumerate(torch.split(targets, lengths)):
        out[b, : len(row)] = row
    return out


@torch.no_grad()
def character_frames(log_probs: torch.Tensor, labels: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """The frame at which each label character is emitted on the most probable CTC path that spells
    the label (Viterbi forced alignment), the surest frame of its run: (B, L) frame indices, -1
    where a plate has no such path (fewer frames than its label needs) or no such character.

    >>> lp = torch.full((5, 1, 4), -9.0); lp[[0, 1, 2, 3, 4], 0, [0, 2, 0, 0, 3]] = 0.0
    >>> character_frames(lp, torch.tensor([[2, 3]]), torch.tensor([2])).tolist()
    [[1, 4]]
    """
    steps, batch, _ = log_probs.shape
    max_len = labels.shape[1]
    states = 2 * max_len + 1  # blank, c1, blank, c2, ..., blank
    extended = torch.full((batch, states), BLANK, dtype=torch.long, device=log_probs.device)
    extended[:, 1::2] = labels
    # A character may follow the one two states back (skipping a blank) unless it repeats it.
    skip = torch.zeros((batch, states), dtype=torch.bool, device=log_probs.device)
    skip[:, 3::2] = labels[:, 1:] != labels[:, :-1]
    emit = log_probs.float().gather(2, extended.unsqueeze(0).expand(steps, -1, -1))  # T, B, S
    impossible = torch.tensor(float("-inf"), device=log_probs.device)
    score = torch.full((batch, states), float("-inf"), device=log_probs.device)
    score[:, :2] = emit[0, :, :2]
    moves = torch.zeros((steps, batch, states), dtype=torch.long, device=log_probs.device)
    for t in range(1, steps):
        stay = score
        step = torch.cat([impossible.expand(batch, 1), score[:, :-1]], 1)
        jump = torch.where(skip, torch.cat([impossible.expand(batch, 2), score[:, :-2]], 1), impossible)
        best, moves[t] = torch.stack([stay, step, jump]).max(0)
        score = best + emit[t]
    rows = torch.arange(batch, device=log_probs.device)
    last = 2 * lengths.to(log_probs.device)
    ends = torch.stack([score[rows, last], score[rows, (last - 1).clamp(min=0)]], 1)
    state = last - ends.argmax(1)
    feasible = ends.max(1).values.isfinite()
    path = torch.empty((steps, batch), dtype=torch.long, device=log_probs.device)
    for t in range(steps - 1, -1, -1):
        path[t] = state
        state = state - moves[t, rows, state]
    char_states = 2 * torch.arange(max_len, device=log_probs.device) + 1
    on_char = path.unsqueeze(-1) == char_states  # T, B, L
    # Within each character's run, the frame surest of it: the run's first frame would pull each
    # character a frame earlier on every step, and the alignment drifts to the left edge.
    frames = torch.where(on_char, emit[:, :, 1::2], impossible).argmax(0)
    valid = on_char.any(0) & feasible.unsqueeze(1)
    return torch.where(valid, frames, torch.full_like(frames, -1))


def character_distillation_loss(
    student_log_probs: torch.Tensor,
    teacher_log_probs: torch.Tensor,
    labels: torch.Tensor,
    lengths: torch.Tensor,
    temperature: float,
) -> torch.Tensor:
    """KL(teacher ‖ student) per label character at `temperature`, times temperature², each model
    taken at the frame where its own best path spelling the label emits that character.

    Unlike the per-frame loss, it asks what each character is, not where to say it: the student
    keeps its own alignment where the teacher's recurrent layer emits a character frames away from
    its glyph (a double-row plate's upper letter). Not the shipped recipe's: a convolutional
    student still lost double-row plates with it (docs/experiments.md).
    """
    student_frames = character_frames(student_log_probs.detach(), labels, lengths)
    teacher_frames = character_frames(teacher_log_probs, labels, lengths)
    valid = (student_frames >= 0) & (teacher_frames >= 0)
    if not valid.any():
        return student_log_probs.sum() * 0.0
    plates, chars = valid.nonzero(as_tuple=True)
    student = F.log_softmax(student_log_probs[student_frames[plates, chars], plates].float() / temperature, -1)
    teacher = F.log_softmax(teacher_log_probs[teacher_frames[plates, chars], plates].float() / temperature, -1)
    kl = F.kl_div(student, teacher, log_target=True, reduction="none").sum(-1)
    return kl.mean() * temperature**2
