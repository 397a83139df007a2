"""A Triton model configuration (config.pbtxt) so the version folder serves as a Triton model
directory: `<repository>/<model>/config.pbtxt` and `<repository>/<model>/1/<model file>`."""

from __future__ import annotations

from modelyard.api.common import Signature

PLATFORMS = {
    "onnx": ("onnxruntime_onnx", "model.onnx"),
    "tensorrt-plan": ("tensorrt_plan", "model.plan"),
    "torchscript": ("pytorch_libtorch", "model.pt"),
    "openvino": (None, "model.xml"),
}
"""Output format -> (platform, default file); OpenVINO goes by backend instead of platform."""
MAX_BATCH_SIZE = 32

_TYPES = {"float32": "TYPE_FP32", "float16": "TYPE_FP16", "bfloat16": "TYPE_BF16", "int64": "TYPE_INT64",
          "int32": "TYPE_INT32", "int8": "TYPE_INT8", "uint8": "TYPE_UINT8", "bool": "TYPE_BOOL"}


def supports(format: str) -> bool:
    return format in PLATFORMS


def config_pbtxt(name: str, format: str, signature: Signature, hardware: str) -> str:
    """The config; with a dynamic batch, dims leave the batch out and max_batch_size is set."""
    platform, filename = PLATFORMS[format]
    batched = bool(signature.inputs) and all(t.shape and t.shape[0] == -1 for t in signature.inputs + signature.outputs)
    lines = [f'name: "{name}"']
    lines.append(f'platform: "{platform}"' if platform else 'backend: "openvino"')
    lines.append(f'default_model_filename: "{filename}"')
    lines.append(f"max_batch_size: {MAX_BATCH_SIZE if batched else 0}")

    def tensors(kind: str, specs: list) -> None:
        lines.append(f"{kind} [")
        body = []
        for t in specs:
            dims = t.shape[1:] if batched else t.shape
            body.append(f'  {{\n    name: "{t.name}"\n    data_type: {_TYPES[t.dtype]}\n    dims: [ {", ".join(map(str, dims))} ]\n  }}')
        lines.append(",\n".join(body))
        lines.append("]")

    tensors("input", signature.inputs)
    tensors("output", signature.outputs)
    kind = "KIND_GPU" if hardware == "gpu" else "KIND_CPU"
    lines.append(f"instance_group [ {{ count: 1, kind: {kind} }} ]")
    if batched:
        lines.append("dynamic_batching { }")
    return "\n".join(lines) + "\n"
