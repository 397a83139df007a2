"""reproduce.sh."""

from __future__ import annotations

import subprocess
from pathlib import Path

from modelyard.worker.convert.reproduce import script


def test_script_is_valid_shell_and_reruns_the_worker(tmp_path: Path):
    text = script("net-convert", "net-1-0-0", "net-convert 1.0.0+onnx.cpu", {"kind": "ConversionJob", "spec": {"x": "it's"}},
                  {"kind": "ModelVersion"}, ["torch.onnx.export(dynamo=True)", "onnxslim.slim"],
                  ["trtexec --onnx=/w/model.onnx"], {"torch": "2.13.0", "python": "3.11.7", "modelyard": "0.1.0"})
    path = tmp_path / "reproduce.sh"
    path.write_text(text)
    assert subprocess.run(["sh", "-n", str(path)], check=False).returncode == 0
    assert "#   1. torch.onnx.export(dynamo=True)" in text and "#   trtexec --onnx=/w/model.onnx" in text
    assert "# pip install torch==2.13.0" in text and '"x": "it\'s"' in text
    assert text.rstrip().endswith("--termination-log /dev/null")
    assert "python -m modelyard.worker convert --object conversionjob.json --source-version source-version.json" in text
