"""run_parity: the samples a conversion recorded (`parity.npz`) replayed against live endpoints.

Every sample goes to every endpoint (each replica is checked) with tritonclient, over gRPC or
HTTP by the URL's scheme; each answer is compared with the converted model's own outputs as the
conversion computed them: floats within `|a - b| <= atol + rtol * |b|` (the verification's rule
and tolerance), integers and booleans exactly."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import numpy as np

from modelyard.api.modelversion import ModelVersion
from modelyard.storage.base import Store
from modelyard.storage.layout import open_verified, read_manifest, version_prefix
from modelyard.worker.convert.parity_samples import FILE
from modelyard.worker.convert.verify import REL_FLOOR
from modelyard.worker.serve.errorrate import judge, read_error_rate
from modelyard.worker.serve.errors import ServeError
from modelyard.worker.serve.tensors import datatype_of

TIMEOUT_S = 30.0


@dataclass
class ParityJob:
    namespace: str
    version: ModelVersion
    store: Store
    endpoints: list[str]
    model_name: str
    metrics: list[str] | None = None
    """The servers' `/metrics` URLs, whose error rate is judged too (a canary's analysis)."""
    max_error_rate: float = 0.01


@dataclass
class Samples:
    inputs: list[dict[str, np.ndarray]]
    expected: list[dict[str, np.ndarray]]
    atol: float
    rtol: float
    format: str


def run_parity(job: ParityJob) -> dict[str, Any]:
    samples = load_samples(job)
    figures: dict[str, dict[str, Any]] = {}
    for endpoint in job.endpoints:
        client = Client(endpoint, job.model_name)
        try:
            for feed, expected in zip(samples.inputs, samples.expected, strict=True):
                answer = client.infer(feed, list(expected))
                for name, reference in expected.items():
                    _merge(figures, compare(name, answer.get(name), reference, samples.atol, samples.rtol), endpoint)
        finally:
            client.close()
    outputs = [{k: v for k, v in f.items() if k != "worst"} for f in figures.values()]
    passed = all(o["passed"] for o in outputs)
    count = len(samples.inputs)
    where = ", ".join(job.endpoints)
    if passed:
        message = (f"{count} recorded sample(s) gave the verified outputs at {where} (largest difference "
                   f"{max((o['maxAbsDiff'] for o in outputs), default=0.0):.3g}; atol {samples.atol:g}, rtol {samples.rtol:g})")
    else:
        message = "; ".join(f["worst"] for f in figures.values() if not f["passed"])
    reason = "ParityPassed" if passed else "ParityFailed"
    result = {"ok": True, "kind": "parity", "phase": "Succeeded", "passed": passed, "samples": count,
              "endpoints": list(job.endpoints), "outputs": outputs}
    if job.metrics:
        rates = [read_error_rate(url) for url in job.metrics]
        result["errorRates"] = [{"url": r.url, "requests": r.requests, "failed": r.failed} for r in rates]
        too_many = judge(rates, job.max_error_rate)
        if passed and too_many:
            passed, reason, message = False, "ErrorRateExceeded", too_many
        result["passed"] = passed
    return {**result, "reason": reason, "message": message[:1024]}


def load_samples(job: ParityJob) -> Samples:
    """parity.npz of the version, its sha256 checked against the manifest."""
    version = job.version
    prefix = version_prefix(job.namespace, version.spec.model_ref.name, version.spec.version)
    found = read_manifest(job.store, prefix)
    if found is None:
        raise ServeError("Incomplete", f"{job.store.describe(prefix)}/ has no manifest: version "
                         f"{version.metadata.name} is incomplete")
    entry = next((f for f in found[0].files if f.path == FILE), None)
    if entry is None:
        raise ServeError("NoParitySamples", f"version {version.metadata.name} holds no {FILE}: it was not produced by a "
                         "conversion that records parity samples (imported versions and conversions before they were "
                         "recorded have none); the live endpoint cannot be checked against verified outputs")
    with open_verified(job.store, prefix, entry) as stream:
        data = stream.read()
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return Samples(*_split(arrays), float(arrays["atol"]), float(arrays["rtol"]), str(arrays["format"]))


def _split(arrays: dict[str, np.ndarray]) -> tuple[list[dict[str, np.ndarray]], list[dict[str, np.ndarray]]]:
    """Samples of every size group (keys `input:<name>`, `input:<name>@1`, ...), one per entry."""
    groups: dict[str, tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] = {}
    for key, array in arrays.items():
        kind, _, rest = key.partition(":")
        if kind not in ("input", "expected"):
            continue
        name, _, group = rest.rpartition("@") if "@" in rest else (rest, "", "0")
        groups.setdefault(group, ({}, {}))[0 if kind == "input" else 1][name] = array
    inputs, expected = [], []
    for feeds, outputs in groups.values():
        count = len(next(iter(feeds.values())))
        inputs += [{n: a[i] for n, a in feeds.items()} for i in range(count)]
        expected += [{n: a[i] for n, a in outputs.items()} for i in range(count)]
    return inputs, expected


def compare(name: str, answer: np.ndarray | None, reference: np.ndarray, atol: float, rtol: float) -> dict[str, Any]:
    figures: dict[str, Any] = {"name": name, "atol": atol, "rtol": rtol}
    if answer is None or answer.shape != reference.shape:
        got = "no such output" if answer is None else f"shape {list(answer.shape)}"
        return {**figures, "maxAbsDiff": float("inf"), "maxRelDiff": float("inf"), "passed": False,
                "problem": f"{got} instead of {list(reference.shape)}"}
    exact = not np.issubdtype(reference.dtype, np.floating)
    a, b = answer.astype(np.float64), reference.astype(np.float64)
    diff = np.abs(a - b)
    diff = np.where(np.isnan(a) & np.isnan(b), 0.0, np.where(np.isnan(diff), np.inf, diff))
    magnitude = np.abs(b)
    # as the verification reports it: values near zero count as a floor of the output's magnitude
    relative = diff / np.maximum(magnitude, max(REL_FLOOR * float(magnitude.max(initial=0.0)), 1e-12))
    figures["maxAbsDiff"] = float(diff.max(initial=0.0))
    figures["maxRelDiff"] = float(relative.max(initial=0.0))
    figures["passed"] = bool(np.all(diff == 0) if exact else np.all(diff <= atol + rtol * magnitude))
    if exact and not figures["passed"]:
        figures["problem"] = "integer output: must be equal"
    return figures


def _merge(figures: dict[str, dict[str, Any]], one: dict[str, Any], endpoint: str) -> None:
    held = figures.get(one["name"])
    if held is None:
        held = figures[one["name"]] = {k: one[k] for k in ("name", "maxAbsDiff", "maxRelDiff", "atol", "rtol", "passed")}
        held["maxAbsDiff"], held["maxRelDiff"], held["worst"] = -1.0, 0.0, ""
    if not one["passed"] and (held["passed"] or one["maxAbsDiff"] > held["maxAbsDiff"]):
        held["worst"] = (f"output {one['name']} differs by {one['maxAbsDiff']:.3g} (atol {one['atol']:g}, rtol "
                         f"{one['rtol']:g}) at {endpoint}" + (f": {one['problem']}" if "problem" in one else ""))
    held["passed"] = held["passed"] and one["passed"]
    held["maxAbsDiff"] = max(held["maxAbsDiff"], one["maxAbsDiff"])
    held["maxRelDiff"] = max(held["maxRelDiff"], one["maxRelDiff"])


class Client:
    """One endpoint, spoken to with tritonclient over the protocol its URL names."""

    def __init__(self, endpoint: str, model: str):
        parsed = urlparse(endpoint)
        if parsed.scheme not in ("grpc", "http", "https") or not parsed.netloc:
            raise ServeError("InvalidEndpoint", f"endpoint {endpoint!r}: give grpc://HOST:PORT or http://HOST:PORT")
        self.endpoint, self.model, self.grpc = endpoint, model, parsed.scheme == "grpc"
        if self.grpc:
            import tritonclient.grpc as api
        else:
            import tritonclient.http as api
        self.api = api
        options: dict[str, Any] = {} if self.grpc else {"connection_timeout": TIMEOUT_S, "network_timeout": TIMEOUT_S,
                                                         "ssl": parsed.scheme == "https"}
        self.client = api.InferenceServerClient(url=parsed.netloc, **options)
        try:
            live = self.client.is_server_live(**({"client_timeout": TIMEOUT_S} if self.grpc else {}))
            ready = live and self.client.is_model_ready(model, **({"client_timeout": TIMEOUT_S} if self.grpc else {}))
        except Exception as error:  # noqa: BLE001 - connection errors come as many types
            raise ServeError("EndpointUnreachable", f"{endpoint} does not answer: {' '.join(str(error).split())[:300]}; "
                             "check that the server runs and the address is right") from None
        if not ready:
            raise ServeError("EndpointUnreachable", f"{endpoint} answers but model {model!r} is not ready there")

    def infer(self, feed: dict[str, np.ndarray], outputs: list[str]) -> dict[str, np.ndarray]:
        inputs = []
        for name, array in feed.items():
            item = self.api.InferInput(name, list(array.shape), datatype_of(array))
            item.set_data_from_numpy(np.ascontiguousarray(array))
            inputs.append(item)
        wanted = [self.api.InferRequestedOutput(n) for n in outputs]
        try:
            result = self.client.infer(self.model, inputs, outputs=wanted,
                                       **({"client_timeout": TIMEOUT_S} if self.grpc else {}))
        except Exception as error:  # noqa: BLE001
            raise ServeError("EndpointUnreachable" if _is_connection(error) else "InferenceFailed",
                             f"{self.endpoint} model {self.model}: {' '.join(str(error).split())[:400]}") from None
        return {n: result.as_numpy(n) for n in outputs if result.as_numpy(n) is not None}

    def close(self) -> None:
        self.client.close()


def _is_connection(error: BaseException) -> bool:
    text = str(error).lower()
    return any(word in text for word in ("unavailable", "connect", "refused", "timed out", "deadline"))
