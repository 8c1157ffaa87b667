"""Reading plates: PlateReader (pre-processing, batching, model, decoding), test-time views, ONNX."""
