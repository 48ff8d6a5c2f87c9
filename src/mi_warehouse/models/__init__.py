"""The model registry (ONNX files, versions, checksums, model cards) and the demo CNN."""
