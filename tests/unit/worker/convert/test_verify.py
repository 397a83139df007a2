"""Verification figures, per-format tolerances and the failure message."""

from __future__ import annotations

import numpy as np
import pytest

from modelyard.api.conversionjob import ConversionTarget, VerifySpec
from modelyard.worker.convert.errors import ConversionError
from modelyard.api.common import Signature
from modelyard.worker.convert.shapes import Case, cases, generate
from modelyard.worker.convert.verify import Tolerance, compare_output, tolerance, verify

FP32 = Tolerance("fp32", 1e-4, 1e-3, None)
INT8 = Tolerance("int8", None, None, 0.9)


def test_per_format_defaults_and_overrides():
    assert tolerance(ConversionTarget(format="onnx"), None) == FP32
    assert tolerance(ConversionTarget(format="onnx-fp16"), None) == Tolerance("fp16", 1e-2, 1e-2, None)
    assert tolerance(ConversionTarget(format="onnx-int8"), None) == INT8
    assert tolerance(ConversionTarget(format="tensorrt-plan", hardware="gpu"), None).precision == "fp16"
    ascend = ConversionTarget(format="ascend-om", hardware="ascend", ascend={"socVersion": "Ascend910B", "precisionMode": "force_fp32"})
    assert tolerance(ascend, None).precision == "fp32"
    spec = VerifySpec(atol=0.5, min_top1_agreement=0.99)
    assert tolerance(ConversionTarget(format="onnx-int8"), spec) == Tolerance("int8", 0.5, None, 0.99)


def test_figures_of_one_output():
    reference = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]], dtype=np.float32)
    candidate = reference + np.array([[0.0, 0.0, 0.5], [0.0, 0.0, 0.0]], dtype=np.float32)
    figures = compare_output("logits", reference, candidate, FP32)
    assert figures["maxAbsDiff"] == pytest.approx(0.5) and figures["maxRelDiff"] == pytest.approx(0.5 / 3)
    assert figures["top1Agreement"] == 1.0 and figures["passed"] is False
    assert compare_output("logits", reference, reference.copy(), FP32)["passed"] is True


def test_int8_is_judged_by_agreement():
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((10, 5)).astype(np.float32)
    close = reference + 0.05
    assert compare_output("logits", reference, close, INT8)["passed"] is True
    flipped = reference.copy()
    flipped[:2] = -flipped[:2]  # two of ten samples change class
    figures = compare_output("logits", reference, flipped, INT8)
    assert figures["top1Agreement"] == pytest.approx(0.8) and figures["passed"] is False
    features = rng.standard_normal((4, 7, 6))
    assert compare_output("features", features, features + 0.01, INT8)["passed"] is True
    assert compare_output("features", features, features + 2.0, INT8)["passed"] is False


def _near(reference: np.ndarray, scale: float, seed: int = 1) -> np.ndarray:
    return reference + scale * np.random.default_rng(seed).standard_normal(reference.shape)


def test_an_int8_embedding_is_judged_by_cosine_not_by_its_arg_max():
    """A sentence embedding's arg-max means nothing: the old rule judged a [N, 384] output by
    top-1 agreement, refusing a good INT8 embedding (cosine 0.98) for its arg-max."""
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((16, 384)) * 0.1
    good = _near(reference, 0.015)  # cosine ~0.99, arg-max moves in most samples
    figures = compare_output("sentence_embedding", reference, good, INT8)
    assert figures["judgedAs"] == "embedding" and "top1Agreement" not in figures
    assert 0.95 < figures["minCosine"] < 1.0 and figures["passed"] is True
    as_classifier = compare_output("scores", reference, good, INT8)
    assert as_classifier["judgedAs"] == "classifier" and as_classifier["top1Agreement"] < 0.9 and not as_classifier["passed"]
    poor = _near(reference, 0.06)  # cosine ~0.85: retrieval would change
    figures = compare_output("sentence_embedding", reference, poor, INT8)
    assert figures["minCosine"] < 0.95 and figures["passed"] is False


def test_a_normalised_int8_embedding_is_judged_by_direction_and_neighbours_not_by_element_error():
    """all-MiniLM-L6-v2's L2-normalised embedding through INT8: cosine 0.98, yet its largest element
    error was 10 % of a range of only 0.4, and the range rule refused it."""
    rng = np.random.default_rng(2)
    topics = rng.standard_normal((4, 384))
    raw = np.repeat(topics, 4, axis=0) + 0.6 * rng.standard_normal((16, 384))  # sentences on four topics
    reference = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    moved = _near(reference, 0.008, seed=3)
    moved /= np.linalg.norm(moved, axis=1, keepdims=True)
    span = reference.max() - reference.min()
    assert np.abs(moved - reference).max() > 0.1 * span * 0.2, "an element error the range rule would weigh"
    figures = compare_output("sentence_embedding", reference, moved, INT8)
    assert figures["minCosine"] > 0.95 and figures["similarityRank"] > 0.9 and figures["passed"] is True
    shuffled = reference[rng.permutation(16)]  # each vector fine alone, the neighbours all wrong
    mixed = compare_output("sentence_embedding", reference, 0.3 * reference + shuffled, INT8)
    assert mixed["similarityRank"] < 0.9 and mixed["passed"] is False


def test_classifier_outputs_named_in_the_spec_decide():
    reference = np.random.default_rng(0).standard_normal((8, 5))
    listed = Tolerance("int8", None, None, 0.9, ("pooled",))
    assert compare_output("pooled", reference, reference, listed)["judgedAs"] == "classifier"
    assert compare_output("logits", reference, reference, listed)["judgedAs"] == "embedding"
    assert compare_output("logits", reference, reference, Tolerance("int8", None, None, 0.9, ()))["judgedAs"] == "embedding"
    assert compare_output("logits", reference[:, :1], reference[:, :1], listed)["judgedAs"] == "values"
    spec = VerifySpec.model_validate({"classifierOutputs": ["pooled"]})
    assert tolerance(ConversionTarget(format="onnx-int8"), spec).classifiers == ("pooled",)


def test_an_int8_failure_says_how_each_output_was_judged():
    case = _fixed(8, (8, 16))
    reference = np.random.default_rng(0).standard_normal((8, 16))
    with pytest.raises(ConversionError) as caught:
        verify(lambda b: [reference], lambda b: [-reference], [case], lambda _: {"x": reference}, ["text_embedding"], INT8)
    message = caught.value.message
    assert "embeddings cosine >= 0.95 and similarity ranks >= 0.9" in message and "minCosine=-1" in message
    assert "judged as an embedding; spec.verify.classifierOutputs decides" in message


def test_shape_and_nan_differences_fail():
    reference = np.zeros((2, 3), dtype=np.float32)
    assert compare_output("y", reference, np.zeros((2, 4), dtype=np.float32), FP32)["passed"] is False
    assert compare_output("y", reference, np.full((2, 3), np.nan, dtype=np.float32), FP32)["passed"] is False


def _fixed(samples: int, shape: tuple[int, ...]) -> Case:
    return Case("fixed", True, samples, samples, {"x": shape})


def test_failure_message_carries_the_numbers_and_the_shape():
    case = _fixed(4, (4, 2))
    batch = {"x": np.ones((4, 2), dtype=np.float32)}

    def source(b):
        return [b["x"] * 2.0, b["x"].sum(axis=1, keepdims=True)]

    def converted(b):
        return [b["x"] * 2.0 + 0.25, b["x"].sum(axis=1, keepdims=True)]

    with pytest.raises(ConversionError) as caught:
        verify(source, converted, [case], lambda _: batch, ["scores", "total"], FP32)
    message = caught.value.message
    assert caught.value.reason == "VerificationFailed"
    assert "scores: maxAbsDiff=0.25" in message and "atol=0.0001" in message
    assert "on 4 samples at input shapes x[4, 2]" in message
    assert "total" not in message.split("samples at")[1] and "no output version was registered" in message
    passed = verify(source, source, [case], lambda _: batch, ["scores", "total"], FP32)
    assert passed["passed"] and passed["samples"] == 4 and passed["maxAbsDiff"] == 0.0
    assert passed["shapes"] == [{"x": [4, 2]}]
    assert [o["name"] for o in passed["outputs"]] == ["scores", "total"] and passed["top1Agreement"] == 1.0


def _recording(seen: list[tuple[int, ...]], offset=None):
    def run(b):
        seen.append(b["tokens"].shape)
        mean = b["tokens"].astype(np.float32).mean(axis=1)
        return [mean + (offset(b) if offset else 0.0)]
    return run


def test_every_case_is_run_and_reported():
    signature = Signature.model_validate({"inputs": [{"name": "tokens", "dtype": "int64", "shape": [-1, -1]}]})
    seen_source: list[tuple[int, ...]] = []
    seen_converted: list[tuple[int, ...]] = []
    chosen = cases(signature, 4)
    result = verify(_recording(seen_source), _recording(seen_converted), chosen, lambda c: generate(signature, c), ["mean"], FP32)
    assert result["shapes"] == [{"tokens": [1, 8]}, {"tokens": [4, 64]}]
    assert result["samples"] == 4, "samples means what spec.verify.samples says: inputs at each shape"
    assert seen_converted == [(1, 8)] * 4 + [(4, 64)], "the converted model runs at every shape, sample by sample at batch 1"
    # the source's reference comes from runs as wide as the large case; it runs once at batch 1
    assert seen_source == [(1, 8), (4, 8), (4, 64)]


def test_a_source_that_depends_on_its_batch_is_run_at_the_cases_own_shape():
    signature = Signature.model_validate({"inputs": [{"name": "tokens", "dtype": "int64", "shape": [-1, -1]}]})
    seen: list[tuple[int, ...]] = []
    source = _recording(seen, offset=lambda b: float(len(b["tokens"])))  # batch size leaks into every output
    result = verify(source, source, cases(signature, 4), lambda c: generate(signature, c), ["mean"], FP32)
    assert result["passed"] and seen[:2] == [(1, 8), (4, 8)] and seen[2:6] == [(1, 8)] * 4


def test_generated_small_and_large_cases_share_the_sources_wide_run():
    signature = Signature.model_validate({"inputs": [{"name": "image", "dtype": "float32", "shape": [-1, 3]}]})
    seen: list[tuple[int, ...]] = []

    def source(b):
        seen.append(b["image"].shape)
        return [b["image"] * 2.0]

    verify(source, lambda b: [b["image"] * 2.0], cases(signature, 4), lambda c: generate(signature, c), ["y"], FP32)
    assert seen == [(1, 3), (4, 3)], "one run at batch 1, one wide run shared by both cases"


def test_a_converted_model_failing_at_one_shape_names_that_shape():
    signature = Signature.model_validate({"inputs": [{"name": "tokens", "dtype": "int64", "shape": [-1, -1]}]})

    def source(b):
        return [b["tokens"].astype(np.float32)]

    def fixed_at_eight(b):
        if b["tokens"].shape[1] != 8:
            raise RuntimeError("Got invalid dimensions for input: tokens for the following indices index: 1 Got: 64 Expected: 8")
        return [b["tokens"].astype(np.float32)]

    with pytest.raises(ConversionError) as caught:
        verify(source, fixed_at_eight, cases(signature, 4), lambda c: generate(signature, c), ["y"], FP32)
    assert "the converted model fails at input shapes tokens[4, 64], which the source accepts" in caught.value.message
    assert "Expected: 8" in caught.value.message


def test_a_size_the_source_refuses_is_left_out_and_said_and_one_it_needs_fails():
    signature = Signature.model_validate({"inputs": [{"name": "image", "dtype": "float32", "shape": [-1, 3, -1, -1]}]})

    def source(b):
        if b["image"].shape[2] != 8:
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")
        return [b["image"].sum(axis=(2, 3))]

    checked = verify(source, source, cases(signature, 2), lambda c: generate(signature, c), ["y"], FP32, signature=signature)
    assert checked["shapes"] == [{"image": [1, 3, 8, 8]}], "the larger case the source refuses is left out"
    assert "checked at one size only: image[0] at 1, image[2] at 8, image[3] at 8" in checked["note"]

    def refuses_all(b):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    with pytest.raises(ConversionError) as caught:
        verify(refuses_all, refuses_all, cases(signature, 2), lambda c: generate(signature, c), ["y"], FP32)
    assert "the source model fails at input shapes image[1, 3, 8, 8]" in caught.value.message
    assert "declare the sizes it needs in the source's spec.signature" in caught.value.message


def test_the_similarity_ranking_decides_only_from_eight_samples():
    rng = np.random.default_rng(5)
    reference = rng.standard_normal((4, 64))
    figures = compare_output("sentence_embedding", reference, _near(reference, 0.02), INT8)
    assert "similarityRank" in figures and figures["passed"], "four samples: reported, cosine decides"
