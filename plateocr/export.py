"""ONNX export with a dynamic batch axis, and a PlateReader that runs the export with onnxruntime.

The model's settings (arch, alphabet, whether its crops are deskewed, its views and calibration
temperature) travel in the ONNX file's metadata, as they do in a checkpoint. Writing an export
needs the `export` extra (onnx); reading one needs only onnxruntime, which every install has.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from .alphabet import Tokenizer
from .errors import CheckpointError, PlateOCRError
from .models import arch_members

OPSET = 17


def export_onnx(checkpoint: str | Path | None, onnx_path: str | Path, overwrite: bool = False) -> Path:
    """Write the checkpoint's model (default: the shipped one) as ONNX with a dynamic batch axis."""
    try:
        import onnx
    except ImportError:
        raise PlateOCRError("export needs the onnx package: pip install 'plateocr[export]'") from None

    from .reader import PlateReader

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
    }
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(tmp))
    os.replace(tmp, onnx_path)
    return onnx_path


def load_onnx_reader(
    path: str | Path, decoder: str = "constrained", threads: int = 0, tta: str | None = None, deskew: bool | None = None
):
    """A PlateReader backed by an onnxruntime session running on `threads` CPU threads (0: as many
    as torch uses); the count is fixed when the session is created."""
    import onnxruntime as ort

    from .reader import PlateReader

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"ONNX file {path} does not exist")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise CheckpointError(f"{path} is not a loadable ONNX model ({str(exc).splitlines()[0][:160]})") from None
    meta = session.get_modelmeta().custom_metadata_map
    if "plateocr_arch" not in meta:
        raise PlateOCRError(f"{path} was not exported by plateocr (no plateocr metadata)")
    arch_members(meta["plateocr_arch"])  # an arch this plateocr does not know: one clear line
    return PlateReader(
        None,
        Tokenizer(meta["plateocr_alphabet"]),
        meta["plateocr_arch"],
        decoder,
        onnx_session=session,
        source=str(path),
        tta=meta.get("plateocr_tta", "none") if tta is None else tta,
        deskew=json.loads(meta.get("plateocr_deskew", "false")) if deskew is None else deskew,
        temperature=float(meta.get("plateocr_temperature", "1.0")),
    )
