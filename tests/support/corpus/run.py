"""Running a corpus model on its npz inputs, the way its own package runs it, and the facts of
its file (inputs and outputs with their dim params, IR version, opsets, control flow, size).

The npz is split along each input's batch axis into runs of at most `max_batch` samples (inputs
without a batch axis, such as a sample rate or an initial state, go whole into every run); each
run's outputs are kept as they come, so two models given the same npz compare run by run."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import numpy as np

from tests.support.corpus.catalog import Entry

INTEREST = ("If", "Loop", "Scan", "LSTM", "GRU", "RNN", "ConvInteger", "MatMulInteger", "DynamicQuantizeLinear",
            "DequantizeLinear", "Resize", "NonMaxSuppression", "TopK")


def runs(entry: Entry, arrays: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """The npz split into the runs the model takes."""
    batched = [n for n, axis in entry.batch_axes.items() if axis is not None]
    if entry.stacked:
        return [{name: value[i] if name in batched else value for name, value in arrays.items()}
                for i in range(len(arrays[batched[0]]))]
    total = arrays[batched[0]].shape[entry.batch_axes[batched[0]]] if batched else 1
    step = entry.max_batch or total
    out = []
    for start in range(0, total, step):
        run = {}
        for name, value in arrays.items():
            axis = entry.batch_axes.get(name)
            run[name] = value if axis is None else np.take(value, range(start, min(start + step, total)), axis=axis)
        out.append(run)
    return out


def _plain(value: Any) -> np.ndarray:
    """An output as an array: a sequence of maps (ZipMap's probabilities) becomes [rows, keys]."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        keys = sorted(value[0])
        return np.array([[row[k] for k in keys] for row in value], np.float32)
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)


class OnnxModel:
    """An ONNX file on onnxruntime's CPU provider."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def __call__(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = self.session.run(None, {k: feed[k] for k in self.input_names})
        return {name: _plain(v) for name, v in zip(self.output_names, values, strict=True)}


class OpenVinoModel:
    """An OpenVINO IR (model.xml beside its .bin) on OpenVINO's CPU plugin at f32. The plugin's
    default on CPUs with AVX512-BF16 or AMX (this project's machines have AVX512-BF16) is bf16,
    which moves outputs by about 0.4 %: an fp32 IR is judged at the precision it claims."""

    def __init__(self, path: Path) -> None:
        import openvino as ov

        core = ov.Core()
        self.compiled = core.compile_model(core.read_model(str(path)), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        self.input_names = [i.get_any_name() for i in self.compiled.inputs]
        self.output_names = [o.get_any_name() for o in self.compiled.outputs]

    def __call__(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        result = self.compiled({name: feed[name] for name in self.input_names})
        return {name: np.asarray(result[o]) for name, o in zip(self.output_names, self.compiled.outputs, strict=True)}


class TorchModel:
    """An ExportedProgram (.pt2) or TorchScript file, called with the npz's arrays as tensors
    (rank-0 arrays of a scripted int argument as Python ints)."""

    def __init__(self, path: Path, entry: Entry) -> None:
        import torch

        self.torch = torch
        if path.suffix == ".pt2":
            self.module = torch.export.load(str(path)).module()
            self.scripted = False
        else:
            self.module = torch.jit.load(str(path), map_location="cpu").eval()
            self.scripted = True
        self.input_names = list(entry.batch_axes)
        self.output_names = list(entry.outputs)

    def __call__(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        torch = self.torch
        if self.scripted and hasattr(self.module, "reset_states"):
            self.module.reset_states()
        args = [int(feed[n]) if self.scripted and feed[n].ndim == 0 else torch.from_numpy(np.ascontiguousarray(feed[n]))
                for n in self.input_names]
        with torch.no_grad():
            out = self.module(*args)
        values = out if isinstance(out, (tuple, list)) else (out,)
        return {name: _plain(v) for name, v in zip(self.output_names, values, strict=True)}


def load(path: Path, entry: Entry):
    """The model at `path` with the runtime its format needs."""
    if path.suffix == ".onnx":
        return OnnxModel(path)
    if path.suffix == ".xml":
        return OpenVinoModel(path)
    return TorchModel(path, entry)


def outputs(model, entry: Entry, arrays: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """The model's outputs on every run of the npz."""
    return [model(feed) for feed in runs(entry, arrays)]


def _dims(value_type) -> tuple[str, list]:
    import onnx

    if not value_type.HasField("tensor_type"):
        return str(value_type).split("{")[0].strip() or "non-tensor", []
    tensor = value_type.tensor_type
    dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name
    if not tensor.HasField("shape"):
        return dtype, ["?rank"]
    return dtype, [d.dim_param or (d.dim_value if d.HasField("dim_value") else "?") for d in tensor.shape.dim]


def onnx_facts(path: Path) -> dict[str, Any]:
    """Inputs and outputs (dtype, shape with dim params), IR version, opsets, ops of interest
    (counted in subgraphs too) and size of an ONNX file."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    initializers = {i.name for i in model.graph.initializer}
    ops: collections.Counter[str] = collections.Counter()

    def walk(graph) -> None:
        for node in graph.node:
            ops[node.op_type] += 1
            for attribute in node.attribute:
                for sub in ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs):
                    walk(sub)

    walk(model.graph)
    external = {e.value for t in model.graph.initializer for e in t.external_data if e.key == "location"}
    size = path.stat().st_size + sum((path.parent / location).stat().st_size for location in external)
    return {
        "inputs": [{"name": i.name, **dict(zip(("dtype", "shape"), _dims(i.type), strict=True))}
                   for i in model.graph.input if i.name not in initializers],
        "outputs": [{"name": o.name, **dict(zip(("dtype", "shape"), _dims(o.type), strict=True))} for o in model.graph.output],
        "irVersion": model.ir_version,
        "opsets": {o.domain or "ai.onnx": o.version for o in model.opset_import},
        "opsOfInterest": {k: v for k, v in sorted(ops.items()) if k in INTEREST},
        "nodes": sum(ops.values()),
        "sizeBytes": size,
    }


def torch_facts(path: Path, entry: Entry, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """Inputs and outputs of a torch source as the npz feeds it and as it answers."""
    model = TorchModel(path, entry)
    first = model(runs(entry, arrays)[0])
    return {
        "inputs": [{"name": n, "dtype": arrays[n].dtype.name, "shape": list(arrays[n].shape)} for n in model.input_names],
        "outputs": [{"name": n, "dtype": o.dtype.name, "shape": list(o.shape)} for n, o in first.items()],
        "sizeBytes": path.stat().st_size,
    }
