"""ONNX export with a dynamic batch axis; `PlateReader.from_pretrained("x.onnx")` reads the export.

The model's settings (arch, alphabet, whether its crops are deskewed, its views and its calibration:
temperature and confidence map) travel in the ONNX file's metadata, as they do in a checkpoint.
Writing an export needs the `export` extra (onnx); reading one needs only onnxruntime, which every
install has.

`int8=True` writes the model with int8 convolutions and matrix products, and ReLUs and max-pooling
on their uint8 outputs, instead (onnxruntime static quantization: per-channel 7-bit weights,
activation ranges calibrated on the bundled real crops as the model sees them). On 2 cores of an
AVX2 CPU it read 1.1-1.4 times as many plates a second as the float32 export at batch 64, and the
shipped student's int8 export reads plates_dev crops, clean, recoloured or perturbed, as the float32
one does (`bench/int8.py`); `bench/robustness.py --int8` measures it out of fold.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from .. import SAMPLE_DIR
from ..data.images import load_image, prepare_layouts
from ..errors import PlateOCRError
from .reader import PlateReader

OPSET = 17


def export_onnx(
    checkpoint: str | Path | None, onnx_path: str | Path, overwrite: bool = False, int8: bool = False
) -> Path:
    """Write the checkpoint's model (default: the shipped one) as ONNX with a dynamic batch axis,
    in float32 or, with `int8`, quantized."""
    try:
        import onnx
    except ImportError:
        raise PlateOCRError("export needs the onnx package: pip install 'plateocr[export]'") from None

    onnx_path = Path(onnx_path)
    if onnx_path.exists() and not overwrite:
        raise PlateOCRError(f"{onnx_path} already exists; pass --overwrite to replace it")
    reader = PlateReader.from_pretrained(checkpoint, precision="float32")  # the torch model; deskew as it says
    model = reader.model.cpu().eval()
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.zeros(2, 3, *reader.input_size, dtype=torch.uint8)
    tmp = onnx_path.with_name(f".{onnx_path.name}.tmp")
    # The TorchScript-based exporter handles the LSTM with a dynamic batch axis in one op. It warns
    # that an LSTM exported with a batch of two may fail on other batch sizes; ours is given no
    # initial states, and its exports read batches of 1, 5 and 64 as torch does
    # (tests/test_export.py), so the warning would only alarm users.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other than 1")
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
    proto = quantized(tmp, reader) if int8 else onnx.load(str(tmp))
    meta = {
        "plateocr_arch": reader.arch,
        "plateocr_alphabet": reader.tokenizer.alphabet,
        "plateocr_deskew": json.dumps(reader.deskew),
        "plateocr_tta": reader.tta,
        "plateocr_temperature": json.dumps(reader.temperature),
        "plateocr_confidence_map": json.dumps(reader.confidence_map),
        "plateocr_precision": "int8" if int8 else "float32",
    }
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(tmp))
    os.replace(tmp, onnx_path)
    return onnx_path


def calibration_inputs(reader: PlateReader) -> torch.Tensor:
    """What the model itself is fed when the reader reads the bundled real crops: each crop
    prepared as the reader prepares it, deskewed and in its views if the reader reads so."""
    crops = [
        prepare_layouts(load_image(f), reader.input_size, reader.rectify)[0] for f in sorted(SAMPLE_DIR.glob("*.jpg"))
    ]
    batch = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()
    return reader.graph.model_inputs(batch)


def quantized(float_path: Path, reader: PlateReader):
    """The float32 ONNX model at `float_path` with int8 weights (per output channel) and
    activations whose ranges are calibrated on `calibration_inputs`: a new onnx ModelProto."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    inputs = calibration_inputs(reader).numpy()

    class Batches(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(inputs[i : i + 16] for i in range(0, len(inputs), 16))

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {"images": batch}

    # onnxruntime's recommended pre-processing (graph optimisation, shapes) before quantizing; the
    # symbolic shape inference cannot follow the sequence head's reshapes, and is not needed.
    prepared_path = float_path.with_name(float_path.name + ".pre")
    int8_path = float_path.with_name(float_path.name + ".int8")
    try:
        quant_pre_process(str(float_path), str(prepared_path), skip_symbolic_shape=True)
        quantize_static(
            str(prepared_path),
            str(int8_path),
            Batches(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            # 7-bit weights: on x86 CPUs without VNNI (AVX2) onnxruntime multiplies uint8 activations
            # by int8 weights in pairs summed into int16, which saturates with 8-bit weights. There the
            # 8-bit export misread 30 % of overexposed and 6 % of white plates_dev crops that float32
            # read; 7-bit weights read them as float32 does, and ran faster there.
            reduce_range=True,
            activation_type=QuantType.QUInt8,
            # ReLU and max-pooling quantized too: their inputs' and outputs' ranges are then one, and
            # each conv hands its uint8 output on instead of converting it to float and back
            # (16 % of the model's time; 1.1 times the plates a second on one thread, AVX2).
            op_types_to_quantize=["Conv", "MatMul", "Gemm", "Relu", "MaxPool"],
        )
        return onnx.load(str(int8_path))
    finally:
        prepared_path.unlink(missing_ok=True)
        int8_path.unlink(missing_ok=True)
