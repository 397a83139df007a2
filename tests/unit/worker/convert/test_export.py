"""torch -> ONNX: dynamo first, legacy fallback, dynamic batch, opset, checker, operator names."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
import torch

from modelyard.api.common import Signature
from modelyard.worker.convert.errors import ConversionError
from modelyard.worker.convert.export import _unsupported_operator, check, export_onnx
from tests.unit.worker.convert import models as m


def _signature(kind: str) -> Signature:
    return Signature.model_validate(m.MODELS[kind][1])


def test_dynamo_export_with_dynamic_batch_and_opset(tmp_path: Path):
    module, _ = m.build("two")
    result = export_onnx(module, _signature("two"), tmp_path / "model.onnx", opset=17)
    assert result.exporter == "dynamo" and "opset_version=17" in result.steps[0]
    model = onnx.load(str(result.path))
    assert [i.name for i in model.graph.input] == ["left", "right"]
    assert [o.name for o in model.graph.output] == ["scores", "value"]
    assert all(i.type.tensor_type.shape.dim[0].dim_param for i in model.graph.input)
    assert next(o.version for o in model.opset_import if o.domain == "") == 17
    check(result.path)


def test_torchscript_module_goes_to_the_legacy_exporter(tmp_path: Path):
    module, signature = m.build("cnn")
    scripted = torch.jit.trace(module, m.example(signature))
    result = export_onnx(scripted, _signature("cnn"), tmp_path / "model.onnx")
    assert result.exporter == "legacy" and "TorchScript" in result.steps[0]
    assert onnx.load(str(result.path)).graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"


def test_dynamo_failure_falls_back_and_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    original = torch.onnx.export

    def no_dynamo(*args, **kwargs):
        if kwargs.get("dynamo"):
            raise RuntimeError("torch.export could not capture the model")
        return original(*args, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", no_dynamo)
    module, _ = m.build("mlp")
    result = export_onnx(module, _signature("mlp"), tmp_path / "model.onnx")
    assert result.exporter == "legacy"
    assert "dynamo export failed (RuntimeError: torch.export could not capture the model)" in result.steps[0]


def test_unsupported_operator_in_both_exporters(tmp_path: Path):
    module, _ = m.build("svd")
    with pytest.raises(ConversionError) as caught:
        export_onnx(module, _signature("svd"), tmp_path / "model.onnx")
    assert caught.value.reason == "UnsupportedOperator" and "linalg_svd" in caught.value.message


def test_operator_names_from_exporter_messages():
    assert _unsupported_operator("Exporting the operator 'aten::linalg_eigvals' to ONNX opset version 18 is not supported") == "aten::linalg_eigvals"
    assert _unsupported_operator("DispatchError: No ONNX function found for <OpOverload(op='aten.linalg_eig', overload='default')>") == "aten.linalg_eig"
    assert _unsupported_operator("shape mismatch") is None


def test_checker_failure_is_an_export_failure(tmp_path: Path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07garbage")
    with pytest.raises(ConversionError) as caught:
        check(broken)
    assert caught.value.reason == "ExportFailed" and "broken.onnx fails onnx.checker" in caught.value.message


class WithRate(torch.nn.Module):
    """forward(x, sr: int), as silero-vad's TorchScript takes its sample rate."""

    def forward(self, x: torch.Tensor, sr: int) -> torch.Tensor:
        if sr == 16000:
            return x.mean(dim=-1, keepdim=True)
        return x.amax(dim=-1, keepdim=True)


def test_a_torchscript_int_argument_is_exported_as_a_rank_0_input(tmp_path: Path):
    import numpy as np

    from modelyard.worker.convert.runners import onnx_runner, torch_runner

    scripted = torch.jit.script(WithRate())
    signature = Signature.model_validate({"inputs": [{"name": "x", "shape": [-1, 8]}, {"name": "sr", "dtype": "int64", "shape": []}],
                                          "outputs": [{"name": "p", "shape": [-1, 1]}]})
    result = export_onnx(scripted, signature, tmp_path / "model.onnx", values={"sr": np.array(16000)})
    assert result.frozen == {}  # the legacy exporter keeps it as an input
    (x, sr) = onnx.load(str(result.path)).graph.input
    assert (x.name, sr.name, len(sr.type.tensor_type.shape.dim)) == ("x", "sr", 0)
    batch = {"x": np.random.default_rng(0).random((3, 8), dtype=np.float32), "sr": np.array(16000)}
    source, exported = torch_runner(scripted, signature)(batch), onnx_runner(result.path)(batch)
    np.testing.assert_allclose(exported[0], source[0], rtol=1e-6)
    assert not np.allclose(torch_runner(scripted, signature)({**batch, "sr": np.array(8000)})[0], source[0])


class NotCount(torch.nn.Module):
    """`not n` on a TorchScript int, which the legacy exporter meets as an integer tensor."""

    def forward(self, x: torch.Tensor, n: int) -> torch.Tensor:
        if not n:
            return x * 2
        return x - n


def test_not_on_a_torchscript_int_is_exported_as_python_truthiness_for_that_export_only(tmp_path: Path):
    import numpy as np

    from modelyard.worker.convert.runners import onnx_runner, torch_runner

    scripted = torch.jit.script(NotCount())
    signature = Signature.model_validate({"inputs": [{"name": "x", "shape": [-1, 4]}, {"name": "n", "dtype": "int64", "shape": []}],
                                          "outputs": [{"name": "y", "shape": [-1, 4]}]})
    result = export_onnx(scripted, signature, tmp_path / "model.onnx", values={"n": np.array(0)})
    check(result.path)
    x = np.random.default_rng(0).random((3, 4), dtype=np.float32)
    for n in (0, 3, -2):
        batch = {"x": x, "n": np.array(n)}
        np.testing.assert_allclose(onnx_runner(result.path)(batch)[0], torch_runner(scripted, signature)(batch)[0])
    # torch's own symbolic (which refuses an integer) is back once the export is done
    with pytest.raises(Exception, match="bitwise Not for non-boolean"):
        torch.onnx.export(scripted, (torch.from_numpy(x), 0), str(tmp_path / "plain.onnx"), dynamo=False, opset_version=18)


class Streaming(torch.nn.Module):
    """Keeps a running total between calls, as silero-vad keeps its recurrent state."""

    def __init__(self):
        super().__init__()
        self.total = torch.zeros(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.total = self.total + x.sum()
        return x + self.total


class Remembers(torch.nn.Module):
    """Writes an attribute that no output depends on."""

    def __init__(self):
        super().__init__()
        self.last_batch = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.last_batch = x.size(0)
        return x * 2


_PLAIN = Signature.model_validate({"inputs": [{"name": "x", "shape": [-1, 4]}], "outputs": [{"name": "y", "shape": [-1, 4]}]})


def test_a_torchscript_module_whose_outputs_depend_on_earlier_calls_is_refused(tmp_path: Path):
    scripted = torch.jit.script(Streaming())
    with pytest.raises(ConversionError) as caught:
        export_onnx(scripted, _PLAIN, tmp_path / "model.onnx")
    assert caught.value.reason == "UnsupportedConversion"
    assert "keeps state between calls: forward assigns total" in caught.value.message
    assert float(scripted.total) == 0.0  # checked on a copy


def test_an_attribute_written_without_changing_the_outputs_is_exported_and_recorded(tmp_path: Path):
    scripted = torch.jit.script(Remembers())
    result = export_onnx(scripted, _PLAIN, tmp_path / "model.onnx")
    assert any("forward assigns last_batch, but a second call" in step for step in result.steps)
    assert scripted.last_batch == 0


class BranchOfUnknownRank(torch.nn.Module):
    """Returns out of an `if` whose branches' shapes the legacy exporter cannot infer."""

    def forward(self, x: torch.Tensor, sr: int) -> torch.Tensor:
        if sr == 16000:
            return x.mean(dim=-1, keepdim=True).squeeze().unsqueeze(1)
        return x.amax(dim=-1, keepdim=True).squeeze().unsqueeze(1)


def test_an_output_the_exporter_left_without_a_shape_takes_the_signatures(tmp_path: Path):
    import numpy as np

    signature = Signature.model_validate({"inputs": [{"name": "x", "shape": [-1, 8]}, {"name": "sr", "dtype": "int64", "shape": []}],
                                          "outputs": [{"name": "p", "shape": [-1, 1]}]})
    result = export_onnx(torch.jit.script(BranchOfUnknownRank()), signature, tmp_path / "model.onnx",
                         values={"sr": np.array(16000)})
    check(result.path)
    (output,) = onnx.load(str(result.path)).graph.output
    assert [d.dim_param or d.dim_value for d in output.type.tensor_type.shape.dim] == ["batch", 1]
    assert "output(s) p given the signature's shape (the exporter found none)" in result.steps


def test_a_declared_output_name_a_node_already_holds_is_given_to_the_output(tmp_path: Path):
    """The text encoder's embedding layer names a value `embedding`, the output's declared name."""
    module, signature = m.build("text")
    result = export_onnx(module, Signature.model_validate(signature), tmp_path / "model.onnx")
    check(result.path)
    graph = onnx.load(str(result.path)).graph
    assert result.exporter == "dynamo" and [o.name for o in graph.output] == ["embedding"]
    assert "embedding_intermediate_0" in {name for node in graph.node for name in node.output}
