"""trtexec and atc: the exact commands, and clear failures when the tool is missing or fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modelyard.api.common import Signature
from modelyard.api.conversionjob import AscendOptions
from modelyard.worker.convert.errors import ConversionError
from modelyard.worker.convert.tools import atc_command, render, run_tool, trtexec_command

IMAGE = Signature.model_validate({"inputs": [{"name": "image", "shape": [-1, 3, 224, 224]}],
                                  "outputs": [{"name": "logits", "shape": [-1, 1000]}]})
TWO = Signature.model_validate({"inputs": [{"name": "ids", "dtype": "int64", "shape": [-1, 128]},
                                           {"name": "mask", "dtype": "int64", "shape": [-1, 128]}]})
FIXED = Signature.model_validate({"inputs": [{"name": "x", "shape": [1, 16]}]})


def test_trtexec_dynamic_batch_profile():
    assert trtexec_command(Path("/w/model.onnx"), Path("/w/model.plan"), IMAGE) == [
        "trtexec", "--onnx=/w/model.onnx", "--saveEngine=/w/model.plan",
        "--minShapes=image:1x3x224x224", "--optShapes=image:8x3x224x224", "--maxShapes=image:32x3x224x224",
        "--fp16", "--skipInference",
    ]


def test_trtexec_two_inputs_and_fixed_shapes():
    command = trtexec_command(Path("m.onnx"), Path("m.plan"), TWO, fp16=False)
    assert "--minShapes=ids:1x128,mask:1x128" in command and "--fp16" not in command
    assert trtexec_command(Path("m.onnx"), Path("m.plan"), FIXED) == [
        "trtexec", "--onnx=m.onnx", "--saveEngine=m.plan", "--fp16", "--skipInference"]


def test_atc_command():
    options = AscendOptions(soc_version="Ascend310P3", precision_mode="force_fp16")
    assert atc_command(Path("/w/model.onnx"), Path("/w/model"), IMAGE, options) == [
        "atc", "--model=/w/model.onnx", "--framework=5", "--output=/w/model", "--soc_version=Ascend310P3",
        "--precision_mode=force_fp16", "--input_shape=image:-1,3,224,224", "--dynamic_batch_size=1,2,4,8,16,32",
    ]
    fixed = atc_command(Path("m.onnx"), Path("m"), FIXED, AscendOptions(soc_version="Ascend910B"))
    assert fixed[-2:] == ["--precision_mode=allow_fp32_to_fp16", "--input_shape=x:1,16"]
    assert render(atc_command(Path("m.onnx"), Path("m"), TWO, options)).count("'--input_shape=ids:-1,128;mask:-1,128'") == 1


def test_a_dynamic_sequence_gets_a_tensorrt_profile_over_it():
    sequence = Signature.model_validate({"inputs": [{"name": "input_ids", "dtype": "int64", "shape": [-1, -1]},
                                                    {"name": "attention_mask", "dtype": "int64", "shape": [-1, -1]}]})
    command = trtexec_command(Path("m.onnx"), Path("m.plan"), sequence)
    assert "--minShapes=input_ids:1x1,attention_mask:1x1" in command
    assert "--optShapes=input_ids:8x64,attention_mask:8x64" in command
    assert "--maxShapes=input_ids:32x512,attention_mask:32x512" in command
    bounded = trtexec_command(Path("m.onnx"), Path("m.plan"), sequence,
                              bounds={"input_ids": {1: (2, 128)}, "attention_mask": {1: (2, 128)}})
    assert "--minShapes=input_ids:1x2,attention_mask:1x2" in bounded
    assert "--maxShapes=input_ids:32x128,attention_mask:32x128" in bounded, "the source's Dim(max=128)"


def test_a_dynamic_sequence_gets_ascend_dynamic_dims_gears():
    sequence = Signature.model_validate({"inputs": [{"name": "input_ids", "dtype": "int64", "shape": [-1, -1]},
                                                    {"name": "attention_mask", "dtype": "int64", "shape": [-1, -1]}]})
    command = atc_command(Path("m.onnx"), Path("m"), sequence, AscendOptions(soc_version="Ascend910B"),
                          {"input_ids": {1: (1, 64)}, "attention_mask": {1: (1, 64)}})
    assert "--input_shape=input_ids:-1,-1;attention_mask:-1,-1" in command and "--input_format=ND" in command
    gears = next(c for c in command if c.startswith("--dynamic_dims=")).split("=", 1)[1].split(";")
    assert gears[0] == "1,8,1,8" and "32,64,32,64" in gears, "the same length for both inputs, capped at 64"
    assert len(gears) == 6 * 4 and not any(c.startswith("--dynamic_batch_size") for c in command)


def test_missing_tool_names_tool_and_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConversionError) as caught:
        run_tool(["atc", "--model=a b.onnx", "--framework=5"], tmp_path)
    assert caught.value.reason == "ToolMissing"
    assert caught.value.message.startswith("atc is not installed")
    assert caught.value.message.endswith("The command that would have run: atc '--model=a b.onnx' --framework=5")


def _fake_tool(folder: Path, name: str, body: str) -> None:
    tool = folder / name
    tool.write_text(f"#!/bin/sh\n{body}\n")
    tool.chmod(0o755)


def test_tool_runs_and_failure_shows_its_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _fake_tool(tmp_path, "trtexec", 'echo "$@" > args.txt')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert run_tool(["trtexec", "--onnx=m.onnx"], tmp_path) == "trtexec --onnx=m.onnx"
    assert (tmp_path / "args.txt").read_text() == "--onnx=m.onnx\n"
    _fake_tool(tmp_path, "trtexec", "echo 'Error: unsupported layer' >&2; exit 3")
    with pytest.raises(ConversionError) as caught:
        run_tool(["trtexec", "--onnx=m.onnx"], tmp_path)
    assert caught.value.reason == "ToolFailed" and "exited with 3" in caught.value.message
    assert "unsupported layer" in caught.value.message
