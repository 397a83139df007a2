"""The KServe backend's builders: the InferenceService for each variant, the storage ServiceAccount
and the Secret annotations KServe needs, and the status read back (tests/integration/
test_kserve_crds.py holds the same objects to KServe's real CRDs)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from modelyard.workloads.jobs import StoreRef
from modelyard.workloads.kserve import (DEPLOYMENT_MODE, S3_ENDPOINT, S3_REGION, S3_USE_HTTPS, S3_VERIFY_SSL,
                                        S3_VIRTUAL_BUCKET, UnsupportedVariant, annotate_command,
                                        build_inference_service, build_storage_credentials,
                                        inference_service_state, missing_secret_annotations, runtime_for,
                                        secret_annotations, served_model_name)
from modelyard.workloads.profiles import default_profiles

OWNER = {"apiVersion": "modelyard.dev/v1alpha1", "kind": "ModelDeployment", "name": "digits", "uid": "u-1"}
URI = "s3://models/store/team-a/digits/1.0.0-onnx-cpu"
PROFILES = default_profiles()
SECRET_VALUES = ("AKIA-TEST", "test-secret-value")


def isvc(**changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = dict(
        name="digits", namespace="team-a", owner=OWNER, model_name="digits", version="digits-onnx-cpu",
        artifact_uri=URI, model_format="onnx", profile=PROFILES["cpu"], min_replicas=1, max_replicas=3,
        resources=None, service_account="digits-kserve", labels={"modelyard.dev/deployment": "digits"},
    )
    args.update(changes)
    return build_inference_service(**args)


def predictor(body: dict[str, Any]) -> dict[str, Any]:
    return body["spec"]["predictor"]


def test_cpu_onnx_is_served_by_triton_with_the_version_folder_as_its_model_directory():
    body = isvc()
    assert (body["apiVersion"], body["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService")
    spec = predictor(body)
    assert spec["model"]["runtime"] == "kserve-tritonserver"
    assert spec["model"]["modelFormat"] == {"name": "onnx"}
    assert spec["model"]["protocolVersion"] == "v2"
    # Triton's repository is /mnt/models; the model's directory is named as its config.pbtxt says.
    assert spec["storageUris"] == [{"uri": URI + "/", "mountPath": "/mnt/models/digits-onnx-cpu"}]
    assert "storageUri" not in spec["model"], "KServe refuses storageUri beside storageUris"
    assert served_model_name("digits", "digits-onnx-cpu", "onnx") == "digits-onnx-cpu"


@pytest.mark.parametrize("fmt", ["onnx-int8", "onnx-fp16"])
def test_every_onnx_variant_goes_to_triton_on_cpu(fmt: str):
    spec = predictor(isvc(model_format=fmt))
    assert (spec["model"]["runtime"], spec["model"]["modelFormat"]["name"]) == ("kserve-tritonserver", "onnx")


def test_openvino_is_served_by_ovms_from_the_version_folder_itself():
    spec = predictor(isvc(model_format="openvino", artifact_uri=URI + "/"))
    assert spec["model"]["runtime"] == "kserve-openvino"
    assert spec["model"]["modelFormat"] == {"name": "openvino"}
    assert spec["model"]["storageUri"] == URI + "/", "OVMS reads 1/model.xml under /mnt/models"
    assert "storageUris" not in spec
    assert served_model_name("digits", "digits-openvino", "openvino") == "digits"


def test_gpu_tensorrt_plan_gets_the_gpu_its_node_and_a_canary():
    spec = predictor(isvc(model_format="tensorrt-plan", version="digits-trt", profile=PROFILES["gpu"],
                          canary_percent=10, deployment_mode="Knative"))
    assert spec["model"]["runtime"] == "kserve-tritonserver"
    assert spec["model"]["modelFormat"] == {"name": "triton"}
    assert spec["storageUris"][0]["mountPath"] == "/mnt/models/digits-trt"
    assert spec["model"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert spec["model"]["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert spec["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert spec["canaryTrafficPercent"] == 10


def test_profile_node_selection_and_runtime_class_reach_the_predictor():
    profile = PROFILES["cpu"].model_copy(update={"runtime_class_name": "kata"})
    spec = predictor(isvc(profile=profile))
    assert spec["nodeSelector"] == {"kubernetes.io/arch": "amd64"}
    assert spec["runtimeClassName"] == "kata"
    assert "tolerations" not in spec


def test_resources_merge_the_deployment_over_the_profile():
    spec = predictor(isvc(resources={"limits": {"memory": "4Gi"}, "requests": {"cpu": "500m"}}))
    assert spec["model"]["resources"] == {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "4Gi"}}


def test_replicas_owner_labels_and_account():
    body = isvc(min_replicas=0, max_replicas=5)
    spec = predictor(body)
    assert (spec["minReplicas"], spec["maxReplicas"]) == (0, 5)
    assert spec["serviceAccountName"] == "digits-kserve"
    assert spec["automountServiceAccountToken"] is False
    assert body["metadata"]["labels"] == {"modelyard.dev/deployment": "digits", "app.kubernetes.io/managed-by": "modelyard"}
    assert body["metadata"]["ownerReferences"] == [{**OWNER, "controller": True, "blockOwnerDeletion": True}]
    assert "annotations" not in body["metadata"], "KServe's own default mode unless the caller names one"
    assert isvc(deployment_mode="Standard")["metadata"]["annotations"] == {DEPLOYMENT_MODE: "Standard"}


def test_containers_run_restricted_as_the_runtime_image_user():
    spec = predictor(isvc())
    context = spec["model"]["securityContext"]
    assert context["runAsNonRoot"] is True and context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False and context["capabilities"] == {"drop": ["ALL"]}
    assert "runAsUser" not in context, "Triton runs as 1000, OVMS as 5000: the runtime sets it"
    assert spec["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert {"name": "tmp", "mountPath": "/tmp"} in spec["model"]["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {}} in spec["volumes"]


def test_no_credentials_anywhere_in_the_spec():
    text = json.dumps(isvc())
    assert "AWS_" not in text and "secretKeyRef" not in text and "env" not in predictor(isvc())["model"]


@pytest.mark.parametrize("changes, message", [
    ({"model_format": "tensorrt-plan"}, "NVIDIA GPU"),
    ({"model_format": "tensorrt-plan", "profile": PROFILES["ascend"]}, "NVIDIA GPU"),
    ({"model_format": "ascend-om"}, "no KServe runtime serves format 'ascend-om'"),
    ({"canary_percent": 20, "deployment_mode": "RawDeployment"}, "kserve#5335"),
    ({"canary_percent": 20, "deployment_mode": "Standard"}, "needs Knative mode"),
    ({"canary_percent": 101}, "within 0..100"),
    ({"min_replicas": 3, "max_replicas": 2}, "min (3) <= max (2)"),
])
def test_what_kserve_cannot_do_is_refused_with_the_reason(changes: dict[str, Any], message: str):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        isvc(**changes)


def test_unsupported_variant_is_its_own_error():
    with pytest.raises(UnsupportedVariant):
        runtime_for("ascend-om", PROFILES["ascend"])


def test_storage_service_account_lists_the_store_secret_and_copies_nothing():
    store = StoreRef("s3://models/store", "http://rgw.storage:7480", "eu-west-1", "model-store-credentials")
    objects = build_storage_credentials(name="digits-kserve", namespace="team-a", owner=OWNER, store=store,
                                        secret_name=store.secret_name)
    assert [o["kind"] for o in objects] == ["ServiceAccount"], "the user's Secret is referenced, not copied"
    account = objects[0]
    assert account["metadata"]["name"] == "digits-kserve" and account["metadata"]["namespace"] == "team-a"
    assert account["secrets"] == [{"name": "model-store-credentials"}]
    assert account["automountServiceAccountToken"] is False
    assert account["metadata"]["ownerReferences"][0]["controller"] is True
    assert account["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "modelyard"
    assert not any(value in json.dumps(objects) for value in SECRET_VALUES)


def test_without_a_secret_the_account_lists_none():
    store = StoreRef("s3://models/store")
    account = build_storage_credentials(name="a", namespace="n", owner=OWNER, store=store, secret_name=None)[0]
    assert "secrets" not in account


def test_secret_annotations_say_where_the_store_is_as_kserve_reads_them():
    assert secret_annotations(endpoint="http://rgw.storage:7480", region="eu-west-1") == {
        S3_ENDPOINT: "rgw.storage:7480", S3_USE_HTTPS: "0", S3_REGION: "eu-west-1"}
    assert secret_annotations(endpoint="https://minio.example.com", region=None, verify_tls=False,
                              addressing_style="virtual") == {
        S3_ENDPOINT: "minio.example.com", S3_USE_HTTPS: "1", S3_VERIFY_SSL: "0", S3_VIRTUAL_BUCKET: "true"}
    assert secret_annotations(endpoint=None, region=None) == {}, "AWS S3 in its default region needs none"


def test_a_secret_without_the_annotations_is_told_how_to_get_them():
    wanted = secret_annotations(endpoint="http://rgw.storage:7480", region="us-east-1")
    metadata = {"name": "model-store-credentials", "annotations": {S3_ENDPOINT: "rgw.storage:7480"}}
    missing = missing_secret_annotations(metadata, wanted)
    assert missing == {S3_USE_HTTPS: "0", S3_REGION: "us-east-1"}
    assert annotate_command("team-a", "model-store-credentials", missing) == (
        "kubectl -n team-a annotate secret model-store-credentials --overwrite "
        "serving.kserve.io/s3-region=us-east-1 serving.kserve.io/s3-usehttps=0")
    assert missing_secret_annotations({"annotations": wanted}, wanted) == {}


def _status(generation: int = 1, **status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "digits", "generation": generation}, "status": {"observedGeneration": 1, **status}}


def test_state_of_a_ready_service():
    body = _status(
        url="http://digits-team-a.example.com", address={"url": "http://digits-predictor.team-a.svc.cluster.local"},
        conditions=[{"type": "PredictorReady", "status": "True"}, {"type": "Ready", "status": "True"}],
        components={"predictor": {"latestReadyRevision": "digits-predictor-00002",
                                  "latestCreatedRevision": "digits-predictor-00002",
                                  "traffic": [{"revisionName": "digits-predictor-00002", "percent": 100,
                                               "latestRevision": True}]}})
    state = inference_service_state(body)
    assert state.ready and state.current
    assert state.url == "http://digits-team-a.example.com"
    assert state.address == "http://digits-predictor.team-a.svc.cluster.local"
    assert (state.reason, state.message, state.canary_percent) == (None, None, None)
    assert state.latest_ready_revision == "digits-predictor-00002"


def test_state_of_a_canary_split():
    body = _status(
        conditions=[{"type": "Ready", "status": "True"}],
        components={"predictor": {"latestReadyRevision": "r-2", "latestCreatedRevision": "r-2",
                                  "previousRolledoutRevision": "r-1",
                                  "traffic": [{"revisionName": "r-2", "percent": 10, "latestRevision": True, "tag": "latest"},
                                              {"revisionName": "r-1", "percent": 90, "latestRevision": False, "tag": "prev"}]}})
    state = inference_service_state(body)
    assert state.canary_percent == 10 and state.previous_revision == "r-1"
    assert [(t.revision, t.percent, t.latest) for t in state.traffic] == [("r-2", 10, True), ("r-1", 90, False)]


def test_state_of_a_failing_predictor_names_the_failure():
    body = _status(conditions=[
        {"type": "PredictorReady", "status": "False", "reason": "RevisionFailed", "message": "Container failed with: model not found"},
        {"type": "Ready", "status": "False", "reason": "RevisionFailed"}],
        modelStatus={"lastFailureInfo": {"reason": "ModelLoadFailed", "message": "failed to load digits-onnx-cpu"}})
    state = inference_service_state(body)
    assert not state.ready
    assert (state.reason, state.message) == ("RevisionFailed", "Container failed with: model not found")


def test_state_falls_back_to_the_model_failure():
    body = _status(conditions=[{"type": "Ready", "status": "False"}],
                   modelStatus={"lastFailureInfo": {"reason": "ModelLoadFailed", "message": "no such model"}})
    state = inference_service_state(body)
    assert (state.reason, state.message) == ("ModelLoadFailed", "no such model")


def test_state_of_a_stale_or_new_service_is_not_ready():
    stale = inference_service_state(_status(generation=2, conditions=[{"type": "Ready", "status": "True"}]))
    assert not stale.ready and not stale.current and stale.reason == "Pending"
    assert "generation 2" in stale.message
    fresh = inference_service_state({"metadata": {"name": "digits", "generation": 1}})
    assert not fresh.ready and fresh.reason == "Pending" and fresh.url is None and fresh.traffic == ()
