"""A version's page: artifact files and digests, signature with its dynamic axes, where it came
from, how its conversion was verified (shapes, axes, inputs, each output and how it was judged),
its benchmark and its evaluations."""

from __future__ import annotations

from typing import Any

from modelyard.console import links
from modelyard.console.pages.common import (
    Page, conditions, latest, message, meta, number, phase, reason, short_digest, size, verdict,
)
from modelyard.console.reading import Snapshot
from modelyard.core.speed import speed_phrase
from modelyard.views.table import lookup


def tensors(items: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Signature tensors with their dynamic axes named (-1 in the shape), and the batch axis."""
    out = []
    for tensor in items or []:
        shape = list(tensor.get("shape") or [])
        dynamic = [axis for axis, size_ in enumerate(shape) if size_ == -1]
        batch_axis = tensor.get("batchAxis")
        if batch_axis is None and dynamic and dynamic[0] == 0:
            batch_axis = 0
        out.append({"name": tensor.get("name"), "dtype": tensor.get("dtype") or "float32", "shape": shape,
                    "shown": "[" + ", ".join("?" if s == -1 else str(s) for s in shape) + "]",
                    "dynamicAxes": dynamic, "batchAxis": batch_axis})
    return out


def judged(output: dict[str, Any], verify: dict[str, Any], tolerances: dict[str, Any]) -> str:
    """How one output was judged, in words: the figure that decided and its bound."""
    how = output.get("judgedAs")
    if how == "classifier":
        bound = verify.get("minTop1Agreement")
        text = f"class scores: top-1 agreement {number(output.get('top1Agreement'))}"
        return text + (f" (at least {number(bound)})" if bound is not None else "")
    if how == "embedding":
        text = f"an embedding: least cosine {number(output.get('minCosine'))}"
        if output.get("similarityRank") is not None:
            text += f", similarity ranking {number(output.get('similarityRank'))}"
        return text
    atol, rtol = tolerances.get("atol"), tolerances.get("rtol")
    bound = f" (atol {number(atol)}, rtol {number(rtol)})" if atol is not None or rtol is not None else ""
    return f"element-wise: max abs diff {number(output.get('maxAbsDiff'))}{bound}"


def verification(conversion: dict[str, Any] | None) -> dict[str, Any] | None:
    """The conversion's equivalence check as the page shows it; pending while not written."""
    if conversion is None:
        return None
    found = lookup(conversion, ".status.verification")
    name = conversion["metadata"]["name"]
    if not found:
        return {"job": name, "pending": True, "phase": phase(conversion), "message": message(conversion)}
    verify = lookup(conversion, ".spec.verify") or {}
    return {
        "job": name, "pending": False, "passed": found.get("passed"),
        "maxAbsDiff": found.get("maxAbsDiff"), "maxRelDiff": found.get("maxRelDiff"),
        "top1Agreement": found.get("top1Agreement"), "atol": found.get("atol"), "rtol": found.get("rtol"),
        "samples": found.get("samples"), "inputs": found.get("inputs"), "note": found.get("note"),
        "shapes": [{"shown": ", ".join(f"{k} [{', '.join(map(str, v))}]" for k, v in shape.items()), "shape": shape}
                   for shape in found.get("shapes") or []],
        "axes": [{"input": a.get("input"), "axis": a.get("axis"), "sizes": a.get("sizes") or [], "batch": a.get("batch")}
                 for a in found.get("axes") or []],
        "outputs": [{**{k: o.get(k) for k in ("name", "judgedAs", "passed", "maxAbsDiff", "maxRelDiff", "top1Agreement",
                                              "minCosine", "similarityRank")},
                     "how": judged(o, verify, found)} for o in found.get("outputs") or []],
    }


def benchmark(conversion: dict[str, Any] | None) -> dict[str, Any] | None:
    found = lookup(conversion, ".status.benchmark") if conversion else None
    if not found:
        return None
    rows = []
    for label, key in (("latency p50 at batch 1 (ms)", "latencyP50MsBatch1"), ("latency p50 at batch N (ms)", "latencyP50MsBatchN"),
                       ("batch N", "batchSize"), ("size (bytes)", "sizeBytes")):
        rows.append({"label": label, "source": (found.get("source") or {}).get(key), "output": (found.get("output") or {}).get(key)})
    return {"rows": rows, "speedupBatch1": found.get("speedupBatch1"), "speedupBatchN": found.get("speedupBatchN"),
            "speed": speed_phrase(found["speedupBatch1"]) if found.get("speedupBatch1") else "",
            "sizeRatio": found.get("sizeRatio"), "measuredOn": found.get("measuredOn"), "inputs": found.get("inputs"),
            "shapes": [", ".join(f"{k} [{', '.join(map(str, v))}]" for k, v in s.items()) for s in found.get("shapes") or []]}


def _conversion_of(snap: Snapshot, namespace: str, version: dict[str, Any]) -> dict[str, Any] | None:
    name = version["metadata"]["name"]
    made = [c for c in snap.in_namespace("ConversionJob", namespace) if lookup(c, ".status.outputVersion") == name]
    if made:
        return latest(made)
    named = lookup(version, ".spec.lineage.conversionJob")
    return snap.find("ConversionJob", namespace, named) if named else None


def version_page(snap: Snapshot, namespace: str, name: str) -> Page:
    body = snap.get("ModelVersion", namespace, name)
    model = lookup(body, ".spec.modelRef.name") or ""
    conversion = _conversion_of(snap, namespace, body)
    info = meta(body)
    info.update(model=model, modelHref=links.model(namespace, model) if snap.find("Model", namespace, model) else None,
                version=lookup(body, ".spec.version"), format=lookup(body, ".spec.format"),
                hardware=lookup(body, ".status.hardware") or lookup(conversion, ".spec.target.hardware"),
                phase=phase(body), reason=reason(body), message=message(body), conditions=conditions(body))
    artifact = lookup(body, ".status.artifact")
    files = [{"path": f.get("path"), "sizeBytes": f.get("sizeBytes"), "size": size(f.get("sizeBytes")), "sha256": f.get("sha256")}
             for f in (artifact or {}).get("files") or []]
    signature = lookup(body, ".status.signature")
    source_of_signature = "inspected" if signature else "declared"
    signature = signature or lookup(body, ".spec.signature") or {}
    lineage = lookup(body, ".spec.lineage") or {}
    parent, training = lineage.get("parentVersion"), lineage.get("trainingJob")
    children = sorted(v["metadata"]["name"] for v in snap.in_namespace("ModelVersion", namespace)
                      if lookup(v, ".spec.lineage.parentVersion") == name)
    evaluations = sorted((e for e in snap.in_namespace("EvaluationJob", namespace) if lookup(e, ".spec.modelVersionRef.name") == name),
                         key=lambda e: (lookup(e, ".metadata.creationTimestamp") or "", e["metadata"]["name"]), reverse=True)
    data = {
        "version": info,
        "source": lookup(body, ".spec.source") or {},
        "artifact": None if not artifact else {"uri": artifact.get("uri"), "digest": artifact.get("digest"),
                                               "sizeBytes": artifact.get("sizeBytes"), "size": size(artifact.get("sizeBytes")),
                                               "files": files},
        "signature": {"from": source_of_signature, "inputs": tensors(signature.get("inputs")),
                      "outputs": tensors(signature.get("outputs"))},
        "inspection": lookup(body, ".status.inspection"),
        "lineage": {
            "parent": {"name": parent, "href": links.version(namespace, parent)} if parent else None,
            "conversion": {"name": conversion["metadata"]["name"],
                           "href": links.obj("ConversionJob", namespace, conversion["metadata"]["name"]),
                           "target": lookup(conversion, ".spec.target")} if conversion else None,
            "training": {"name": training,
                         "href": links.training(namespace, training) if snap.find("TrainingJob", namespace, training) else None,
                         "algorithm": lineage.get("algorithm")} if training else None,
            "datasets": [{"name": d.get("name"), "uri": d.get("uri"), "sha256": d.get("sha256"), "short": short_digest(d.get("sha256"))}
                         for d in lineage.get("datasets") or []] or ([{"name": "dataset", "uri": lineage["dataset"], "sha256": None, "short": ""}]
                                                                     if lineage.get("dataset") else []),
            "code": lineage.get("code"), "hyperparameters": lineage.get("hyperparameters") or {},
            "metrics": lineage.get("metrics") or {}, "template": lineage.get("template"), "basedOn": lineage.get("basedOn"),
            "children": [{"name": c, "href": links.version(namespace, c)} for c in children],
        },
        "verification": verification(conversion),
        "benchmark": benchmark(conversion),
        "evaluations": [{"name": e["metadata"]["name"], "href": links.evaluation(namespace, e["metadata"]["name"]),
                         "phase": phase(e), "verdict": verdict(e), "hardware": lookup(e, ".spec.hardware") or "cpu",
                         "dataset": lookup(e, ".spec.dataset.uri"), "message": message(e),
                         "accuracy": lookup(e, ".status.results.accuracy"), "latencyP95Ms": lookup(e, ".status.results.latencyP95Ms")}
                        for e in evaluations],
        "compare": links.compare(namespace, model, [name, *children]) if children else
        (links.compare(namespace, model, [parent, name]) if parent else None),
    }
    return Page("version.html", f"Version {name}", data)
