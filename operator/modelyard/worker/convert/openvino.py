"""OpenVINO IR (model.xml + model.bin) from the ONNX export, for CPU and ARM nodes."""

from __future__ import annotations

from pathlib import Path


def to_openvino(onnx_path: Path, xml: Path) -> str:
    import openvino as ov

    model = ov.convert_model(str(onnx_path))
    # fp32 weights: OpenVINO's default compresses them to fp16, a precision change that the
    # target format does not announce.
    ov.save_model(model, str(xml), compress_to_fp16=False)
    return f"openvino.convert_model({onnx_path.name}); openvino.save_model({xml.name}, compress_to_fp16=False)"
