"""The one error type of the OCI code: a reason for programs, a message that names the reference."""

from __future__ import annotations

from modelyard.worker.errors import WorkerError


class OciError(WorkerError):
    """A registry, reference or artifact problem a user can act on. Reasons: InvalidReference,
    RegistryUnreachable, TLSError, RegistryAuthRequired, RegistryAuthFailed, AccessDenied,
    PullSecretNotFound, NotFound, BlobDigestMismatch, ManifestInvalid, UnsupportedArtifact, PathNotFound,
    UnsafeLayer, TagExists, PushRefused, RegistryError. Messages never contain a credential."""
