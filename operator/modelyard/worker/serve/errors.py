"""Failures of the server and the parity check."""

from __future__ import annotations

from modelyard.worker.errors import WorkerError


class ServeError(WorkerError):
    """The server cannot start (bad artifact, format it does not serve, missing accelerator)."""


class BadRequest(Exception):
    """An inference request that does not fit the model: HTTP 400, gRPC INVALID_ARGUMENT."""


class NotFound(Exception):
    """A model or version this server does not serve: HTTP 404, gRPC NOT_FOUND."""


class Unavailable(Exception):
    """The model is not ready yet: HTTP 503, gRPC UNAVAILABLE."""
