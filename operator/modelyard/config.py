"""The operator's settings: one class, read from the environment the Helm chart sets.

Every chart value that configures the operator maps onto one field here
(`MODELYARD_<FIELD>`; nested S3 settings are `MODELYARD_S3_<FIELD>`, see storage/config.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from modelyard.storage.config import S3Settings


class JobDefaults(BaseSettings):
    """Limits of every worker Job."""

    model_config = SettingsConfigDict(env_prefix="MODELYARD_JOB_", extra="ignore")

    backoff_limit: int = Field(default=1, ge=0, le=10)
    """Pod retries for infrastructure failures (a worker's own failure, exit code 1, fails the Job at once)."""
    active_deadline_seconds: int = Field(default=6 * 3600, ge=60)
    """Wall-clock limit of a Job."""
    ttl_seconds_after_finished: int = Field(default=24 * 3600, ge=0)
    """How long finished Jobs (and their logs) are kept."""
    work_size_limit: str = "100Gi"
    """Size limit of the scratch emptyDir at /work."""


class Settings(BaseSettings):
    """How the operator runs."""

    model_config = SettingsConfigDict(env_prefix="MODELYARD_", extra="ignore")

    namespaces: list[str] = []
    """Namespaces to watch (JSON list); every namespace when empty."""
    store_uri: str | None = None
    """Default artifact store (`s3://bucket/prefix`); a Model's spec.storage overrides it."""
    store_secret_name: str | None = None
    """Default Secret with AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY for workers (IRSA when unset)."""
    profiles_file: Path = Path("/etc/modelyard/profiles.yaml")
    """Hardware profiles (the chart's ConfigMap); built-in defaults when the file is absent."""
    templates_dir: Path | None = None
    """Extra template catalog folder (the chart's ConfigMap), mounted into workers too."""
    worker_service_account: str = "modelyard-worker"
    """ServiceAccount of worker pods (annotate it for IRSA)."""
    image_pull_secrets: list[str] = []
    """Pull secrets for worker images."""
    resync_seconds: float = Field(default=30, gt=0)
    """How often objects that are still waiting (for a version, a training job) are looked at again."""
    metrics_port: int = 8080
    """Prometheus metrics port."""
    health_port: int = 8081
    """Liveness endpoint port."""
    store_ca_configmap: str | None = None
    """ConfigMap with the store's private CA bundle (PEM), mounted into worker pods at
    /etc/modelyard/ca; like the credentials Secret, it is looked up in each Job's namespace."""
    store_ca_key: str = "ca.crt"
    """Key of the PEM bundle in that ConfigMap."""
    tensorboard_servers: bool = True
    """Run a TensorBoard Deployment and Service for each TrainingJob that asks for one (local
    mode serves the same files with `modelyard local tensorboard` instead)."""
    kserve_service_account: str = "modelyard-kserve"
    """ServiceAccount of KServe predictors (ModelDeployment backend kserve): it lists the store's
    Secret, from which KServe's storage initializer takes the credentials (the chart creates it
    in every worker namespace; the operator never reads or writes Secrets)."""
    kserve_deployment_mode: Literal["Standard", "RawDeployment", "Knative", "Serverless"] = "Standard"
    """How KServe runs predictors (its `serving.kserve.io/deploymentMode` annotation)."""
    s3: S3Settings = Field(default_factory=S3Settings)
    """S3 client settings passed on to workers."""
    jobs: JobDefaults = Field(default_factory=JobDefaults)
    """Limits of worker Jobs."""
