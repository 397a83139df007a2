"""The console's stable URLs, built in one place (pages link to each other, the lineage picture
links its boxes, and the JSON twins carry the same `href`s)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

_KIND_PAGES = {
    "Model": "models",
    "ModelVersion": "versions",
    "EvaluationJob": "evaluations",
    "TrainingJob": "trainings",
}

CLUSTER_SCOPED = "_"
"""The namespace segment of a cluster-scoped object's URL (ClusterAlgorithm)."""


def _q(text: str) -> str:
    return quote(text, safe="")


def models(**query: object) -> str:
    return "/models" + _query(query)


def jobs() -> str:
    return "/jobs"


def model(namespace: str, name: str, **query: object) -> str:
    return f"/models/{_q(namespace)}/{_q(name)}" + _query(query)


def lineage(namespace: str, name: str) -> str:
    return f"/models/{_q(namespace)}/{_q(name)}/lineage"


def compare(namespace: str, model_name: str, versions: list[str] | None = None, **query: object) -> str:
    pairs: list[tuple[str, object]] = [("v", v) for v in versions or []]
    pairs += [(k, v) for k, v in query.items() if v not in (None, "", False)]
    return f"/models/{_q(namespace)}/{_q(model_name)}/compare" + (f"?{urlencode(pairs)}" if pairs else "")


def version(namespace: str, name: str) -> str:
    return f"/versions/{_q(namespace)}/{_q(name)}"


def evaluation(namespace: str, name: str) -> str:
    return f"/evaluations/{_q(namespace)}/{_q(name)}"


def training(namespace: str, name: str) -> str:
    return f"/trainings/{_q(namespace)}/{_q(name)}"


def obj(kind: str, namespace: str, name: str) -> str:
    """The page of an object: its own page where the console has one, else the generic one."""
    page = _KIND_PAGES.get(kind)
    if page:
        return f"/{page}/{_q(namespace)}/{_q(name)}"
    return f"/objects/{_q(kind)}/{_q(namespace or CLUSTER_SCOPED)}/{_q(name)}"


def _query(query: dict[str, object]) -> str:
    pairs = [(k, v) for k, v in query.items() if v not in (None, "", False)]
    return f"?{urlencode(pairs)}" if pairs else ""
