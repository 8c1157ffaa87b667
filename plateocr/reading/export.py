"""ONNX export with a dynamic batch axis; `PlateReader.from_pretrained("x.onnx")` reads the export.

The model's settings (arch, alphabet, whether its crops are deskewed, its views and its calibration:
temperature and confidence map) travel in the ONNX file's metadata, as they do in a checkpoint.
Writing an export needs the `export` extra (onnx); reading one needs only onnxruntime, which every
install has.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from ..errors import PlateOCRError
from .reader import PlateReader

OPSET = 17


def export_onnx(checkpoint: str | Path | None, onnx_path: str | Path, overwrite: bool = False) -> Path:
    """Write the checkpoint's model (default: the shipped one) as ONNX with a dynamic batch axis."""
    try:
        import onnx
    except ImportError:
        raise PlateOCRError("export needs the onnx package: pip install 'plateocr[export]'") from None

    onnx_path = Path(onnx_path)
    if onnx_path.exists() and not overwrite:
        raise PlateOCRError(f"{onnx_path} already exists; pass --overwrite to replace it")
    reader = PlateReader.from_pretrained(checkpoint)  # deskew as the checkpoint says
    model = reader.model.cpu().eval()
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(2, 3, *reader.input_size, dtype=torch.uint8)
    tmp = onnx_path.with_name(f".{onnx_path.name}.tmp")
    # The TorchScript-based exporter handles the LSTM with a dynamic batch axis in one op.
    torch.onnx.export(
        model,
        (example,),
        str(tmp),
        input_names=["images"],
        output_names=["log_probs", "type_logits"],
        opset_version=OPSET,
        dynamo=False,
        dynamic_axes={"images": {0: "batch"}, "log_probs": {1: "batch"}, "type_logits": {0: "batch"}},
    )
    proto = onnx.load(str(tmp))
    meta = {
        "plateocr_arch": reader.arch,
        "plateocr_alphabet": reader.tokenizer.alphabet,
        "plateocr_deskew": json.dumps(reader.deskew),
        "plateocr_tta": reader.tta,
        "plateocr_temperature": json.dumps(reader.temperature),
        "plateocr_confidence_map": json.dumps(reader.confidence_map),
    }
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(tmp))
    os.replace(tmp, onnx_path)
    return onnx_path
