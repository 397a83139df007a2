"""Prometheus metrics of the server, served at `/metrics` on the HTTP port."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """Requests by model, version, protocol and outcome (ok, invalid, error, unavailable), the
    inference latency, errors by reason, and readiness."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ["model", "version", "protocol"]
        self.requests = Counter("modelyard_serve_requests", "Inference requests by outcome",
                                [*labels, "outcome"], registry=self.registry)
        self.latency = Histogram("modelyard_serve_inference_duration_seconds", "Time the runtime took per request",
                                 labels, buckets=LATENCY_BUCKETS, registry=self.registry)
        self.errors = Counter("modelyard_serve_errors", "Failed inference requests by reason",
                              [*labels, "reason"], registry=self.registry)
        self.ready = Gauge("modelyard_serve_ready", "1 once the model is verified, loaded and warmed up",
                           registry=self.registry)

    def text(self) -> bytes:
        return generate_latest(self.registry)
