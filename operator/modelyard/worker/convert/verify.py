"""Numerical equivalence of the converted model and its source, enforced.

Both run on the same inputs; per output: the largest absolute and relative difference and, for
rank-2 float outputs with at least two columns, the least cosine similarity of a sample's vector
to the source's and, for classifiers among them, the fraction of samples whose arg-max agrees.
An output passes when every element is within `atol + rtol * |reference|` (numpy's allclose) and
its top-1 agreement reaches `minTop1Agreement` when one applies.

INT8 is judged by agreement, since quantization moves every value a little: by default a
classifier needs 90 % top-1 agreement; an embedding (a vector whose arg-max means nothing, e.g. a
sentence embedding) a cosine of at least 0.95 to the source's in every sample and the same ranking
of similarities between samples (Spearman >= 0.9); any other output an error within 10 % of its
range. Which rank-2
outputs are classifiers: `verify.classifierOutputs` when given, else those whose name does not
mark an embedding (EMBEDDING_WORDS); the status says how each output was judged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from modelyard.api.common import Signature
from modelyard.api.conversionjob import ConversionTarget, VerifySpec
from modelyard.worker.convert.errors import VERIFICATION_FAILED, ConversionError
from modelyard.worker.convert.inputs import Batch
from modelyard.worker.convert.runners import Runner
from modelyard.worker.convert.shapes import Case, axes_checked, one_size_note, record

DEFAULTS = {
    "fp32": (1e-4, 1e-3, None),
    "fp16": (1e-2, 1e-2, None),
    "int8": (None, None, 0.9),
}
"""Precision -> (atol, rtol, minTop1Agreement) when the spec leaves them unset."""
INT8_RANGE_FRACTION = 0.1
"""INT8 outputs that are not classifiers: largest error allowed, as a fraction of the range."""
RANK_MIN_SAMPLES = 8
"""The similarity ranking decides from eight samples (28 pairs) on: with four (six pairs) one
swapped pair of near-equal similarities moved it to 0.83 on a MiniLM embedding at cosine 0.993."""
INT8_MIN_SIMILARITY_RANK = 0.9
"""INT8 embeddings: least rank correlation of the similarities between samples (see similarity_rank)."""
INT8_MIN_COSINE = 0.95
"""INT8 embeddings: least cosine similarity to the source's vector, in every sample. Measured on
all-MiniLM-L6-v2's sentence embedding: per-tensor 7-bit weights 0.77 (unusable for retrieval),
per-channel 0.977 (bench/convert.py prints it)."""
EMBEDDING_WORDS = ("embed", "feature", "pool", "hidden", "vector", "encod", "repr")
"""Name parts that mark a rank-2 output as an embedding rather than class scores."""
REL_FLOOR = 1e-3
"""Reference values smaller than this fraction of the output's largest magnitude count as that
floor in the relative difference (else values near zero make it meaningless)."""


@dataclass(frozen=True)
class Tolerance:
    precision: str
    atol: float | None
    rtol: float | None
    min_top1: float | None
    classifiers: tuple[str, ...] | None = None
    """verify.classifierOutputs; None: decided by name (see judged_as)."""


def precision_of(target: ConversionTarget) -> str:
    """The arithmetic the converted model uses: what its tolerances follow."""
    if target.format == "onnx-int8":
        return "int8"
    if target.format in ("onnx-fp16", "tensorrt-plan"):
        return "fp16"  # the plan is built with --fp16 (the gpu default)
    if target.format == "ascend-om" and target.ascend and target.ascend.precision_mode not in ("force_fp32", "must_keep_origin_dtype"):
        return "fp16"
    return "fp32"


def tolerance(target: ConversionTarget, spec: VerifySpec | None) -> Tolerance:
    precision = precision_of(target)
    atol, rtol, top1 = DEFAULTS[precision]
    if spec is not None:
        atol = spec.atol if spec.atol is not None else atol
        rtol = spec.rtol if spec.rtol is not None else rtol
        top1 = spec.min_top1_agreement if spec.min_top1_agreement is not None else top1
    classifiers = tuple(spec.classifier_outputs) if spec is not None and spec.classifier_outputs is not None else None
    return Tolerance(precision, atol, rtol, top1, classifiers)


def run_all(runner: Runner, data: Batch, case: Case, axes: list[int | None] | None = None) -> list[np.ndarray]:
    """Outputs over every sample of the case, run by run, joined on each output's batch axis
    (`axes`, by position; the first by default), stacked where it has none or is not known."""
    parts = [runner(piece) for piece in case.runs(data)]
    joined = []
    for i in range(len(parts[0])):
        axis = (axes[i] if axes is not None and i < len(axes) else 0) if case.batched else None
        pieces = [p[i] for p in parts]
        if len(pieces) == 1:
            joined.append(pieces[0])
        elif axis is not None and pieces[0].ndim > axis:
            joined.append(np.concatenate(pieces, axis=axis))
        else:
            joined.append(np.stack(pieces))
    return joined


def judged_as(name: str, array: np.ndarray, classifiers: tuple[str, ...] | None) -> str:
    """classifier, embedding (rank-2 vectors that are not class scores) or values."""
    if not (array.ndim == 2 and array.shape[1] >= 2 and np.issubdtype(array.dtype, np.floating)):
        return "values"
    if classifiers is not None:
        return "classifier" if name in classifiers else "embedding"
    return "embedding" if any(word in name.lower() for word in EMBEDDING_WORDS) else "classifier"


def min_cosine(reference: np.ndarray, candidate: np.ndarray) -> float:
    """Least cosine similarity of matching rows; a zero row agrees only with a zero row."""
    dot = (reference * candidate).sum(axis=1)
    norms = np.linalg.norm(reference, axis=1) * np.linalg.norm(candidate, axis=1)
    both_zero = ~reference.any(axis=1) & ~candidate.any(axis=1)
    cosine = np.where(norms > 0, dot / np.where(norms > 0, norms, 1.0), np.where(both_zero, 1.0, 0.0))
    return float(cosine.min(initial=1.0))


def similarity_rank(reference: np.ndarray, candidate: np.ndarray) -> float | None:
    """Spearman correlation of the pairwise cosine similarities of the samples, source against
    converted; None with fewer than three pairs."""
    count = len(reference)
    if count < 3:
        return None

    def similarities(vectors: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit = vectors / np.where(norms > 0, norms, 1.0)
        return (unit @ unit.T)[np.triu_indices(count, k=1)]

    def ranks(values: np.ndarray) -> np.ndarray:
        order = values.argsort(kind="stable")
        ranked = np.empty(len(values))
        ranked[order] = np.arange(len(values))
        return ranked

    a, b = ranks(similarities(reference)), ranks(similarities(candidate))
    if a.std() == 0 or b.std() == 0:
        return 1.0 if np.array_equal(a, b) else 0.0
    return float(np.corrcoef(a, b)[0, 1])


def compare_output(name: str, reference: np.ndarray, candidate: np.ndarray, tol: Tolerance) -> dict[str, Any]:
    """Figures of one output, shaped like api.conversionjob.OutputVerification."""
    if reference.shape != candidate.shape:
        return {"name": name, "maxAbsDiff": float("inf"), "maxRelDiff": float("inf"), "passed": False,
                "problem": f"shape {list(candidate.shape)} instead of {list(reference.shape)}"}
    ref = reference.astype(np.float64)
    out = candidate.astype(np.float64)
    finite = np.isfinite(ref)
    if not np.array_equal(finite, np.isfinite(out)) or not np.array_equal(ref[~finite], out[~finite]):
        return {"name": name, "maxAbsDiff": float("inf"), "maxRelDiff": float("inf"), "passed": False,
                "problem": "non-finite values (NaN/inf) where the source has none, or the reverse"}
    diff = np.abs(out - ref)[finite] if ref.size else np.zeros(1)
    magnitude = np.abs(ref[finite]) if ref.size else np.zeros(1)
    floor = max(REL_FLOOR * float(magnitude.max(initial=0.0)), 1e-12)
    figures: dict[str, Any] = {
        "name": name,
        "maxAbsDiff": float(diff.max(initial=0.0)),
        "maxRelDiff": float((diff / np.maximum(magnitude, floor)).max(initial=0.0)),
    }
    kind = judged_as(name, reference, tol.classifiers)
    figures["judgedAs"] = kind
    if kind != "values":
        figures["minCosine"] = min_cosine(ref, out)
    elementwise = tol.atol is not None or tol.rtol is not None
    passed = True
    if elementwise:
        passed = bool(np.all(diff <= (tol.atol or 0.0) + (tol.rtol or 0.0) * magnitude))
    if kind == "classifier":
        agreement = float(np.mean(ref.argmax(axis=1) == out.argmax(axis=1)))
        figures["top1Agreement"] = agreement
        if tol.min_top1 is not None:
            passed = passed and agreement >= tol.min_top1
    elif tol.precision == "int8" and not elementwise and kind == "embedding":
        # What an embedding is used for: its direction (cosine) and how it ranks neighbours. An
        # element-wise rule refused an L2-normalised MiniLM embedding at cosine 0.98, its largest
        # element error 10 % of a range of only 0.4.
        rank = similarity_rank(ref, out)
        if rank is not None:
            figures["similarityRank"] = rank
        ranked = rank is not None and len(ref) >= RANK_MIN_SAMPLES
        passed = figures["minCosine"] >= INT8_MIN_COSINE and (not ranked or rank >= INT8_MIN_SIMILARITY_RANK)
    elif tol.precision == "int8" and not elementwise:
        span = float(ref.max(initial=0.0) - ref.min(initial=0.0)) if ref.size else 0.0
        passed = figures["maxAbsDiff"] <= INT8_RANGE_FRACTION * span + 1e-6
    figures["passed"] = passed
    return figures


def verify(source: Runner, converted: Runner, chosen: list[Case], data: Callable[[Case], Batch],
           output_names: list[str], tol: Tolerance, output_axes: list[int | None] | None = None,
           signature: Signature | None = None) -> dict[str, Any]:
    """Compare at every case; returns api.conversionjob.Verification as camelCase fields
    (figures over all cases, the shapes used), or raises VerificationFailed with the numbers
    and the shape they were found at (the caller then registers no output). An optional case
    the source refuses is left out; `verified` lists the cases that were checked."""
    references = References(source, max((c.run for c in chosen if c.batched), default=1), output_axes)
    results, checked = [], []
    for case in chosen:
        case_data = data(case)
        try:
            results.append(_verify_case(references, converted, case, case_data, output_names, tol))
        except SourceRefused:
            if not case.optional:
                raise
            continue
        checked.append(case)
    chosen = checked
    outputs = [_merge_output([r["outputs"][i] for r in results]) for i in range(len(results[0]["outputs"]))]
    merged: dict[str, Any] = {
        "passed": True,
        "maxAbsDiff": max(r["maxAbsDiff"] for r in results),
        "maxRelDiff": max(r["maxRelDiff"] for r in results),
        # What spec.verify.samples asked for: inputs compared at each of `shapes` (a sum over
        # the shapes read as twice the number the user wrote).
        "samples": max(r["samples"] for r in results),
        "shapes": record(chosen),
        "outputs": outputs,
    }
    if signature is not None:
        merged["axes"] = axes_checked(signature, chosen)
        note = one_size_note(merged["axes"])
        if note:
            merged["note"] = note
    agreements = [r["top1Agreement"] for r in results if "top1Agreement" in r]
    if agreements:
        merged["top1Agreement"] = min(agreements)
    if tol.atol is not None:
        merged["atol"] = tol.atol
    if tol.rtol is not None:
        merged["rtol"] = tol.rtol
    return merged


class SourceRefused(ConversionError):
    """The source itself fails at a case's shapes."""


def _run(runner: Runner, data: Batch, case: Case, which: str, axes: list[int | None] | None = None) -> list[np.ndarray]:
    try:
        return run_all(runner, data, case, axes)
    except ConversionError:
        raise
    except Exception as error:  # noqa: BLE001 - a model failing at a shape is the finding
        text = " ".join(str(error).split())[:600]
        if which == "source":
            raise SourceRefused(
                VERIFICATION_FAILED,
                f"the source model fails at input shapes {case.describe()} ({type(error).__name__}: {text}); "
                f"give inputs it takes in spec.verify.inputsUri (their own sizes are checked), or declare the sizes "
                f"it needs in the source's spec.signature",
            ) from None
        raise ConversionError(
            VERIFICATION_FAILED,
            f"the converted model fails at input shapes {case.describe()}, which the source accepts "
            f"({type(error).__name__}: {text}); no output version was registered",
        ) from None


class References:
    """The source's outputs for a case. Computed in runs as wide as the widest case rather than
    run by run (eager torch at batch 1 was half of a ResNet-18's verification), once per distinct
    data (generated inputs give the small and the large case the same samples). The source
    still runs once at the case's own shape, proving it takes it; if that run's outputs differ
    from the wide run's, the source depends on what it is batched with and every run is made at
    the case's own shape instead."""

    def __init__(self, source: Runner, width: int, axes: list[int | None] | None = None):
        self.source, self.width, self.axes = source, width, axes
        self._held: list[tuple[dict[str, tuple[int, ...]], Batch, list[np.ndarray]]] = []

    def __call__(self, data: Batch, case: Case) -> list[np.ndarray]:
        wide_ok = all(case.axis(n) == 0 for n in case.shapes) and all(a == 0 for a in self.axes or [0])
        if not case.batched or case.run >= self.width or case.samples <= case.run or not wide_ok:
            return self._once(data, case)
        first = _run(self.source, {n: a[:case.run] for n, a in data.items()}, replace(case, samples=case.run), "source")
        wide = replace(case, run=self.width, shapes={n: (self.width, *shape[1:]) for n, shape in case.shapes.items()})
        outputs = self._once(data, wide)
        if all(np.allclose(f, o[:case.run], rtol=1e-4, atol=1e-5, equal_nan=True) if f.ndim and f.shape[0] == case.run
               else np.array_equal(f, o) for f, o in zip(first, outputs, strict=True)):
            return outputs
        return _run(self.source, data, case, "source", self.axes)

    def _once(self, data: Batch, case: Case) -> list[np.ndarray]:
        for shapes, held, outputs in self._held:
            if shapes == case.shapes and held.keys() == data.keys() and all(np.array_equal(held[n], data[n]) for n in data):
                return outputs
        outputs = _run(self.source, data, case, "source", self.axes)
        self._held.append((case.shapes, data, outputs))
        return outputs


def _verify_case(references: References, converted: Runner, case: Case, data: Batch, output_names: list[str],
                 tol: Tolerance) -> dict[str, Any]:
    reference = references(data, case)
    candidate = _run(converted, data, case, "converted", references.axes)
    if len(candidate) != len(reference):
        raise ConversionError(
            VERIFICATION_FAILED, f"the converted model returns {len(candidate)} output(s), the source {len(reference)}"
        )
    names = output_names if len(output_names) == len(reference) else [f"output_{i}" for i in range(len(reference))]
    outputs = [compare_output(n, r, c, tol) for n, r, c in zip(names, reference, candidate, strict=True)]
    result: dict[str, Any] = {
        "maxAbsDiff": max(o["maxAbsDiff"] for o in outputs),
        "maxRelDiff": max(o["maxRelDiff"] for o in outputs),
        "samples": case.samples,
        "outputs": outputs,
    }
    agreements = [o["top1Agreement"] for o in outputs if "top1Agreement" in o]
    if agreements:
        result["top1Agreement"] = min(agreements)
    if not all(o["passed"] for o in outputs):
        raise ConversionError(VERIFICATION_FAILED, _failure_message(outputs, tol, case))
    return result


def _merge_output(per_case: list[dict[str, Any]]) -> dict[str, Any]:
    merged = {"name": per_case[0]["name"], "maxAbsDiff": max(o["maxAbsDiff"] for o in per_case),
              "maxRelDiff": max(o["maxRelDiff"] for o in per_case), "passed": all(o["passed"] for o in per_case)}
    for key in ("top1Agreement", "minCosine", "similarityRank"):
        values = [o[key] for o in per_case if key in o]
        if values:
            merged[key] = min(values)
    if "judgedAs" in per_case[0]:
        merged["judgedAs"] = per_case[0]["judgedAs"]
    return merged


def _failure_message(outputs: list[dict[str, Any]], tol: Tolerance, case: Case) -> str:
    if tol.precision == "int8" and tol.atol is None and tol.rtol is None:
        rule = _int8_rule(tol)
    else:
        limits = [f"atol={tol.atol}" if tol.atol is not None else "", f"rtol={tol.rtol}" if tol.rtol is not None else "",
                  f"minTop1Agreement={tol.min_top1}" if tol.min_top1 is not None else ""]
        rule = ", ".join(x for x in limits if x)
    parts = []
    for o in outputs:
        if o["passed"]:
            continue
        text = f"{o['name']}: maxAbsDiff={o['maxAbsDiff']:.6g} maxRelDiff={o['maxRelDiff']:.6g}"
        if "top1Agreement" in o:
            text += f" top1Agreement={o['top1Agreement']:.4g}"
        if "minCosine" in o:
            text += f" minCosine={o['minCosine']:.4g}"
        if "similarityRank" in o:
            text += f" similarityRank={o['similarityRank']:.4g}"
        if o.get("judgedAs") in ("classifier", "embedding"):
            text += f" (judged as {'a classifier' if o['judgedAs'] == 'classifier' else 'an embedding'}; spec.verify.classifierOutputs decides)"
        if "problem" in o:
            text += f" ({o['problem']})"
        parts.append(text)
    return (
        f"the converted model differs from the source beyond tolerance ({tol.precision}: {rule}) "
        f"on {case.samples} samples at input shapes {case.describe()}: "
        + "; ".join(parts) + "; no output version was registered (raise spec.verify tolerances if this is expected)"
    )


def _int8_rule(tol: Tolerance) -> str:
    return (f"classifiers top-1 agreement >= {tol.min_top1}, embeddings cosine >= {INT8_MIN_COSINE} and similarity "
            f"ranks >= {INT8_MIN_SIMILARITY_RANK}, other outputs' error within {INT8_RANGE_FRACTION:.0%} of their range")
