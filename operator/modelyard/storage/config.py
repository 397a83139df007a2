"""S3 client settings, read from the environment the Job sets (or the operator's settings).

Credentials are never part of these settings: boto3's standard chain finds them in
`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (injected from a Secret), in a web identity token
(`AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN`, IRSA-style), or in the instance profile.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


class S3Settings(BaseSettings):
    """How to reach an S3-compatible store (AWS S3, MinIO, Ceph RGW, Huawei OBS)."""

    model_config = SettingsConfigDict(env_prefix="MODELYARD_S3_", extra="ignore")

    endpoint: str | None = None
    """Endpoint URL for non-AWS stores, e.g. http://minio.minio:9000."""
    region: str | None = None
    """Region; boto3's default when unset."""
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    """`path` for MinIO/Ceph RGW without wildcard DNS; `virtual` for OBS; `auto` otherwise."""
    ca_bundle: str | None = None
    """Path of a PEM bundle for a private CA."""
    verify_tls: bool = True
    """Verify the endpoint's certificate (turn off only for throwaway test servers)."""
    part_size_mib: int = Field(default=16, ge=5, le=5120)
    """Multipart part size; memory use is about part size x concurrency."""
    concurrency: int = Field(default=4, ge=1, le=64)
    """Parts uploaded in parallel."""
    max_attempts: int = Field(default=5, ge=1, le=20)
    """Attempts per request for throttling and connection errors (with backoff)."""
    checksums: Literal["when_required", "when_supported"] = "when_required"
    """When requests carry boto3's CRC integrity checksums: only where an operation requires one
    (what S3 servers older than those checksums accept), or wherever supported (boto3's default).
    Integrity is Modelyard's own either way: every file's sha256 is in the manifest."""
    connect_timeout_s: float = Field(default=10, gt=0)
    read_timeout_s: float = Field(default=60, gt=0)

    @property
    def part_size(self) -> int:
        return self.part_size_mib * MIB
