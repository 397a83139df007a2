"""KServe's real CRDs (hack/kserve.sh: from its Go module) on a real API server judge what the
KServe backend builds: every InferenceService it makes is accepted with strict field validation
and read back with every field we sent (the structural schema prunes nothing of ours); a wrong
one is refused, so the schema really validates; the storage ServiceAccount and an annotated
store Secret are accepted. The runtimes we name are ones KServe ships, with the formats we use.

A control plane of its own (not the session's test bed): with KServe's CRDs installed, an
operator choosing `backend: auto` would pick KServe, and the other tests must not see that.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from modelyard.workloads.jobs import StoreRef
from modelyard.workloads.kserve import (API_VERSION, GROUP, PLURAL, RUNTIMES, VERSION, build_inference_service,
                                        build_storage_credentials, missing_secret_annotations, secret_annotations)
from modelyard.workloads.profiles import default_profiles
from tests.support.controlplane import ROOT, ControlPlane, wait_until

SCRIPT = ROOT / "hack" / "kserve.sh"
NAMESPACE = "serving"
STORE = StoreRef("s3://models/store", "http://rgw.storage.svc:7480", "us-east-1", "model-store-credentials")
PROFILES = default_profiles()


@pytest.fixture(scope="module")
def manifests() -> Path:
    """KServe's manifests; the script waits for a fetch in progress (CI starts one beside pip)."""
    done = subprocess.run([str(SCRIPT), "crds"], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise AssertionError(f"hack/kserve.sh crds failed:\n{done.stderr[-4000:]}")
    return Path(done.stdout.strip())


@pytest.fixture(scope="module")
def cluster(manifests: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[client.ApiClient]:
    cp = ControlPlane(tmp_path_factory.mktemp("kserve-controlplane"))
    cp.start()
    try:
        api = cp.api()
        extensions = client.ApiextensionsV1Api(api)
        names = []
        for path in sorted((manifests / "crds").glob("*.yaml")):
            for crd in yaml.safe_load_all(path.read_text()):
                if crd:
                    extensions.create_custom_resource_definition(crd)
                    names.append(crd["metadata"]["name"])

        def established() -> bool:
            return all(any(c.type == "Established" and c.status == "True"
                           for c in extensions.read_custom_resource_definition(n).status.conditions or [])
                       for n in names)

        wait_until(f"KServe's CRDs established ({', '.join(names)})", established, timeout=60)
        client.CoreV1Api(api).create_namespace({"metadata": {"name": NAMESPACE}})
        yield api
    finally:
        cp.stop()


@pytest.fixture(scope="module")
def owner(cluster: client.ApiClient) -> dict[str, str]:
    """A real object to own what we create (the garbage collector deletes what a missing uid owns)."""
    made = client.CoreV1Api(cluster).create_namespaced_config_map(NAMESPACE, {"metadata": {"name": "owner"}})
    return {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": made.metadata.uid}


def _cases(owner: dict[str, str]) -> dict[str, dict[str, Any]]:
    common = dict(namespace=NAMESPACE, owner=owner, model_name="digits", min_replicas=1, max_replicas=2,
                  service_account="digits-kserve", labels={"modelyard.dev/deployment": "digits"})
    return {
        "cpu-onnx": build_inference_service(
            name="cpu-onnx", version="digits-onnx-cpu", model_format="onnx-int8", profile=PROFILES["cpu"],
            artifact_uri="s3://models/store/serving/digits/1.0.0-onnx-int8-cpu/", deployment_mode="RawDeployment",
            resources={"limits": {"memory": "4Gi"}}, **common),
        "cpu-openvino": build_inference_service(
            name="cpu-openvino", version="digits-openvino", model_format="openvino", profile=PROFILES["cpu"],
            artifact_uri="s3://models/store/serving/digits/1.0.0-openvino-cpu", deployment_mode="Standard",
            resources=None, **common),
        "gpu-tensorrt-plan": build_inference_service(
            name="gpu-tensorrt-plan", version="digits-trt", model_format="tensorrt-plan", profile=PROFILES["gpu"],
            artifact_uri="s3://models/store/serving/digits/1.0.0-tensorrt-plan-gpu/", deployment_mode="Knative",
            canary_percent=10, resources={"limits": {"memory": "16Gi"}}, **common),
    }


def _isvcs(api: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api)


def _missing(sent: Any, stored: Any, path: str = "") -> list[str]:
    """Every value we sent that is not in what the server stored (the server may add defaults)."""
    if isinstance(sent, dict):
        if not isinstance(stored, dict):
            return [f"{path}: stored {stored!r}"]
        return [m for k, v in sent.items() for m in _missing(v, stored.get(k, _ABSENT), f"{path}.{k}")]
    if isinstance(sent, list):
        if not isinstance(stored, list) or len(stored) != len(sent):
            return [f"{path}: sent {len(sent)} items, stored {stored!r}"]
        return [m for i, (a, b) in enumerate(zip(sent, stored, strict=True)) for m in _missing(a, b, f"{path}[{i}]")]
    return [] if sent == stored else [f"{path}: sent {sent!r}, stored {stored!r}"]


_ABSENT = object()


@pytest.mark.parametrize("case", ["cpu-onnx", "cpu-openvino", "gpu-tensorrt-plan"])
def test_kserve_accepts_every_inference_service_we_build_and_keeps_every_field(
        cluster: client.ApiClient, owner: dict[str, str], case: str):
    body = _cases(owner)[case]
    _isvcs(cluster).create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, copy.deepcopy(body),
                                                    field_validation="Strict")
    stored = _isvcs(cluster).get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, body["metadata"]["name"])
    assert stored["apiVersion"] == API_VERSION
    assert _missing(body["spec"], stored["spec"], "spec") == []
    for key in ("labels", "annotations", "ownerReferences"):
        assert _missing(body["metadata"].get(key), stored["metadata"].get(key), f"metadata.{key}") == []


def _rejection(cluster: client.ApiClient, body: dict[str, Any]) -> str:
    with pytest.raises(ApiException) as raised:
        _isvcs(cluster).create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, body,
                                                        field_validation="Strict")
    assert raised.value.status in (400, 422), raised.value.body
    return json.loads(raised.value.body)["message"]


def test_kserve_schema_refuses_a_wrong_inference_service(cluster: client.ApiClient, owner: dict[str, str]):
    body = _cases(owner)["cpu-onnx"]
    body["metadata"]["name"] = "wrong"
    wrong = copy.deepcopy(body)
    wrong["spec"]["predictor"]["storageUris"][0]["mountPath"] = "mnt/models/relative"
    wrong["spec"]["predictor"]["canaryTrafficPercent"] = "ten"
    message = _rejection(cluster, wrong)
    assert "spec.predictor.storageUris[0].mountPath" in message and "^/.*" in message, message
    assert "spec.predictor.canaryTrafficPercent" in message, message
    typo = copy.deepcopy(body)
    typo["spec"]["predictor"]["model"]["storageURI"] = typo["spec"]["predictor"].pop("storageUris")[0]["uri"]
    assert 'unknown field "spec.predictor.model.storageURI"' in _rejection(cluster, typo)


def test_storage_service_account_and_annotated_store_secret_are_accepted(cluster: client.ApiClient,
                                                                         owner: dict[str, str]):
    core = client.CoreV1Api(cluster)
    wanted = secret_annotations(endpoint=STORE.endpoint, region=STORE.region)
    # The store Secret as a platform team prepares it for KServe: our keys, KServe's annotations.
    core.create_namespaced_secret(NAMESPACE, {
        "metadata": {"name": STORE.secret_name, "annotations": wanted},
        "stringData": {"AWS_ACCESS_KEY_ID": "test-key", "AWS_SECRET_ACCESS_KEY": "test-secret"}})
    for obj in build_storage_credentials(name="digits-kserve", namespace=NAMESPACE, owner=owner, store=STORE,
                                         secret_name=STORE.secret_name):
        assert obj["kind"] == "ServiceAccount"
        core.create_namespaced_service_account(NAMESPACE, obj, field_validation="Strict")
    account = core.read_namespaced_service_account("digits-kserve", NAMESPACE)
    assert [s.name for s in account.secrets] == [STORE.secret_name]
    assert account.automount_service_account_token is False
    # What the operator can read without values: the Secret's metadata, which has what KServe needs.
    metadata = json.loads(core.read_namespaced_secret(STORE.secret_name, NAMESPACE, _preload_content=False).data)["metadata"]
    assert missing_secret_annotations(metadata, wanted) == {}


def test_the_runtimes_we_name_are_kserves_own_with_our_formats(manifests: Path):
    shipped = {}
    for path in (manifests / "runtimes").glob("*.yaml"):
        for runtime in yaml.safe_load_all(path.read_text()):
            if runtime and runtime.get("kind") == "ClusterServingRuntime":
                shipped[runtime["metadata"]["name"]] = runtime["spec"]
    for fmt, runtime in RUNTIMES.items():
        assert runtime.runtime in shipped, f"{fmt}: KServe ships no ClusterServingRuntime {runtime.runtime}"
        spec = shipped[runtime.runtime]
        formats = {f["name"] for f in spec["supportedModelFormats"]}
        assert runtime.model_format in formats, f"{fmt}: {runtime.runtime} serves {sorted(formats)}"
        assert "v2" in spec["protocolVersions"], f"{runtime.runtime} does not speak the v2 protocol we ask for"
        args = " ".join(spec["containers"][0].get("args") or [])
        assert "/mnt/models" in args, f"{runtime.runtime} reads its models elsewhere: {args}"
