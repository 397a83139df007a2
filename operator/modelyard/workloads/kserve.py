"""KServe as a serving backend: the InferenceService for a stored version, the ServiceAccount
through which KServe's storage initializer reads the store, and the InferenceService's status
read back. Pure builders: nothing here calls the API server.

Which runtime serves which variant (KServe v0.20's ClusterServingRuntimes, config/runtimes/):

| variant format                     | runtime               | modelFormat | what lands in /mnt/models      |
| ---------------------------------- | --------------------- | ----------- | ------------------------------ |
| tensorrt-plan (NVIDIA GPU only)    | kserve-tritonserver   | triton      | /mnt/models/<version>/ (Triton) |
| onnx, onnx-fp16, onnx-int8 (any)   | kserve-tritonserver   | onnx        | /mnt/models/<version>/ (Triton) |
| torchscript (any)                  | kserve-tritonserver   | pytorch     | /mnt/models/<version>/ (Triton) |
| openvino (cpu)                     | kserve-openvino       | openvino    | /mnt/models/1/model.xml (OVMS)  |

Why:
- A converted version's folder is a Triton *model directory* (`config.pbtxt`, `1/model.<ext>`,
  worker/convert/triton.py), and Triton's `--model-store=/mnt/models` wants a *repository* (a
  folder of model directories). KServe's `storageUris` (v0.19+) downloads a URI to a mount path of
  our choosing, so the version folder goes to `/mnt/models/<version>`: the repository then holds
  one model whose directory name is the `name` in its config.pbtxt (the ModelVersion's name), as
  Triton requires. Clients call the model by that name.
- ONNX goes to Triton on every hardware, CPU included: Triton runs it with onnxruntime, the engine
  the conversion verified it with (so the live parity check compares like with like, INT8
  kernels included), and kserve-tritonserver is among the runtimes KServe installs by default.
  OVMS also lists onnx, but through OpenVINO's ONNX frontend: another engine than the verified one.
- OpenVINO IR goes to OpenVINO Model Server, OpenVINO's own server. Its `--model_path=/mnt/models`
  wants numbered version folders, which is exactly the version folder's layout (`1/model.xml`,
  `1/model.bin`), so `storageUri` is the version folder itself; OVMS serves it under the
  InferenceService's name (`--model_name={{.Name}}`). KServe v0.20 ships kserve-openvino in
  config/runtimes/ but leaves it out of its default install: the cluster admin applies it.
- A TensorRT plan is bound to the GPU kind and TensorRT release it was built with; it is refused
  for a profile without an NVIDIA accelerator.

Every storage URI ends with `/`: KServe's S3 download lists by prefix, and `.../v1` would also
take `.../v10/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from modelyard.workloads.profiles import HardwareProfile
from modelyard.workloads.security import restricted_security_context

GROUP = "serving.kserve.io"
VERSION = "v1beta1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "InferenceService"
PLURAL = "inferenceservices"

DEPLOYMENT_MODE = f"{GROUP}/deploymentMode"
"""Annotation choosing how KServe runs the predictor: `Standard` (v0.20's name for
`RawDeployment`: a Deployment, Service and HPA) or `Knative` (`Serverless`)."""
RAW_MODES = ("Standard", "RawDeployment")

MODEL_ROOT = "/mnt/models"
MANAGED_BY = {"app.kubernetes.io/managed-by": "modelyard"}

# KServe's storage initializer reads these from the Secret listed by the predictor's
# ServiceAccount (pkg/credentials/s3/s3_secret.go).
S3_ENDPOINT = f"{GROUP}/s3-endpoint"
S3_USE_HTTPS = f"{GROUP}/s3-usehttps"
S3_REGION = f"{GROUP}/s3-region"
S3_VERIFY_SSL = f"{GROUP}/s3-verifyssl"
S3_VIRTUAL_BUCKET = f"{GROUP}/s3-usevirtualbucket"
S3_CA_BUNDLE_CONFIGMAP = f"{GROUP}/s3-cabundle-configmap"
SECRET_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
"""The keys KServe's default configuration (`credentials.s3.s3AccessKeyIDName`) reads: the same
keys as the store Secret Modelyard's workers use."""


class UnsupportedVariant(ValueError):
    """No KServe runtime serves this format on this hardware; the message says why."""


@dataclass(frozen=True)
class Runtime:
    """How KServe serves one variant format."""

    runtime: str
    """The ClusterServingRuntime named in the predictor."""
    model_format: str
    """`spec.predictor.model.modelFormat.name`: one the runtime lists as supported."""
    triton_layout: bool
    """Whether the version folder is a Triton model directory, mounted under /mnt/models/<version>
    (else the version folder is /mnt/models itself)."""


TRITON = "kserve-tritonserver"
OPENVINO = "kserve-openvino"
RUNTIMES: dict[str, Runtime] = {
    "tensorrt-plan": Runtime(TRITON, "triton", True),
    "onnx": Runtime(TRITON, "onnx", True),
    "onnx-fp16": Runtime(TRITON, "onnx", True),
    "onnx-int8": Runtime(TRITON, "onnx", True),
    "torchscript": Runtime(TRITON, "pytorch", True),
    "openvino": Runtime(OPENVINO, "openvino", False),
}


def runtime_for(model_format: str, profile: HardwareProfile) -> Runtime:
    """The runtime for a variant format on a profile's hardware (see the module's table)."""
    runtime = RUNTIMES.get(model_format)
    if runtime is None:
        raise UnsupportedVariant(f"no KServe runtime serves format {model_format!r}; "
                                 f"KServe serves {', '.join(sorted(RUNTIMES))}")
    if model_format == "tensorrt-plan" and not _nvidia(profile):
        raise UnsupportedVariant("a tensorrt-plan runs only on an NVIDIA GPU; the hardware profile has no "
                                 "nvidia.com/ accelerator")
    return runtime


def _nvidia(profile: HardwareProfile) -> bool:
    return profile.accelerator is not None and profile.accelerator.resource.startswith("nvidia.com/")


def served_model_name(name: str, version: str, model_format: str) -> str:
    """The name clients call the model by: Triton serves the model directory's name (the
    version's), OVMS the InferenceService's."""
    return version if RUNTIMES[model_format].triton_layout else name


def _folder(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


def owner_reference(owner: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["name"], "uid": owner["uid"],
            "controller": True, "blockOwnerDeletion": True}


def _container_security() -> dict[str, Any]:
    # Ours, less the uid: each runtime's image runs as its own non-root user (Triton 1000,
    # OVMS 5000) and the runtime's container sets it; ours would override it.
    context = restricted_security_context()
    context.pop("runAsUser")
    context.pop("runAsGroup")
    return context


def build_inference_service(*, name: str, namespace: str, owner: dict[str, str], model_name: str, version: str,
                            artifact_uri: str, model_format: str, profile: HardwareProfile,
                            min_replicas: int, max_replicas: int, resources: dict[str, Any] | None,
                            service_account: str, labels: dict[str, str], canary_percent: int | None = None,
                            deployment_mode: str | None = None) -> dict[str, Any]:
    """The InferenceService serving one stored version.

    `model_name` is the Modelyard Model, `version` the ModelVersion (the name in its
    config.pbtxt); `artifact_uri` its folder in the store (`s3://bucket/prefix/ns/model/version/`);
    `model_format` the variant's format. `resources` is the deployment's own `spec.resources`,
    merged over the profile's (with its accelerator). `service_account` is the one
    `build_storage_credentials` makes. `deployment_mode` is set as KServe's annotation when given.

    `canary_percent` becomes `canaryTrafficPercent`: KServe then sends that share to the revision
    this spec makes and the rest to the last ready one. Only Knative revisions are split so; in
    Standard (RawDeployment) mode KServe ignores the field (kserve#5335) and has its own
    `spec.canary` list instead, so a canary there is refused rather than silently not done.
    """
    if not 0 <= min_replicas <= max_replicas or max_replicas < 1:
        raise ValueError(f"replicas: need 0 <= min ({min_replicas}) <= max ({max_replicas}) and max >= 1")
    if canary_percent is not None:
        if not 0 <= canary_percent <= 100:
            raise ValueError(f"canary_percent {canary_percent} is not within 0..100")
        if deployment_mode in RAW_MODES:
            raise ValueError(f"KServe ignores canaryTrafficPercent in {deployment_mode} mode (kserve#5335): "
                             "a canary on KServe needs Knative mode")
    runtime = runtime_for(model_format, profile)
    artifact = _folder(artifact_uri)
    model: dict[str, Any] = {
        "modelFormat": {"name": runtime.model_format},
        "runtime": runtime.runtime,
        "protocolVersion": "v2",
        "resources": profile.resources(resources),
        "securityContext": _container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    predictor: dict[str, Any] = {
        "minReplicas": min_replicas,
        "maxReplicas": max_replicas,
        "serviceAccountName": service_account,
        # Serving containers never call the API server; KServe hands the storage initializer
        # its credentials as env from the Secret, not through the token.
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "volumes": [{"name": "tmp", "emptyDir": {}}],
        "model": model,
    }
    if runtime.triton_layout:
        predictor["storageUris"] = [{"uri": artifact, "mountPath": f"{MODEL_ROOT}/{version}"}]
    else:
        model["storageUri"] = artifact
    if canary_percent is not None:
        predictor["canaryTrafficPercent"] = canary_percent
    predictor.update(profile.placement())
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": {**labels, **MANAGED_BY},
        "ownerReferences": [owner_reference(owner)],
    }
    if deployment_mode:
        metadata["annotations"] = {DEPLOYMENT_MODE: deployment_mode}
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": {"predictor": predictor}}


def secret_annotations(*, endpoint: str | None, region: str | None, verify_tls: bool = True,
                       addressing_style: str = "auto", ca_configmap: str | None = None) -> dict[str, str]:
    """The annotations KServe's storage initializer needs on the store Secret to reach this store
    (none for AWS S3 itself in us-east-1). KServe reads the endpoint and its TLS settings only from
    the Secret (or from its cluster-wide configuration), never from the InferenceService."""
    found: dict[str, str] = {}
    if endpoint:
        parsed = urlparse(endpoint if "://" in endpoint else f"https://{endpoint}")
        found[S3_ENDPOINT] = parsed.netloc + parsed.path.rstrip("/")
        found[S3_USE_HTTPS] = "1" if parsed.scheme == "https" else "0"
    if region:
        found[S3_REGION] = region
    if not verify_tls:
        found[S3_VERIFY_SSL] = "0"
    if addressing_style == "virtual":
        found[S3_VIRTUAL_BUCKET] = "true"
    if ca_configmap:
        found[S3_CA_BUNDLE_CONFIGMAP] = ca_configmap
    return found


def missing_secret_annotations(secret_metadata: dict[str, Any], wanted: dict[str, str]) -> dict[str, str]:
    """What the store Secret lacks (or has otherwise) of `wanted`, from its metadata alone: the
    operator never reads a Secret's values, and a metadata-only read tells it this much."""
    present = secret_metadata.get("annotations") or {}
    return {key: value for key, value in wanted.items() if present.get(key) != value}


def annotate_command(namespace: str, secret_name: str, missing: dict[str, str]) -> str:
    """The command that fixes it, for a condition's message."""
    pairs = " ".join(f"{key}={value}" for key, value in sorted(missing.items()))
    return f"kubectl -n {namespace} annotate secret {secret_name} --overwrite {pairs}"


def build_storage_credentials(*, name: str, namespace: str, owner: dict[str, str], store: Any,
                              secret_name: str | None) -> list[dict[str, Any]]:
    """The ServiceAccount the predictor runs as; it lists the store Secret, which is how KServe's
    storage initializer finds S3 credentials (it reads AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY
    and the `serving.kserve.io/s3-*` annotations of each Secret the ServiceAccount lists).

    The Secret is the user's own store Secret, referenced, never copied: the operator would have
    to read its values to make another. KServe takes the endpoint, region and TLS settings from
    that Secret's annotations, so the Secret must carry `secret_annotations(...)` of this store;
    `missing_secret_annotations` checks it. With no Secret (`secret_name` None: IRSA or a node
    role), the ServiceAccount lists none and the cluster's own identity applies. `store` is a
    `StoreRef` (workloads/jobs.py) or anything with its `uri`, carried as an annotation.
    """
    account: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(MANAGED_BY),
            "annotations": {"modelyard.dev/store": store.uri},
            "ownerReferences": [owner_reference(owner)],
        },
        # The predictor's pods mount no token (build_inference_service); this says so for any other.
        "automountServiceAccountToken": False,
    }
    if secret_name:
        account["secrets"] = [{"name": secret_name}]
    return [account]


@dataclass(frozen=True)
class Traffic:
    """One line of `status.components.predictor.traffic`."""

    revision: str | None
    percent: int
    latest: bool
    tag: str | None = None


@dataclass(frozen=True)
class InferenceServiceState:
    """What the operator needs of an InferenceService's status."""

    ready: bool
    """`Ready` is True and KServe has looked at the current spec."""
    current: bool
    """KServe's status speaks of the current generation (observedGeneration, where it reports one)."""
    url: str | None
    """`status.url` (external, through the ingress; absent in Standard mode without one)."""
    address: str | None
    """`status.address.url`: the in-cluster URL."""
    reason: str | None
    message: str | None
    """Why it is not ready: the first failing condition, or the model's last failure."""
    latest_ready_revision: str | None = None
    latest_created_revision: str | None = None
    previous_revision: str | None = None
    """`previousRolledoutRevision`: what traffic goes back to on a rollback."""
    canary_percent: int | None = None
    """Traffic to the latest revision while it shares with another; None when it takes all."""
    traffic: tuple[Traffic, ...] = ()


def _condition(conditions: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == kind), None)


def inference_service_state(body: dict[str, Any]) -> InferenceServiceState:
    """Read an InferenceService's status (an object as the API returns it)."""
    status = body.get("status") or {}
    conditions = status.get("conditions") or []
    generation = (body.get("metadata") or {}).get("generation")
    observed = status.get("observedGeneration")
    current = observed is None or generation is None or observed >= generation
    ready_condition = _condition(conditions, "Ready")
    ready = current and ready_condition is not None and ready_condition.get("status") == "True"
    reason = message = None
    if not ready:
        failing = next((c for c in (_condition(conditions, t) for t in ("PredictorReady", "Ready"))
                        if c is not None and c.get("status") == "False"), None)
        failure = (status.get("modelStatus") or {}).get("lastFailureInfo") or {}
        if failing is not None:
            reason, message = failing.get("reason"), failing.get("message")
        if failure and not message:
            reason, message = reason or failure.get("reason"), failure.get("message")
        if not current and reason is None:
            reason, message = "Pending", f"KServe has not yet looked at generation {generation}"
        if reason is None and message is None:
            reason, message = "Pending", "KServe has not reported the InferenceService ready yet"
    predictor = (status.get("components") or {}).get("predictor") or {}
    traffic = tuple(Traffic(t.get("revisionName"), int(t.get("percent") or 0), bool(t.get("latestRevision")), t.get("tag"))
                    for t in predictor.get("traffic") or [] if t.get("percent") is not None)
    latest_share = [t.percent for t in traffic if t.latest]
    canary = latest_share[0] if len(traffic) > 1 and latest_share and latest_share[0] < 100 else None
    return InferenceServiceState(
        ready=ready, current=current, url=status.get("url"), address=(status.get("address") or {}).get("url"),
        reason=reason, message=message,
        latest_ready_revision=predictor.get("latestReadyRevision"),
        latest_created_revision=predictor.get("latestCreatedRevision"),
        previous_revision=predictor.get("previousRolledoutRevision"),
        canary_percent=canary, traffic=traffic,
    )
