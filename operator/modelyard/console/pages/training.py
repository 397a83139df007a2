"""A training job's page: hyperparameters as used, inputs with their digests, metrics (latest,
best, final), the metric curves (drawn by the training report's own chart code) and its
progress, which the page's script refreshes from the JSON twin while the job runs."""

from __future__ import annotations

from modelyard.console import links
from modelyard.console.pages.common import Page, conditions, message, meta, phase, reason, short_digest
from modelyard.console.reading import Snapshot, StoreFiles, finished_tag
from modelyard.views.table import lookup

RUNNING = ("Pending", "Running")
"""Phases in which the page keeps refreshing its progress."""


def training_page(snap: Snapshot, store: StoreFiles, namespace: str, name: str) -> Page:
    body = snap.get("TrainingJob", namespace, name)
    status = body.get("status") or {}
    state = phase(body)
    progress = status.get("progress") or {}
    metrics = status.get("metrics") or {}
    primary = status.get("primaryMetric")
    version = status.get("modelVersion")
    model = status.get("outputModel") or lookup(body, ".spec.output.modelRef.name")
    template = lookup(body, ".spec.templateRef.name")
    based_on = lookup(body, ".spec.basedOn.name")
    algorithm = status.get("algorithm") or {}
    info = meta(body)
    info.update(phase=state, reason=reason(body), message=message(body), running=state in RUNNING,
                suspended=bool(lookup(body, ".spec.suspend")), conditions=conditions(body),
                started=status.get("startTime"), completed=status.get("completionTime"),
                algorithm={"kind": algorithm.get("kind") or lookup(body, ".spec.algorithmRef.kind"),
                           "name": algorithm.get("name") or lookup(body, ".spec.algorithmRef.name"),
                           "digest": algorithm.get("digest")},
                template={"name": template, "href": _href(snap, "TrainingTemplate", namespace, template)} if template else None,
                basedOn={"name": based_on, "href": _href(snap, "TrainingJob", namespace, based_on)} if based_on else None,
                model={"name": model, "href": _href(snap, "Model", namespace, model)} if model else None,
                version={"name": version, "semver": status.get("outputVersion"),
                         "href": _href(snap, "ModelVersion", namespace, version)} if version else None,
                trainingVersion=status.get("trainingVersion"))
    inputs = status.get("inputs") or [{"name": i.get("name"), "uri": i.get("uri")} for i in lookup(body, ".spec.inputs") or []]
    data = {
        "training": info,
        "progress": {"step": progress.get("step"), "total": progress.get("total"), "percent": progress.get("percent"),
                     "etaSeconds": progress.get("etaSeconds"), "message": progress.get("message")},
        "hyperparameters": status.get("hyperparameters") or lookup(body, ".spec.hyperparameters") or {},
        "hyperparametersAsUsed": bool(status.get("hyperparameters")),
        "inputs": [{"name": i.get("name"), "uri": i.get("uri"), "format": i.get("format"), "sha256": i.get("sha256"),
                    "short": short_digest(i.get("sha256"))} for i in inputs],
        "metrics": [{"name": k, "primary": k == primary, **{f: (v or {}).get(f) for f in ("latest", "best", "bestStep", "final")}}
                    for k, v in sorted(metrics.items())],
        "failure": status.get("failure"),
        "curves": {"uri": status.get("curvesUri"), "points": 0, "error": None},
        "reportUri": status.get("reportUri"),
        "tensorboard": status.get("tensorboard"),
    }
    pictures: dict[str, str] = {}
    if status.get("curvesUri"):
        records, error = store.jsonl(status["curvesUri"], finished_tag(body))
        data["curves"]["error"] = error
        if records:
            # The training report's own chart (no plotting library, no torch): the same picture
            from modelyard.worker.train.chart import curves_svg
            from modelyard.worker.train.report import curves

            series = curves(records)
            data["curves"]["points"] = len(records)
            best = {k: (int(v["bestStep"]), float(v["best"])) for k, v in metrics.items()
                    if isinstance(v, dict) and v.get("bestStep") is not None and v.get("best") is not None}
            pictures["curves"] = curves_svg(series, f"TrainingJob {name}", best)
    return Page("training.html", f"Training job {name}", data, pictures)


def _href(snap: Snapshot, kind: str, namespace: str, name: str | None) -> str | None:
    return links.obj(kind, namespace, name) if name and snap.find(kind, namespace, name) else None

