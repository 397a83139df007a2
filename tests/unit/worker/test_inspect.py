"""Inspection reads real models of every format without running untrusted code."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from modelyard.api.common import Signature
from modelyard.templates import load_catalog
from modelyard.worker.inspect import (
    InspectionError,
    SignatureMismatch,
    UnsafeModelError,
    check_signature,
    inspect_model,
)
from tests.support.sources import tiny_onnx


def mlp() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Linear(8, 3)).eval()


def test_onnx_facts(tmp_path: Path):
    facts = inspect_model(tiny_onnx(tmp_path / "m.onnx"), "onnx")
    assert facts.signature.to_dict() == {
        "inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 4]}],
        "outputs": [{"name": "y", "dtype": "float32", "shape": [-1, 3]}],
    }
    assert (facts.opset, facts.parameter_count, facts.op_types) == (17, 15, ["Add", "MatMul"])
    assert facts.to_status()["producer"] == "modelyard-tests"


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_onnx_names_file_and_format(tmp_path: Path, damage: str):
    path = tiny_onnx(tmp_path / "m.onnx")
    path.write_bytes(path.read_bytes()[:40] if damage == "truncate" else b"\x00\xffnot a model" * 10)
    with pytest.raises(InspectionError, match="m.onnx is not a readable onnx model"):
        inspect_model(path, "onnx")


def test_exported_program_is_read_from_its_json_graph(tmp_path: Path):
    batch = torch.export.Dim("batch")
    program = torch.export.export(mlp(), (torch.randn(2, 4),), dynamic_shapes=({0: batch},))
    torch.export.save(program, tmp_path / "m.pt2")
    facts = inspect_model(tmp_path / "m.pt2", "pytorch-exportedprogram")
    (inp,), (out,) = facts.signature.inputs, facts.signature.outputs
    assert (inp.dtype, inp.shape) == ("float32", [-1, 4])
    assert out.shape == [-1, 3]
    assert facts.parameter_count == 4 * 8 + 8 + 8 + 8 + 8 + 8 + 1 + 8 * 3 + 3
    assert "torch.ops.aten.linear.default" in facts.op_types


def test_torchscript(tmp_path: Path):
    torch.jit.save(torch.jit.script(mlp()), tmp_path / "m.ts")
    facts = inspect_model(tmp_path / "m.ts", "torchscript")
    assert [t.name for t in facts.signature.inputs] == ["input"]
    assert facts.parameter_count == sum(p.numel() for p in mlp().parameters())


class WithRate(torch.nn.Module):
    """A voice-activity model's shape of forward: audio and a sample rate as a Python int."""

    def forward(self, x: torch.Tensor, sr: int) -> torch.Tensor:
        return x.mean(dim=-1, keepdim=True) * sr


def test_torchscript_typed_scalar_arguments_are_rank_0_inputs_and_tensors_take_the_declaration(tmp_path: Path):
    torch.jit.save(torch.jit.script(WithRate()), tmp_path / "vad.ts")
    facts = inspect_model(tmp_path / "vad.ts", "torchscript")
    x, sr = facts.signature.inputs
    assert (sr.name, sr.dtype, sr.shape) == ("sr", "int64", []) and facts.untyped == {"x"}
    declared = Signature.model_validate({"inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 512]},
                                                    {"name": "sr", "dtype": "int64", "shape": []}]})
    assert check_signature(declared, facts.signature, untyped=facts.untyped) == declared
    wrong = Signature.model_validate({"inputs": [{"name": "x", "shape": [-1, 512]}, {"name": "sr", "shape": [-1]}]})
    with pytest.raises(SignatureMismatch, match="sr int64"):
        check_signature(wrong, facts.signature, untyped=facts.untyped)


def template(params=None):
    return load_catalog().get("tabular-mlp").resolve(params or {"numFeatures": "4", "numClasses": "3"})


def test_state_dict_loads_into_the_template_architecture(tmp_path: Path):
    module = template().build_module()
    torch.save(module.state_dict(), tmp_path / "weights.pt")
    facts = inspect_model(tmp_path / "weights.pt", "pytorch-state-dict", template())
    assert facts.signature.inputs[0].shape == [-1, 4]
    assert facts.parameter_count == sum(p.numel() for p in module.parameters())


def test_state_dict_that_does_not_fit_names_the_keys(tmp_path: Path):
    torch.save(template({"numFeatures": "5", "numClasses": "3"}).build_module().state_dict(), tmp_path / "w.pt")
    with pytest.raises(InspectionError, match=r"does not fit template tabular-mlp: .*size mismatch"):
        inspect_model(tmp_path / "w.pt", "pytorch-state-dict", template())


class Exploit:
    marker: Path

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path):
    Exploit.marker = tmp_path / "pwned"
    torch.save({"weight": Exploit()}, tmp_path / "weights.pt")
    with pytest.raises(UnsafeModelError, match="never unpickles untrusted files; export it with torch.export.save"):
        inspect_model(tmp_path / "weights.pt", "pytorch-state-dict", template())
    assert not Exploit.marker.exists()
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(UnsafeModelError, match="model.pkl is a Python pickle"):
        inspect_model(tmp_path / "model.pkl", "onnx")
    assert not Exploit.marker.exists()


def test_state_dict_needs_a_template(tmp_path: Path):
    torch.save(mlp().state_dict(), tmp_path / "w.pt")
    with pytest.raises(InspectionError, match="needs source.template"):
        inspect_model(tmp_path / "w.pt", "pytorch-state-dict")


def test_safetensors_header_only(tmp_path: Path):
    import numpy as np
    from safetensors.numpy import save_file

    save_file({"a": np.zeros((3, 4), "float32"), "b": np.zeros(5, "float32")}, str(tmp_path / "w.safetensors"))
    assert inspect_model(tmp_path / "w.safetensors", "safetensors").parameter_count == 17


def test_folder_with_several_or_no_model_files(tmp_path: Path):
    tiny_onnx(tmp_path / "a" / "one.onnx")
    tiny_onnx(tmp_path / "a" / "two.onnx")
    with pytest.raises(InspectionError, match="several onnx file .* found: one.onnx, two.onnx"):
        inspect_model(tmp_path / "a", "onnx")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "labels.txt").write_text("x")
    with pytest.raises(InspectionError, match="no onnx file .* found: labels.txt"):
        inspect_model(tmp_path / "b", "onnx")


def sig(inputs, outputs=()):
    return Signature.model_validate({"inputs": [{"name": n, "shape": s} for n, s in inputs],
                                     "outputs": [{"name": n, "shape": s} for n, s in outputs]})


def test_check_signature():
    actual = sig([("x", [-1, 4])], [("y", [-1, 3])])
    assert check_signature(None, actual) == actual
    assert check_signature(sig([("x", [8, 4])], [("y", [-1, -1])]), actual) == sig([("x", [8, 4])], [("y", [-1, -1])])
    with pytest.raises(SignatureMismatch) as caught:
        check_signature(sig([("input", [-1, 3, 224, 224])], [("y", [-1, 3])]), actual)
    assert "declared inputs: input float32[-1,3,224,224]; model inputs: x float32[-1,4]" in str(caught.value)


def test_an_exported_programs_outputs_take_the_declared_names_by_position(tmp_path: Path):
    """Its outputs are graph nodes (`linear_1`): declaring `embedding` used to fail the import."""
    batch = torch.export.Dim("batch")
    program = torch.export.export(mlp(), (torch.randn(2, 4),), dynamic_shapes=({0: batch},))
    torch.export.save(program, tmp_path / "m.pt2")
    facts = inspect_model(tmp_path / "m.pt2", "pytorch-exportedprogram")
    assert facts.named_outputs is False and facts.signature.outputs[0].name != "embedding"
    named = sig([("input", [-1, 4])], [("embedding", [-1, 3])])
    assert check_signature(named, facts.signature, facts.named_outputs) == named
    with pytest.raises(SignatureMismatch) as caught:
        check_signature(sig([("input", [-1, 4])], [("embedding", [-1, 3]), ("extra", [-1])]), facts.signature, False)
    assert "declared outputs: embedding float32[-1,3], extra float32[-1]" in str(caught.value)
    assert "matched by position" in str(caught.value)
    with pytest.raises(SignatureMismatch, match="declared inputs: tokens"):
        check_signature(sig([("tokens", [-1, 4])], [("embedding", [-1, 3])]), facts.signature, False)
