"""What a reader computes from a batch of prepared crops, as one torch module.

Deskewing (when the model trained on deskewed crops), the shifted views, the model and the views'
average: PlateReader runs this module around its torch model or its onnxruntime session, and the
distillation teacher runs it too, so all of them read alike. An ONNX export holds the model alone:
onnxruntime's GridSample and histogram ops deskewed slower than torch does (measured in a graph
that held them: batch 64 ~25 % fewer plates a second).

>>> from plateocr.models.crnn import build_model
>>> graph = ReadingGraph(build_model("compact", 77).eval(), deskew=True, tta="phase")
>>> log_probs, type_log_probs = graph(torch.zeros(2, 3, 32, 96, dtype=torch.uint8))
>>> tuple(log_probs.shape), tuple(type_log_probs.shape)
((24, 2, 77), (2, 6))
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import nn

from ..data.deskew import deskew_batch
from .tta import TTA_SHIFTS, average_views, check_tta, view_batch


class ReadingGraph(nn.Module):
    """(B, 3, H, W) uint8 crops at the model's input size → (T, B, C) log-probabilities and (B, K)
    type scores, averaged over the views. Only the model runs under `autocast_dtype`; None adds no
    autocast of its own (float32, or the precision of a training step that calls it)."""

    def __init__(
        self,
        model: nn.Module,
        deskew: bool,
        tta: str,
        autocast_dtype: torch.dtype | None = None,
        memory_format: torch.memory_format = torch.contiguous_format,
    ):
        super().__init__()
        self.model, self.deskew, self.tta = model, deskew, check_tta(tta)
        self.autocast_dtype, self.memory_format = autocast_dtype, memory_format

    def model_inputs(self, images: torch.Tensor, deskewed: bool = False) -> torch.Tensor:
        """The batch the model itself reads: the crops deskewed if it needs it (unless they are
        `deskewed` already), in every view."""
        return view_batch(deskew_batch(images) if self.deskew and not deskewed else images, self.tta)

    def forward(self, images: torch.Tensor, deskewed: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        views = self.model_inputs(images, deskewed)
        precision = torch.autocast(views.device.type, self.autocast_dtype) if self.autocast_dtype else nullcontext()
        with precision:
            log_probs, type_logits = self.model(views.contiguous(memory_format=self.memory_format))
        return average_views(log_probs.float(), type_logits.float(), len(TTA_SHIFTS[self.tta]))


class OnnxModel(nn.Module):
    """An onnxruntime session over a `plateocr export` file, called as the torch model it came from:
    (B, 3, H, W) uint8 crops → (T, B, C) log-probabilities and (B, K) type logits."""

    def __init__(self, session):
        super().__init__()
        self.session = session

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_probs, type_logits = self.session.run(None, {"images": images.contiguous().numpy()})
        return torch.from_numpy(log_probs), torch.from_numpy(type_logits)
