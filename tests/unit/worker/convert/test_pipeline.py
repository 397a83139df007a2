"""run_convert end to end: real small models to every format that runs here, verified, stored."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from modelyard.api.conversionjob import Benchmark, ConversionOutput, ConversionTarget, Verification
from modelyard.api.modelversion import Artifact
from modelyard.storage.base import StoreError
from modelyard.storage.layout import MANIFEST, RESULT, read_manifest, verify_version, version_prefix
from modelyard.worker.convert import run_convert
from modelyard.worker.convert.errors import ConversionError
from modelyard.worker.convert.pipeline import output_version
from modelyard.worker.inspect import InspectionError, SignatureMismatch
from tests.unit.worker.convert import models as m

MATRIX = [
    ("mlp", "onnx"), ("mlp", "onnx-fp16"), ("mlp", "onnx-int8"), ("mlp", "openvino"), ("mlp", "torchscript"),
    ("cnn", "onnx"), ("cnn", "onnx-fp16"), ("cnn", "onnx-int8"), ("cnn", "openvino"), ("cnn", "torchscript"),
    ("residual", "onnx"), ("residual", "onnx-fp16"), ("residual", "onnx-int8"), ("residual", "openvino"),
    ("lstm", "onnx"), ("lstm", "onnx-fp16"), ("lstm", "onnx-int8"), ("lstm", "openvino"),
    ("two", "onnx"), ("two", "onnx-fp16"), ("two", "onnx-int8"), ("two", "openvino"), ("two", "torchscript"),
]
MODEL_FILES = {"onnx": ["1/model.onnx"], "openvino": ["1/model.bin", "1/model.xml"], "torchscript": ["1/model.pt"]}


def convert(store, tmp_path: Path, kind: str = "mlp", format: str = "onnx", source_format: str = "pytorch-exportedprogram",
            name: str = "net-convert", progress=None, **target):
    source = m.publish(store, kind, source_format)
    return run_convert(m.job(store, tmp_path / "work", source, m.spec(format, **target), name=name, progress=progress))


@pytest.mark.parametrize(("kind", "format"), MATRIX)
def test_converts_verifies_and_stores(store, tmp_path: Path, kind: str, format: str):
    stages: list[str] = []
    result = convert(store, tmp_path, kind, format, progress=stages.append)
    stored = "onnx" if format.startswith("onnx") else format
    assert result["ok"] and result["phase"] == "Succeeded" and result["reason"] == "Converted"
    assert result["outputVersion"] == {"name": "net-convert", "version": f"1.0.0+{format}.cpu", "format": stored, "hardware": "cpu"}
    verification = result["verification"]
    assert verification["passed"] and verification["samples"] == 16 and verification["inputs"] == "generated", \
        "spec.verify.samples' default, compared at each shape"
    assert [next(iter(shapes.values()))[0] for shapes in verification["shapes"]] == [1, 16], "batch 1 and 16"
    assert [o["name"] for o in verification["outputs"]] == [t["name"] for t in m.MODELS[kind][1]["outputs"]]
    if format in ("onnx", "openvino", "torchscript"):
        assert verification["maxAbsDiff"] < 1e-4
    bench = result["benchmark"]
    assert bench["source"]["latencyP50MsBatch1"] > 0 and bench["output"]["latencyP50MsBatchN"] > 0
    assert bench["output"]["batchSize"] == 4 and bench["speedupBatch1"] > 0 and 0 < bench["sizeRatio"]
    assert stages[-3:] == ["verify", "benchmark", "upload"] and stages[:3] == ["fetch", "load", "export"]

    prefix = version_prefix(m.NAMESPACE, m.MODEL, f"1.0.0+{format}.cpu")
    manifest, digest = verify_version(store, prefix)
    assert result["artifact"]["digest"] == digest
    paths = sorted(f.path for f in manifest.files)
    assert paths == sorted(MODEL_FILES[stored] + ["config.pbtxt", "parity.npz", "reproduce.sh"])
    assert manifest.format == stored and manifest.name == "net-convert"
    assert manifest.lineage["parentVersion"] == m.SOURCE and manifest.lineage["conversionJob"] == "net-convert"
    assert manifest.lineage["steps"] and manifest.tools["torch"] and manifest.lineage["tools"]["onnxruntime"]
    assert manifest.signature == m.MODELS[kind][1]
    assert json.loads(store.get_bytes(f"{prefix}/{RESULT}")) == result
    # what the operator copies into ConversionJob status parses as the api's types
    assert Verification.model_validate(verification).passed and Benchmark.model_validate(bench).output.batch_size == 4
    assert Artifact.model_validate(result["artifact"]).size_bytes == manifest.size_bytes


def test_version_order_files_then_manifest_then_result(store, tmp_path: Path):
    source = m.publish(store)
    written: list[str] = []
    original = store.put
    store.put = lambda key, stream, progress=None, size=None: written.append(key.rsplit("/", 1)[-1]) or original(key, stream, progress, size)
    run_convert(m.job(store, tmp_path / "w", source, m.spec("onnx")))
    assert written[-2:] == [MANIFEST, RESULT] and "model.onnx" in written


def test_output_version_replaces_build_metadata():
    target = ConversionTarget(format="onnx-fp16", hardware="gpu")
    assert output_version("1.2.3", target) == "1.2.3+onnx-fp16.gpu"
    assert output_version("1.2.3-rc.1+build.7", target) == "1.2.3-rc.1+onnx-fp16.gpu"


def test_output_name_and_version_from_spec(store, tmp_path: Path):
    source = m.publish(store)
    spec = m.spec("onnx").model_copy(update={"output": ConversionOutput(name="net-fast", version="2.0.0")})
    result = run_convert(m.job(store, tmp_path / "w", source, spec))
    assert result["outputVersion"]["name"] == "net-fast" and result["outputVersion"]["version"] == "2.0.0"
    assert read_manifest(store, version_prefix(m.NAMESPACE, m.MODEL, "2.0.0")) is not None


def test_torchscript_source_uses_the_legacy_exporter_and_says_so(store, tmp_path: Path):
    result = convert(store, tmp_path, "cnn", "onnx", source_format="torchscript")
    assert result["exporter"] == "legacy" and result["verification"]["passed"]
    manifest, _ = read_manifest(store, version_prefix(m.NAMESPACE, m.MODEL, "1.0.0+onnx.cpu"))
    assert any("legacy exporter" in step for step in manifest.lineage["steps"])


def test_state_dict_with_template(store, tmp_path: Path):
    import torch

    from modelyard.templates import load_catalog

    module = load_catalog().get("tabular-mlp").resolve({}).build_module()
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    source = m.publish(store, "template", "pytorch-state-dict", data=("weights.pt", buffer.getvalue()),
                       template={"name": "tabular-mlp", "uri": "s3://models/weights.pt"})
    result = run_convert(m.job(store, tmp_path / "w", source, m.spec("onnx-int8")))
    assert result["verification"]["passed"] and result["exporter"] == "dynamo"
    assert result["signature"]["inputs"][0]["name"] == "features"


def test_onnx_source_needs_no_export(store, tmp_path: Path):
    stages: list[str] = []
    result = convert(store, tmp_path, "two", "openvino", source_format="onnx", progress=stages.append)
    assert result["exporter"] == "none" and "export" not in stages and result["verification"]["passed"]


def test_static_int8_with_calibration_data(store, tmp_path: Path):
    rng = np.random.default_rng(3)
    npz = tmp_path / "calibration.npz"
    np.savez(npz, image=rng.standard_normal((24, 3, 16, 16)).astype("float32"))
    result = convert(store, tmp_path, "cnn", "onnx-int8", quantization={"mode": "static", "calibrationUri": f"file://{npz}"})
    assert result["verification"]["passed"] and result["verification"]["samples"] == 16
    assert result["verification"]["top1Agreement"] >= 0.9
    manifest, _ = read_manifest(store, version_prefix(m.NAMESPACE, m.MODEL, "1.0.0+onnx-int8.cpu"))
    assert any("quantize_static" in step and "24 calibration samples" in step for step in manifest.lineage["steps"])
    assert "QuantizeLinear" in manifest.inspection["opTypes"]


def test_failed_verification_registers_nothing(store, tmp_path: Path):
    with pytest.raises(ConversionError) as caught:
        convert(store, tmp_path, "cnn", "onnx-fp16", verify={"atol": 0.0, "rtol": 0.0})
    assert caught.value.reason == "VerificationFailed"
    assert "logits: maxAbsDiff=" in caught.value.message and "atol=0.0" in caught.value.message
    assert store.list(f"{m.NAMESPACE}/{m.MODEL}/1.0.0+onnx-fp16.cpu/") == []


def test_verification_can_be_disabled(store, tmp_path: Path):
    stages: list[str] = []
    result = convert(store, tmp_path, format="onnx", verify={"enabled": False}, progress=stages.append)
    assert result["verification"] is None and "verify" not in stages


def test_retried_job_returns_the_stored_result(store, tmp_path: Path):
    source = m.publish(store)
    first = run_convert(m.job(store, tmp_path / "a", source, m.spec("onnx")))
    again = run_convert(m.job(store, tmp_path / "b", source, m.spec("onnx")))
    assert again["reason"] == "AlreadyConverted" and again["artifact"] == first["artifact"]
    with pytest.raises(StoreError) as caught:
        run_convert(m.job(store, tmp_path / "c", source, m.spec("onnx"), name="another-job"))
    assert caught.value.reason == "AlreadyExists" and "spec.output.version" in caught.value.message


def test_corrupted_source_in_store_is_refused(store, tmp_path: Path):
    source = m.publish(store)
    key = f"{m.NAMESPACE}/{m.MODEL}/1.0.0/model.pt2"
    data = bytearray(store.get_bytes(key))
    data[len(data) // 2] ^= 0xFF
    store.put_bytes(key, bytes(data))
    with pytest.raises(StoreError) as caught:
        run_convert(m.job(store, tmp_path / "w", source, m.spec("onnx")))
    assert caught.value.reason == "IntegrityError" and "model.pt2" in caught.value.message


@pytest.mark.parametrize(("format", "filename"), [("pytorch-exportedprogram", "model.pt2"), ("onnx", "model.onnx"),
                                                  ("torchscript", "model.pt")])
def test_garbage_model_fails_naming_the_file(store, tmp_path: Path, format: str, filename: str):
    source = m.publish(store, "mlp", format, data=(filename, b"this is not a model" * 10))
    with pytest.raises((InspectionError, ConversionError)) as caught:
        run_convert(m.job(store, tmp_path / "w", source, m.spec("onnx")))
    assert filename in str(caught.value)


def test_unsupported_operator_is_named(store, tmp_path: Path):
    with pytest.raises(ConversionError) as caught:
        convert(store, tmp_path, "svd", "onnx")
    assert caught.value.reason == "UnsupportedOperator"
    assert "linalg_svd" in caught.value.message and "opset 18" in caught.value.message


def test_signature_mismatch(store, tmp_path: Path):
    wrong = {"inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 9]}], "outputs": m.MODELS["mlp"][1]["outputs"]}
    source = m.publish(store, "mlp", "onnx", signature=wrong, data=m.serialise(*m.build("mlp"), "onnx"))
    with pytest.raises(SignatureMismatch) as caught:
        run_convert(m.job(store, tmp_path / "w", source, m.spec("onnx")))
    assert "x float32[-1,9]" in str(caught.value) and "x float32[-1,8]" in str(caught.value)


@pytest.mark.parametrize(("source_format", "format", "hardware", "says"), [
    ("onnx", "torchscript", "cpu", "ONNX cannot be converted to TorchScript"),
    ("pytorch-exportedprogram", "openvino", "gpu", "format openvino does not run on hardware gpu"),
    ("pytorch-exportedprogram", "onnx-int8", "ascend", "does not run on hardware ascend"),
    ("tensorrt-plan", "onnx", "cpu", "cannot be converted"),
])
def test_impossible_conversions_fail_before_any_work(store, tmp_path: Path, source_format, format, hardware, says):
    source = m.publish(store, "mlp", source_format, data=("model.bin", b"x"))
    with pytest.raises(ConversionError) as caught:
        run_convert(m.job(store, tmp_path / "w", source, m.spec(format, hardware=hardware)))
    assert caught.value.reason == "UnsupportedConversion" and says in caught.value.message
    assert not (tmp_path / "w" / "source").exists()


def test_tensorrt_without_trtexec_names_the_command(store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ConversionError) as caught:
        convert(store, tmp_path, "cnn", "tensorrt-plan", hardware="gpu")
    message = caught.value.message
    assert caught.value.reason == "ToolMissing" and message.startswith("trtexec is not installed")
    assert "trtexec --onnx=" in message and "--minShapes=image:1x3x16x16" in message and "--fp16" in message
    assert store.list(f"{m.NAMESPACE}/{m.MODEL}/1.0.0+tensorrt-plan.gpu/") == []


def test_ascend_without_atc_names_the_command(store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ConversionError) as caught:
        convert(store, tmp_path, "two", "ascend-om", hardware="ascend", ascend={"socVersion": "Ascend910B"})
    message = caught.value.message
    assert caught.value.reason == "ToolMissing" and message.startswith("atc is not installed")
    assert "--framework=5" in message and "--soc_version=Ascend910B" in message
    assert "'--input_shape=left:-1,4;right:-1,6'" in message


def test_worker_command_line(store, tmp_path: Path):
    import yaml

    from modelyard.worker.__main__ import main
    from tests.support import builders

    source = m.publish(store)
    (tmp_path / "source.yaml").write_text(yaml.safe_dump(source.model_dump(by_alias=True, exclude_none=True, mode="json")))
    job = builders.conversion_job("net-convert", sourceRef={"name": m.SOURCE}, target={"format": "onnx"})
    job["metadata"]["namespace"] = m.NAMESPACE
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job))
    code = main(["convert", "--object", str(tmp_path / "job.yaml"), "--source-version", str(tmp_path / "source.yaml"),
                 "--store", store.uri, "--workdir", str(tmp_path), "--termination-log", str(tmp_path / "term")])
    assert code == 0
    assert json.loads((tmp_path / "term").read_text())["ok"] is True


def test_an_unexpected_exception_names_its_stage_and_where_the_traceback_is(store, tmp_path: Path, monkeypatch):
    """A user once saw `IndexError: tuple index out of range` and nothing else."""
    import yaml

    from modelyard.worker import __main__ as worker
    from modelyard.worker.convert import pipeline
    from tests.support import builders

    def broken(*_args, **_kwargs):
        return ().__getitem__(0)

    monkeypatch.setattr(pipeline.shapes, "cases", broken)
    source = m.publish(store)
    (tmp_path / "source.yaml").write_text(yaml.safe_dump(source.model_dump(by_alias=True, exclude_none=True, mode="json")))
    job = builders.conversion_job("net-convert", sourceRef={"name": m.SOURCE}, target={"format": "onnx"})
    job["metadata"]["namespace"] = m.NAMESPACE
    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job))
    code = worker.main(["convert", "--object", str(tmp_path / "job.yaml"), "--source-version", str(tmp_path / "source.yaml"),
                        "--store", store.uri, "--workdir", str(tmp_path), "--termination-log", str(tmp_path / "term")])
    result = json.loads((tmp_path / "term").read_text())
    assert code == 2 and result["reason"] == "InternalError" and result["stage"] == "load"
    assert result["message"].startswith("an unexpected IndexError during load: tuple index out of range; ")
    assert "the traceback is in the job's worker.log" in result["message"]


@pytest.mark.parametrize("format", ["onnx", "onnx-fp16", "onnx-int8", "openvino"])
def test_a_text_encoder_keeps_its_dynamic_sequence(store, tmp_path: Path, format: str):
    """It was exported with the sequence fixed at the example's size and verified at that size only."""
    import onnx

    # a random 16-wide encoder: its embedding's arg-max means nothing, shapes are the point
    result = convert(store, tmp_path, "text", format, verify={"minTop1Agreement": 0})
    verification = result["verification"]
    assert verification["passed"] and verification["shapes"] == [{"tokens": [1, 8]}, {"tokens": [16, 64]}]
    assert "note" not in verification, "token ids drawn over the embedding table, not 0/1"
    if format.startswith("onnx"):
        graph = onnx.load(str(tmp_path / "work" / "build" / {"onnx": "model.onnx", "onnx-fp16": "model.fp16.onnx",
                                                              "onnx-int8": "model.int8.onnx"}[format])).graph
        dims = graph.input[0].type.tensor_type.shape.dim
        assert [d.HasField("dim_value") for d in dims] == [False, False], dims
        assert [o.name for o in graph.output] == ["embedding"], "the declared name, though a node is called so too"


def test_a_traced_text_encoder_that_fixed_its_sizes_is_refused(store, tmp_path: Path):
    with pytest.raises(ConversionError) as caught:
        convert(store, tmp_path, "text", "torchscript")
    assert "the traced TorchScript model fails at input shapes tokens[3, 8], which the source accepts" in caught.value.message
    assert store.list(f"{m.NAMESPACE}/{m.MODEL}/1.0.0+torchscript.cpu/") == [], "nothing registered"


def test_a_text_encoder_quantizes_with_real_length_calibration(store, tmp_path: Path):
    """Calibration of 32-token inputs failed on a model fixed at 8 tokens (an onnxruntime shape error)."""
    rng = np.random.default_rng(4)
    npz = tmp_path / "tokens.npz"
    np.savez(npz, tokens=rng.integers(0, m.VOCAB, (12, 32)))
    # the shapes are the point: a random 8-wide toy embedding keeps only ~0.94 cosine through INT8
    result = convert(store, tmp_path, "text", "onnx-int8", quantization={"mode": "static", "calibrationUri": f"file://{npz}"},
                     verify={"samples": 4, "atol": 0.5})
    verification = result["verification"]
    assert verification["inputs"] == "given" and verification["shapes"] == [
        {"tokens": [1, 32]}, {"tokens": [4, 32]}, {"tokens": [1, 64]}], "the data's own 32 tokens, then twice that"


def test_verification_runs_on_the_users_inputs(store, tmp_path: Path):
    rng = np.random.default_rng(5)
    npz = tmp_path / "inputs.npz"
    np.savez(npz, tokens=rng.integers(0, m.VOCAB, (3, 20)))
    result = convert(store, tmp_path, "text", "onnx", verify={"inputsUri": f"file://{npz}", "samples": 3})
    verification = result["verification"]
    assert verification["inputs"] == "given" and verification["samples"] == 3, "the samples the user asked for"
    assert verification["shapes"] == [{"tokens": [1, 20]}, {"tokens": [3, 20]}, {"tokens": [1, 40]}]
    assert {"input": "tokens", "axis": 1, "sizes": [20, 40]} in verification["axes"]
    assert "verified on 3 given samples at each of 3 shapes" in result["message"]
    assert result["benchmark"]["output"]["batchSize"] == 3, "latency measured on the 3 given samples"


def test_inputs_that_do_not_fit_the_signature_are_refused_naming_the_tensor(store, tmp_path: Path):
    npz = tmp_path / "inputs.npz"
    np.savez(npz, tokens=np.zeros((3, 4, 2), dtype=np.int64))
    with pytest.raises(ConversionError) as caught:
        convert(store, tmp_path, "text", "onnx", verify={"inputsUri": f"file://{npz}"})
    assert caught.value.reason == "InvalidCalibration"
    assert "tokens has shape [3, 4, 2]; the model takes tokens as [-1, -1]" in caught.value.message


def test_classifier_outputs_must_name_outputs_of_the_model(store, tmp_path: Path):
    with pytest.raises(ConversionError) as caught:
        convert(store, tmp_path, "text", "onnx-int8", verify={"classifierOutputs": ["logits"]})
    assert caught.value.reason == "InvalidSpec"
    assert caught.value.message == ("spec.verify.classifierOutputs: 'logits' is not an output of the source model; "
                                    "its outputs are embedding")
    assert store.list(f"{m.NAMESPACE}/{m.MODEL}/1.0.0+onnx-int8.cpu/") == []


@pytest.mark.parametrize("format", ["onnx", "onnx-fp16", "onnx-int8", "openvino"])
def test_an_ir3_opset9_model_zoo_cnn_converts(store, tmp_path: Path, format: str):
    """Every conversion of such a model failed: "conv1_w_0 in initializer but not in graph input"."""
    source = m.publish(store, "old", "onnx", data=("model.onnx", m.old_onnx()))
    result = run_convert(m.job(store, tmp_path / "work", source, m.spec(format)))
    assert result["verification"]["passed"]
    prefix = version_prefix(m.NAMESPACE, m.MODEL, f"1.0.0+{format}.cpu")
    manifest, _ = read_manifest(store, prefix)
    assert any("IR version 3" in step for step in manifest.lineage["steps"]), manifest.lineage["steps"]
    assert [t["name"] for t in manifest.signature["inputs"]] == ["gpu_0/data_0"]
    config = store.get_bytes(f"{prefix}/config.pbtxt").decode()
    assert '"gpu_0/data_0"' in config and '"gpu_0/softmax_1"' in config


def test_generated_integer_inputs_without_a_known_table_are_called_weak_evidence(store, tmp_path: Path):
    signature = {"inputs": [{"name": "x", "dtype": "int64", "shape": [-1, 8]}],
                 "outputs": [{"name": "logits", "dtype": "float32", "shape": [-1, 5]}]}

    class Counts(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mlp = m.MLP()

        def forward(self, x):
            return self.mlp(x.float())

    torch.manual_seed(0)
    module = Counts().eval()
    source = m.publish(store, "counts", "onnx", data=m.serialise(module, signature, "onnx"), signature=signature)
    result = run_convert(m.job(store, tmp_path / "work", source, m.spec("onnx")))
    assert "integer input(s) x were generated as 0s and 1s" in result["verification"]["note"]
