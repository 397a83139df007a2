"""The served model as both protocols see it: its name, version, tensors and readiness, and one
inference call that checks the request, runs the backend and counts the outcome."""

from __future__ import annotations

import time

import numpy as np

from modelyard.worker.serve.backends import Backend
from modelyard.worker.serve.errors import BadRequest, NotFound, Unavailable
from modelyard.worker.serve.metrics import Metrics
from modelyard.worker.serve.tensors import Tensor, check

SERVER_NAME = "modelyard"
EXTENSIONS = ["binary_tensor_data"]


class InferenceFailed(Exception):
    """The runtime failed on a request that fits the signature: HTTP 500, gRPC INTERNAL."""


class ServedModel:
    def __init__(self, name: str, version: str, metrics: Metrics):
        self.name = name
        self.version = version
        self.metrics = metrics
        self.backend: Backend | None = None
        self.inputs: list[Tensor] = []
        self.outputs: list[Tensor] = []

    @property
    def ready(self) -> bool:
        return self.backend is not None

    def loaded(self, backend: Backend, inputs: list[Tensor], outputs: list[Tensor]) -> None:
        """Called once the model is verified, loaded and warmed up: from then on it is ready."""
        self.inputs, self.outputs = inputs, outputs
        self.backend = backend
        self.metrics.ready.set(1)

    def unload(self) -> None:
        self.backend = None
        self.metrics.ready.set(0)

    def find(self, name: str, version: str | None = None) -> None:
        """NotFound unless this server serves `name` (at `version`, when one is given)."""
        if name != self.name:
            raise NotFound(f"model {name!r} is not served here; this server serves {self.name!r}")
        if version and version != self.version:
            raise NotFound(f"model {name} has no version {version!r}; this server serves version {self.version}")

    def is_ready(self, name: str, version: str | None = None) -> bool:
        try:
            self.find(name, version)
        except NotFound:
            return False
        return self.ready

    def metadata(self) -> dict:
        platform = self.backend.platform if self.backend else ""
        return {"name": self.name, "versions": [self.version], "platform": platform,
                "inputs": [t.metadata() for t in self.inputs], "outputs": [t.metadata() for t in self.outputs]}

    def server_metadata(self) -> dict:
        from modelyard import __version__

        return {"name": SERVER_NAME, "version": __version__, "extensions": EXTENSIONS}

    def infer(self, feed: dict[str, np.ndarray], requested: list[str] | None, protocol: str) -> dict[str, np.ndarray]:
        labels = (self.name, self.version, protocol)
        backend = self.backend
        try:
            if backend is None:
                raise Unavailable(f"model {self.name} is not ready yet")
            check(feed, self.inputs)
            names = [t.name for t in self.outputs]
            unknown = [n for n in requested or [] if n not in names]
            if unknown:
                raise BadRequest(f"unknown output {', '.join(unknown)}; the model returns {', '.join(names)}")
            started = time.perf_counter()
            try:
                outputs = backend.predict(feed)
            except Exception as error:  # noqa: BLE001 - the runtime's own words go back to the caller
                raise InferenceFailed(f"{backend.description} failed: {' '.join(str(error).split())[:600]}") from None
            self.metrics.latency.labels(*labels).observe(time.perf_counter() - started)
        except BadRequest:
            self._count(labels, "invalid", "InvalidInput")
            raise
        except Unavailable:
            self._count(labels, "unavailable", "NotReady")
            raise
        except InferenceFailed:
            self._count(labels, "error", "InferenceFailed")
            raise
        self.metrics.requests.labels(*labels, "ok").inc()
        return {n: outputs[n] for n in (requested or [t.name for t in self.outputs]) if n in outputs}

    def _count(self, labels: tuple[str, str, str], outcome: str, reason: str) -> None:
        self.metrics.requests.labels(*labels, outcome).inc()
        self.metrics.errors.labels(*labels, reason).inc()
