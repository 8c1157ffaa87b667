"""CRNN recognisers. Each arch keeps its input size beside it, so a checkpoint's settings travel with it.

Both archs take uint8-range images (B, 3, H, W) and return CTC log-probabilities (T, B, C) plus
plate-type logits (B, K); normalisation lives inside the model so every runtime (torch, ONNX)
feeds raw pixels.

>>> import torch
>>> model = build_model("compact", num_classes=77)
>>> log_probs, type_logits = model(torch.zeros(2, 3, *ARCH_INPUT_SIZE["compact"]))
>>> tuple(log_probs.shape), tuple(type_logits.shape)
((24, 2, 77), (2, 6))
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..alphabet import PLATE_TYPES
from ..errors import PlateOCRError

ARCH_INPUT_SIZE = {
    "compact": (32, 96),
    "fast": (32, 96),
    "glance": (32, 96),
    "wide": (32, 96),
    "sharp": (32, 96),
    "seed": (32, 128),
}


def conv_bn(c_in: int, c_out: int, stride=1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


def normalise(images: torch.Tensor) -> torch.Tensor:
    return images.float() * (2.0 / 255.0) - 1.0


class CompactCRNN(nn.Module):
    """A ~0.3 M-parameter CRNN for 32×96 crops, built for CPU throughput.

    Plain 3×3 convs (fast in oneDNN; a strided first conv halves the cost of full resolution)
    shrink the height to 2 rows while keeping 24 columns, one per CTC step; a single BiLSTM reads
    the columns. 24 steps leave room for the blanks CTC needs between repeated characters of an
    8-character plate. `channels` and `hidden` size the same layout up (see WideCRNN).
    """

    def __init__(
        self,
        num_classes: int,
        num_types: int = len(PLATE_TYPES),
        hidden: int = 64,
        channels: tuple[int, int, int, int] = (16, 32, 64, 96),
        full_width_stem: bool = False,
        sequence: str = "lstm",
    ):
        super().__init__()
        c1, c2, c3, c4 = channels
        # full_width_stem: the first two convs see every column (16 × 96, then 8 × 48) and the width
        # halves a stage later; same output grid. With the wide channels a training step costs ~1.6x
        # on 2 cores, so SharpCRNN narrows those two convs.
        stem_stride, third_pool = ((2, 1), 2) if full_width_stem else (2, (2, 1))
        self.features = nn.Sequential(
            conv_bn(3, c1, stem_stride),  # 16 × 48 (16 × 96)
            conv_bn(c1, c2),
            nn.MaxPool2d(2),  # 8 × 24 (8 × 48)
            conv_bn(c2, c3),
            nn.MaxPool2d(third_pool),  # 4 × 24
            conv_bn(c3, c4),
            conv_bn(c4, c4),
            nn.MaxPool2d((2, 1)),  # 2 × 24
        )
        if sequence == "lstm":
            self.rnn: nn.Module = nn.LSTM(2 * c4, hidden, bidirectional=True)
        elif sequence == "conv":
            self.rnn = ConvSequence(c4, 2 * hidden)
        else:  # "conv_attention"
            self.rnn = nn.Sequential(ConvSequence(c4, 2 * hidden), GlobalContext(2 * hidden))
        self.classifier = nn.Linear(2 * hidden, num_classes)
        self.type_head = nn.Linear(c4, num_types)

    def forward(self, images: torch.Tensor):
        f = self.features(normalise(images))  # B, c4, 2, T
        # Under mixed precision only the convs run in bf16: the LSTM's 24 recurrent steps and the CTC
        # log-probabilities keep float32's mantissa (a precaution, not a measured loss; ~10 % of a CPU step).
        with torch.autocast(f.device.type, enabled=False):
            f = f.float()
            if isinstance(self.rnn, nn.LSTM):
                b, c, h, t = f.shape
                seq = self.rnn(f.reshape(b, c * h, t).permute(2, 0, 1))[0]  # reads (T, B, 2 · c4)
            else:
                seq = self.rnn(f)
            log_probs = self.classifier(seq).log_softmax(-1)
            type_logits = self.type_head(f.mean(dim=(2, 3)))
        return log_probs, type_logits


class ConvSequence(nn.Module):
    """Reads the feature map's columns with two convolutions instead of a BiLSTM: each step then
    sees 5 columns, about two characters, beside the convs' own receptive field; all 24 steps run at
    once where an LSTM runs them one after another (the slow part of a small CRNN on a CPU).

    The first conv spans the map's `rows` rows, so the columns need no reshaping into a sequence:
    2-D convs on the NHWC map ran ~2x the speed of the same weights as 1-D convs on (B, C, T).
    """

    def __init__(self, c_in: int, c_out: int, rows: int = 2):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_out, (rows, 3), padding=(0, 1), bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, (1, 3), padding=(0, 1), bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, C, rows, T) features to a (T, B, c_out) sequence."""
        return self.body(features).squeeze(2).permute(2, 0, 1)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # The same weights stored as 1-D convs over the rows' channels stacked (C · rows, 3 wide).
        for name, module in self.body.named_children():
            key = f"{prefix}body.{name}.weight"
            if isinstance(module, nn.Conv2d) and key in state_dict and state_dict[key].ndim == 3:
                state_dict[key] = state_dict[key].reshape(module.weight.shape)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class GlobalContext(nn.Module):
    """One self-attention layer over the steps of a convolutional sequence head, so that every step
    sees the whole plate. A teacher whose recurrent layer emits a double-row plate's upper letter
    right after its province, frames away from the letter's glyph, asks that reach of a student
    that learns its frames; the convolutions' five columns alone cannot follow it there."""

    def __init__(self, dim: int, steps: int = 24, heads: int = 4):
        super().__init__()
        self.steps = steps
        self.position = nn.Parameter(torch.zeros(steps, 1, dim))
        self.norm = nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, heads)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """(T, B, D) to (T, B, D): each step plus what it gathers from all steps.

        The same ops as `self.attention(x, x, x, need_weights=False)`, to the bit, called on its
        weights without its generic checks for masks, cross-attention and batch-first layouts."""
        x = self.norm(seq + self.position)
        # Only the batch is left to -1: an ONNX export then reshapes by constants, not by the
        # shape ops that reading each tensor's size would add to its graph.
        steps, dim, heads = self.steps, self.attention.embed_dim, self.attention.num_heads
        qkv = F.linear(x, self.attention.in_proj_weight, self.attention.in_proj_bias)
        q, k, v = (
            t.reshape(steps, -1, dim // heads).transpose(0, 1).reshape(-1, heads, steps, dim // heads)
            for t in qkv.unflatten(-1, (3, dim)).unbind(-2)
        )
        # The scale torch would take from q's size, as a constant (the same double).
        out = (
            F.scaled_dot_product_attention(q, k, v, scale=1 / math.sqrt(dim // heads))
            .permute(2, 0, 1, 3)
            .reshape(-1, dim)
        )
        return seq + F.linear(out, self.attention.out_proj.weight, self.attention.out_proj.bias).view(steps, -1, dim)


class WideCRNN(CompactCRNN):
    """The compact layout with twice the channels and LSTM width (~1.0 M parameters); `train`'s default.

    After the same recipe it reads more real plates (5-fold CV on plates_dev: 0.957 against 0.939)
    and more of them after synthetic plates alone. Its training step costs ~1.6x the compact's on
    2 CPU cores. The shipped model is this and the sharp CRNN as one ensemble.
    """

    def __init__(self, num_classes: int, num_types: int = len(PLATE_TYPES)):
        super().__init__(num_classes, num_types, hidden=128, channels=(32, 64, 128, 160))


class SharpCRNN(CompactCRNN):
    """The wide CRNN with a full-width stem: its first convs see all 96 columns.

    Real crops are often only ~94 × 24 pixels, so a character is ~10 columns wide; the wide CRNN's
    strided first conv halves that before any feature sees the strokes that tell D from 0 or B from 8.
    Alone it reads no more real plates than the wide CRNN (5-fold CV 0.947 and 0.957 from two stage-1
    runs, wide 0.957), but it errs on other plates, which makes the two a useful ensemble.
    """

    def __init__(self, num_classes: int, num_types: int = len(PLATE_TYPES)):
        super().__init__(num_classes, num_types, hidden=128, channels=(16, 48, 128, 160), full_width_stem=True)


class FastCRNN(CompactCRNN):
    """A convolutional single-view student: the compact layout a little wider, with a convolutional
    sequence head; each step sees about two characters (see GlanceCRNN for one that sees the plate)."""

    def __init__(self, num_classes: int, num_types: int = len(PLATE_TYPES)):
        super().__init__(num_classes, num_types, hidden=96, channels=(24, 48, 96, 128), sequence="conv")


class GlanceCRNN(CompactCRNN):
    """The single-view student shipped as `fast`: FastCRNN with one self-attention layer after its
    convolutional sequence head (GlobalContext), so it can emit a character frames away from its
    glyph, as its teacher does; trained to reproduce the accurate ensemble's per-frame posteriors
    (plateocr.training.distill)."""

    def __init__(self, num_classes: int, num_types: int = len(PLATE_TYPES)):
        super().__init__(num_classes, num_types, hidden=96, channels=(24, 48, 96, 128), sequence="conv_attention")


class ResidualBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride=1):
        super().__init__()
        self.body = nn.Sequential(
            conv_bn(c_in, c_out, stride), nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out)
        )
        self.skip = (
            nn.Identity()
            if c_in == c_out and stride == 1
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        )

    def forward(self, x):
        return torch.relu(self.body(x) + self.skip(x))


class SeedCRNN(nn.Module):
    """The original Kaggle notebook's CRNN (≈35 M parameters), kept to reproduce its result.

    ResNet blocks 64→1024 channels, adaptive pooling to a 256-step sequence, a 3-layer BiLSTM
    (hidden 256) and an MLP head.
    """

    def __init__(self, num_classes: int, num_types: int = len(PLATE_TYPES), seq_len: int = 256):
        super().__init__()
        self.stem = nn.Sequential(conv_bn(3, 64, 2), nn.MaxPool2d(2))  # 8 × 32, as a ResNet stem
        self.blocks = nn.Sequential(
            ResidualBlock(64, 64),
            ResidualBlock(64, 128, 2),
            ResidualBlock(128, 256, 2),
            ResidualBlock(256, 512, 2),
            ResidualBlock(512, 512),
            ResidualBlock(512, 512),
            ResidualBlock(512, 1024, 2),
        )
        self.pool = nn.AdaptiveAvgPool2d((1, seq_len))
        self.rnn = nn.LSTM(1024, 256, num_layers=3, bidirectional=True, dropout=0.1)
        self.classifier = nn.Sequential(
            nn.Linear(512, 256), nn.ReLU(inplace=True), nn.Dropout(0.1), nn.Linear(256, num_classes)
        )
        self.type_head = nn.Linear(1024, num_types)

    def forward(self, images: torch.Tensor):
        f = self.blocks(self.stem(normalise(images)))  # B, 1024, h, w
        seq = self.pool(f).squeeze(2).permute(2, 0, 1)  # T, B, 1024
        seq, _ = self.rnn(seq)
        log_probs = self.classifier(seq).log_softmax(-1)
        return log_probs, self.type_head(f.mean(dim=(2, 3)))


class EnsembleCRNN(nn.Module):
    """Several trained CRNNs read as one: the mean of their per-frame character probabilities.

    Members must share the input size and the CTC step count (wide and sharp: 32 × 96, 24 steps),
    so each frame looks at the same columns; averaging probabilities (not log-probabilities) keeps a
    character one member is sure of when the other hesitates. The output is what a single CRNN
    returns, so decoding, confidence and ONNX export work unchanged. Its arch name joins the
    members' with "+". Read it with constrained decoding: the members' CTC peaks can fall on
    neighbouring frames, which best-path (greedy) decoding turns into doubled or lost characters.
    """

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, images: torch.Tensor):
        outputs = [member(images) for member in self.members]
        log_n = math.log(len(outputs))
        log_probs = torch.stack([lp for lp, _ in outputs]).logsumexp(0) - log_n
        type_log_probs = torch.stack([t.log_softmax(-1) for _, t in outputs]).logsumexp(0) - log_n
        return log_probs, type_log_probs


ARCHS = {
    "compact": CompactCRNN,
    "fast": FastCRNN,
    "glance": GlanceCRNN,
    "wide": WideCRNN,
    "sharp": SharpCRNN,
    "seed": SeedCRNN,
}
ENSEMBLE_SEPARATOR = "+"


def arch_members(arch: str) -> list[str]:
    """The single archs an arch name is made of ("wide+sharp" -> ["wide", "sharp"]).

    >>> arch_members("wide+sharp"), arch_members("compact")
    (['wide', 'sharp'], ['compact'])
    """
    members = arch.split(ENSEMBLE_SEPARATOR)
    unknown = [m for m in members if m not in ARCHS]
    if unknown:
        raise PlateOCRError(
            f"unknown arch {arch!r}: choose one of {', '.join(ARCHS)}, or join several with {ENSEMBLE_SEPARATOR!r}"
        )
    if len(members) > 1 and len({ARCH_INPUT_SIZE[m] for m in members}) > 1:
        raise PlateOCRError(f"ensemble {arch!r}: its members read different input sizes")
    return members


def input_size(arch: str) -> tuple[int, int]:
    """(height, width) of the crops an arch (or an ensemble of archs) reads."""
    return ARCH_INPUT_SIZE[arch_members(arch)[0]]


def build_model(arch: str, num_classes: int) -> nn.Module:
    """A fresh model of the named arch ("compact", "wide", "sharp", "seed", or members joined by "+")."""
    members = arch_members(arch)
    if len(members) > 1:
        return EnsembleCRNN([ARCHS[m](num_classes) for m in members])
    return ARCHS[arch](num_classes)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
