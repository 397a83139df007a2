"""parity.npz: every verified conversion stores samples and the converted model's own outputs."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import onnxruntime as ort

from modelyard.storage.layout import open_verified, read_manifest, version_prefix
from modelyard.worker.convert import parity_samples, run_convert
from tests.unit.worker.convert import models as m


def _stored(store, version: str) -> tuple[dict[str, np.ndarray], int]:
    prefix = version_prefix(m.NAMESPACE, m.MODEL, version)
    manifest, _ = read_manifest(store, prefix)
    entry = next(f for f in manifest.files if f.path == parity_samples.FILE)
    with open_verified(store, prefix, entry) as stream:
        data = stream.read()
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}, entry.size_bytes


def test_conversion_stores_the_converted_models_outputs_on_verified_samples(store, tmp_path: Path):
    source = m.publish(store, "mlp")
    result = run_convert(m.job(store, tmp_path / "work", source, m.spec("onnx")))
    assert parity_samples.FILE in [f["path"] for f in result["artifact"]["files"]], "in the manifest, with its sha256"

    arrays, size = _stored(store, "1.0.0+onnx.cpu")
    (name,) = [t["name"] for t in m.MODELS["mlp"][1]["inputs"]]
    (output,) = [t["name"] for t in m.MODELS["mlp"][1]["outputs"]]
    inputs, expected = arrays[f"input:{name}"], arrays[f"expected:{output}"]
    assert len(inputs) == int(arrays["samples"]) == parity_samples.MAX_SAMPLES
    assert inputs.shape[1] == 1, "batch 1"
    assert float(arrays["atol"]) == 1e-4 and float(arrays["rtol"]) == 1e-3, "the fp32 verification tolerance"
    assert str(arrays["format"]) == "onnx"
    assert size < 16 * 1024, "small enough to store with every version"

    session = ort.InferenceSession(str(_model(store, tmp_path)), providers=["CPUExecutionProvider"])
    for sample, outputs in zip(inputs, expected, strict=True):
        np.testing.assert_allclose(session.run(None, {name: sample})[0], outputs, rtol=1e-6, atol=1e-6)


def test_int8_records_an_element_wise_tolerance(store, tmp_path: Path):
    source = m.publish(store, "mlp")
    run_convert(m.job(store, tmp_path / "work", source, m.spec("onnx-int8")))
    arrays, _ = _stored(store, "1.0.0+onnx-int8.cpu")
    assert (float(arrays["atol"]), float(arrays["rtol"])) == parity_samples.INT8_FALLBACK
    assert str(arrays["format"]) == "onnx"


def _model(store, tmp_path: Path) -> Path:
    target = tmp_path / "model.onnx"
    target.write_bytes(store.get_bytes(f"{version_prefix(m.NAMESPACE, m.MODEL, '1.0.0+onnx.cpu')}/1/model.onnx"))
    return target


def test_float_samples_are_stored_and_integer_ones_deflated():
    import zipfile

    arrays = {"input:x": np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32),
              "input:ids": np.zeros((2, 64), np.int64), "format": np.array("onnx")}
    data = parity_samples._npz(arrays)
    methods = {i.filename: i.compress_type for i in zipfile.ZipFile(io.BytesIO(data)).infolist()}
    assert methods == {"input:x.npy": zipfile.ZIP_STORED, "input:ids.npy": zipfile.ZIP_DEFLATED,
                       "format.npy": zipfile.ZIP_DEFLATED}
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        assert all(np.array_equal(npz[name], array) for name, array in arrays.items())
