"""Read a model's facts (signature, opset, parameters, operators) without running untrusted code.

- ONNX: parsed by onnx (protobuf, no code) and checked with `onnx.checker` by path (works for
  models over 2 GB and with external data).
- ExportedProgram (.pt2): read from the archive's JSON graph. `torch.export.load` is NOT used:
  in torch 2.13 it unpickles weights and constants with `weights_only=False`. Archives whose
  weights or constants are pickled are refused.
- TorchScript: `torch.jit.load` (its archive is read by TorchScript's own unpickler, which only
  builds TorchScript types, never arbitrary Python objects).
- State dicts: `torch.load(weights_only=True)` only, then loaded strictly into the template's
  architecture. A plain pickle is refused with a message that says how to export safely.
- safetensors: header only (no pickle by design).
- OpenVINO IR, TensorRT plans, Ascend OM: file facts only; the signature must be declared.
"""

from __future__ import annotations

import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelyard.api.common import Signature, TensorSpec

SUFFIXES = {
    "onnx": (".onnx",),
    "pytorch-exportedprogram": (".pt2",),
    "torchscript": (".pt", ".pth", ".ts", ".torchscript", ".jit"),
    "pytorch-state-dict": (".pt", ".pth", ".bin", ".ckpt"),
    "safetensors": (".safetensors",),
    "openvino": (".xml",),
    "tensorrt-plan": (".plan", ".engine", ".trt"),
    "ascend-om": (".om",),
}
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".dill")

SAFE_EXPORT = (
    "export it with torch.export.save (.pt2), torch.jit.save (TorchScript), torch.onnx.export, "
    "save a state_dict of tensors (with a template), or use safetensors"
)

_ONNX_DTYPES = {1: "float32", 10: "float16", 16: "bfloat16", 7: "int64", 6: "int32", 3: "int8", 2: "uint8", 9: "bool"}
_EXPORT_DTYPES = {1: "uint8", 2: "int8", 4: "int32", 5: "int64", 6: "float16", 7: "float32", 12: "bool", 13: "bfloat16"}
_TORCH_DTYPES = {
    "torch.float32": "float32", "torch.float16": "float16", "torch.bfloat16": "bfloat16", "torch.int64": "int64",
    "torch.int32": "int32", "torch.int8": "int8", "torch.uint8": "uint8", "torch.bool": "bool",
}


class InspectionError(ValueError):
    """The model cannot be read or is not what the spec says; the message names file and format."""


class UnsafeModelError(InspectionError):
    """The file would execute arbitrary code if loaded (a pickle)."""


class SignatureMismatch(InspectionError):
    """The declared signature differs from the model's."""


@dataclass
class ModelFacts:
    """What inspection found."""

    signature: Signature
    opset: int | None = None
    parameter_count: int | None = None
    op_types: list[str] = field(default_factory=list)
    producer: str | None = None
    named_outputs: bool = True
    """False where the format's output names are graph nodes (`linear_1`, `div_1`): a declared
    signature then names the outputs, matched by position."""
    symbols: dict[str, list[str | None]] = field(default_factory=dict)
    """Tensor name -> each axis's symbolic name (ONNX dim_param), where the model names them."""
    untyped: frozenset[str] = frozenset()
    """Inputs whose element type and rank the format does not record (a TorchScript `Tensor`
    argument): a declared signature stands for them."""

    def to_status(self) -> dict[str, Any]:
        """Shaped like api.modelversion.Inspection."""
        body: dict[str, Any] = {"opTypes": self.op_types}
        for key, value in (("opset", self.opset), ("parameterCount", self.parameter_count), ("producer", self.producer)):
            if value is not None:
                body[key] = value
        return body


def find_model_file(path: Path, format: str) -> Path:
    """The model file: `path` itself, or the single file of the format inside a folder."""
    if path.is_file():
        candidates = [path]
    else:
        files = sorted(p for p in path.rglob("*") if p.is_file())
        candidates = [p for p in files if p.name.lower().endswith(SUFFIXES[format])]
        pickles = [p for p in files if p.name.lower().endswith(PICKLE_SUFFIXES)]
        if not candidates and pickles:
            candidates = pickles
        if len(candidates) != 1:
            found = ", ".join(str(p.relative_to(path)) for p in files[:20]) or "nothing"
            what = "no" if not candidates else "several"
            raise InspectionError(
                f"{what} {format} file ({', '.join(SUFFIXES[format])}) in the source; found: {found}"
            )
    model = candidates[0]
    if model.name.lower().endswith(PICKLE_SUFFIXES):
        raise UnsafeModelError(
            f"{model.name} is a Python pickle: loading it would run arbitrary code, and Modelyard never "
            f"unpickles untrusted files; {SAFE_EXPORT}"
        )
    return model


def inspect_model(path: Path, format: str, template: Any = None) -> ModelFacts:
    """Facts of the model at `path` (a file or an unpacked folder) in `format`."""
    model = find_model_file(path, format)
    readers = {
        "onnx": _onnx,
        "pytorch-exportedprogram": _exported_program,
        "torchscript": _torchscript,
        "pytorch-state-dict": lambda p: _state_dict(p, template),
        "safetensors": lambda p: _safetensors(p, template),
    }
    reader = readers.get(format)
    if reader is None:
        return ModelFacts(signature=template.signature if template else Signature())
    try:
        return reader(model)
    except InspectionError:
        raise
    except Exception as error:  # noqa: BLE001 - a corrupt file must become a clear message
        raise InspectionError(f"{model.name} is not a readable {format} model: {type(error).__name__}: {error}") from None


def _dims(values: list[int | None]) -> list[int]:
    return [v if isinstance(v, int) and v >= 0 else -1 for v in values]


def _onnx(model: Path) -> ModelFacts:
    import onnx

    proto = onnx.load(str(model), load_external_data=False)
    onnx.checker.check_model(str(model))
    initializers = {i.name for i in proto.graph.initializer}
    from modelyard.worker.convert.zipmap import tensor_shape, zipmaps

    # A ZipMap's maps are described, run and compared as the tensor it is given (zipmap.py).
    zipped = {name: tensor_shape(proto, z) for name, z in zipmaps(proto).items()}

    def spec(value: Any) -> TensorSpec:
        if value.name in zipped:
            elem = value.type.sequence_type.elem_type.map_type.value_type.tensor_type.elem_type
            return TensorSpec(name=value.name, dtype=_ONNX_DTYPES.get(elem, "float32"),
                              shape=_dims([d if isinstance(d, int) else None for d in zipped[value.name]]))
        if not value.type.HasField("tensor_type"):
            kind = value.type.WhichOneof("value") or "an unknown type"
            raise InspectionError(f"{model.name}: {value.name} is a {kind.replace('_type', '')}, not a tensor; "
                                  "a signature holds tensors: export the model so that it takes and returns tensors")
        tensor = value.type.tensor_type
        dtype = _ONNX_DTYPES.get(tensor.elem_type)
        if dtype is None:
            raise InspectionError(f"{model.name}: tensor {value.name} has an element type ({tensor.elem_type}) the signature cannot express")
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
        return TensorSpec(name=value.name, dtype=dtype, shape=_dims(dims))

    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    producer = f"{proto.producer_name} {proto.producer_version}".strip() or None
    return ModelFacts(
        signature=Signature(
            inputs=[spec(v) for v in proto.graph.input if v.name not in initializers],
            outputs=[spec(v) for v in proto.graph.output],
        ),
        opset=opset,
        parameter_count=sum(math.prod(i.dims) for i in proto.graph.initializer),
        op_types=sorted({n.op_type for n in proto.graph.node}),
        producer=producer,
        symbols={**{v.name: [d.dim_param or None for d in v.type.tensor_type.shape.dim]
                    for v in [*proto.graph.input, *proto.graph.output]},
                 **{name: [d if isinstance(d, str) else None for d in shape] for name, shape in zipped.items()}},
    )


def _exported_program(model: Path) -> ModelFacts:
    with zipfile.ZipFile(model) as archive:
        names = archive.namelist()
        graph_name = next((n for n in names if n.endswith("models/model.json")), None)
        if graph_name is None:
            raise InspectionError(f"{model.name} is not a torch.export archive (no models/model.json)")
        document = json.loads(archive.read(graph_name))
        for config_name in (n for n in names if n.endswith(("model_weights_config.json", "model_constants_config.json"))):
            config = json.loads(archive.read(config_name)).get("config", {})
            pickled = sorted(k for k, v in config.items() if v.get("use_pickle"))
            if pickled:
                raise UnsafeModelError(
                    f"{model.name} stores {', '.join(pickled[:5])} as pickles, which Modelyard never loads from "
                    f"untrusted files; save plain tensors or {SAFE_EXPORT}"
                )
    graph = document["graph_module"]["graph"]
    if graph.get("custom_obj_values"):
        raise UnsafeModelError(f"{model.name} holds custom Python objects; {SAFE_EXPORT}")
    values = graph["tensor_values"]

    def spec(name: str) -> TensorSpec:
        meta = values[name]
        sizes = [s.get("as_int") for s in meta.get("sizes", [])]
        return TensorSpec(name=name, dtype=_EXPORT_DTYPES.get(meta.get("dtype"), "float32"), shape=_dims(sizes))

    signature = document["graph_module"]["signature"]
    inputs = [s["user_input"]["arg"]["as_tensor"]["name"] for s in signature["input_specs"] if "user_input" in s and "as_tensor" in s["user_input"]["arg"]]
    outputs = [s["user_output"]["arg"]["as_tensor"]["name"] for s in signature["output_specs"] if "user_output" in s and "as_tensor" in s["user_output"]["arg"]]
    parameters = [
        next(iter(s.values()))["arg"]["name"] for s in signature["input_specs"] if "parameter" in s or "buffer" in s
    ]
    count = sum(math.prod(_dims([d.get("as_int") for d in values[p].get("sizes", [])]) or [1]) for p in parameters if p in values)
    return ModelFacts(
        signature=Signature(inputs=[spec(n) for n in inputs], outputs=[spec(n) for n in outputs]),
        parameter_count=count,
        op_types=sorted({n["target"] for n in graph["nodes"]}),
        producer=f"torch {document.get('torch_version', '')}".strip(),
        named_outputs=False,
    )


SCALAR_ARGUMENTS = {"IntType": "int64", "FloatType": "float32", "BoolType": "bool"}
"""TorchScript's typed scalar arguments (`forward(self, x, sr: int)`) as rank-0 inputs."""


def _torchscript(model: Path) -> ModelFacts:
    import torch

    if not zipfile.is_zipfile(model):
        raise InspectionError(f"{model.name} is not a TorchScript archive (save it with torch.jit.save)")
    module = torch.jit.load(str(model), map_location="cpu")
    inputs, untyped = [], set()
    for argument in module.forward.schema.arguments:
        if argument.name == "self":
            continue
        scalar = SCALAR_ARGUMENTS.get(argument.type.kind())
        if scalar is None:
            inputs.append(TensorSpec(name=argument.name, shape=[-1]))
            untyped.add(argument.name)
        else:
            inputs.append(TensorSpec(name=argument.name, dtype=scalar, shape=[]))
    return ModelFacts(
        signature=Signature(inputs=inputs),
        untyped=frozenset(untyped),
        parameter_count=sum(p.numel() for p in module.parameters()),
        op_types=sorted({n.kind() for n in module.graph.nodes() if n.kind().startswith("aten::")}),
        producer=f"torch {torch.__version__}",
    )


def _state_dict(model: Path, template: Any) -> ModelFacts:
    import pickle

    import torch

    if template is None:
        raise InspectionError("format pytorch-state-dict needs source.template: a state dict holds no architecture")
    try:
        state = torch.load(str(model), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise UnsafeModelError(
            f"{model.name} contains arbitrary Python objects, not only tensors ({str(error).splitlines()[0]}); "
            f"Modelyard never unpickles untrusted files; {SAFE_EXPORT}"
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InspectionError(f"{model.name} is not a state dict (a mapping of names to tensors)")
    module = template.build_module()
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:
        detail = " ".join(str(error).split())
        raise InspectionError(f"{model.name} does not fit template {template.name}: {detail[:1500]}") from None
    return ModelFacts(
        signature=template.signature,
        parameter_count=sum(t.numel() for t in state.values()),
        producer=f"torch {torch.__version__}",
    )


def _safetensors(model: Path, template: Any) -> ModelFacts:
    from modelyard.worker.sniff import NotTheDeclaredFormat, read_prefix

    size = model.stat().st_size
    try:
        with model.open("rb") as stream:
            prefix = read_prefix("safetensors", stream, size, model.name)
    except NotTheDeclaredFormat as error:
        raise InspectionError(str(error)) from None
    assert prefix.safetensors_header is not None
    return safetensors_facts(prefix.safetensors_header, template, size - len(prefix.data), model.name)


def safetensors_facts(header: dict[str, Any], template: Any, data_bytes: int, name: str) -> ModelFacts:
    """Facts from a safetensors header (all that the format says about itself); `data_bytes` is
    what follows the header, which the tensors must fill exactly."""
    count, end = 0, 0
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        count += math.prod(entry["shape"])
        end = max(end, entry["data_offsets"][1])
    if end != data_bytes:
        raise InspectionError(
            f"{name} is not a readable safetensors model: its header describes {end} bytes of tensors, "
            f"but {data_bytes} bytes follow it (truncated or padded)"
        )
    return ModelFacts(signature=template.signature if template else Signature(), parameter_count=count, producer="safetensors")


def _render(tensors: list[TensorSpec]) -> str:
    return ", ".join(f"{t.name} {t.dtype}[{','.join(map(str, t.shape))}]" for t in tensors) or "none"


def _compatible(declared: TensorSpec, actual: TensorSpec, by_name: bool = True, untyped: frozenset[str] = frozenset()) -> bool:
    if by_name and declared.name == actual.name and actual.name in untyped:
        return True  # the format records neither its element type nor its rank
    if (by_name and declared.name != actual.name) or declared.dtype != actual.dtype:
        return False
    if actual.shape == [-1] and len(declared.shape) != 1:
        return True  # rank unknown (TorchScript): trust the declaration
    if len(declared.shape) != len(actual.shape):
        return False
    return all(d == -1 or a == -1 or d == a for d, a in zip(declared.shape, actual.shape, strict=True))


def check_signature(declared: Signature | None, actual: Signature, named_outputs: bool = True,
                    untyped: frozenset[str] = frozenset()) -> Signature:
    """The signature to record: the declared one when it matches the model, the model's own when
    none is declared; a mismatch shows both. Without `named_outputs`, outputs match by position
    (dtype and shape) and the declared names stand."""
    if declared is None:
        return actual
    problems = []
    for side in ("inputs", "outputs"):
        want, have = getattr(declared, side), getattr(actual, side)
        if not have:
            continue  # the model does not say (e.g. safetensors, TorchScript outputs)
        by_name = side == "inputs" or named_outputs
        known = untyped if side == "inputs" else frozenset()
        if len(want) != len(have) or not all(_compatible(d, a, by_name, known) for d, a in zip(want, have, strict=True)):
            note = "" if by_name else " (matched by position: the model's own output names are graph nodes)"
            problems.append(f"declared {side}: {_render(want)}; model {side}: {_render(have)}{note}")
    if problems:
        raise SignatureMismatch("the declared signature does not match the model: " + "; ".join(problems))
    return declared
