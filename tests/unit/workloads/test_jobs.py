"""The worker Jobs: node placement, resources, security, store configuration, identity."""

from __future__ import annotations

import json

import pytest

from modelyard.api.validation import parse_manifest, parse_object
from modelyard.config import Settings
from modelyard.workloads.jobs import (
    NoStoreConfigured,
    build_conversion_job,
    build_evaluation_job,
    build_import_job,
)
from modelyard.workloads.profiles import default_profiles
from tests.support import builders
from tests.support.k8s import assert_valid

PROFILES = default_profiles()


def settings(**values) -> Settings:
    return Settings(store_uri="s3://models/modelyard", **values)


def resource(obj: dict, uid: str = "uid-1"):
    obj["metadata"].update(namespace="team-a", uid=uid)
    return parse_manifest(obj)


MODEL = resource(builders.model())
VERSION = resource(builders.model_version())


def pod(job: dict) -> dict:
    return job["spec"]["template"]["spec"]


def env(job: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in pod(job)["containers"][0]["env"]}


def test_import_job_is_a_valid_restricted_job():
    job = build_import_job(VERSION, MODEL, PROFILES, settings())
    assert_valid(job)
    assert job["metadata"]["name"] == "import-classifier-1-0-0"
    assert job["metadata"]["namespace"] == "team-a"
    assert job["metadata"]["ownerReferences"] == [{
        "apiVersion": "modelyard.dev/v1alpha1", "kind": "ModelVersion", "name": "classifier-1-0-0",
        "uid": "uid-1", "controller": True, "blockOwnerDeletion": True,
    }]
    spec = pod(job)
    container = spec["containers"][0]
    assert container["command"] == ["python", "-m", "modelyard.worker", "import"]
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    security = container["securityContext"]
    assert security["runAsNonRoot"] and security["readOnlyRootFilesystem"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert spec["automountServiceAccountToken"] is False
    assert spec["restartPolicy"] == "Never"
    assert spec["nodeSelector"] == {"kubernetes.io/arch": "amd64"}
    rules = job["spec"]["podFailurePolicy"]["rules"]
    assert rules[0] == {"action": "FailJob", "onExitCodes": {"containerName": "worker", "operator": "In", "values": [1]}}
    for key in ("backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished"):
        assert key in job["spec"]


def test_worker_gets_the_object_and_the_store_but_never_a_secret_value():
    model = resource(builders.model(storage={
        "uri": "s3://team-bucket/models", "endpoint": "https://obs.example.com", "region": "cn-north-4",
        "secretRef": {"name": "obs-credentials"},
    }))
    job = build_import_job(VERSION, model, PROFILES, settings())
    variables = env(job)
    assert json.loads(variables["MODELYARD_OBJECT"])["metadata"] == {"name": "classifier-1-0-0", "namespace": "team-a"}
    assert variables["MODELYARD_STORE_URI"] == "s3://team-bucket/models"
    assert variables["MODELYARD_S3_ENDPOINT"] == "https://obs.example.com"
    assert variables["MODELYARD_S3_REGION"] == "cn-north-4"
    assert variables["AWS_ACCESS_KEY_ID"] == {"secretKeyRef": {"name": "obs-credentials", "key": "AWS_ACCESS_KEY_ID", "optional": False}}
    assert variables["AWS_SESSION_TOKEN"]["secretKeyRef"]["optional"] is True


def test_without_secret_the_worker_uses_its_identity():
    job = build_import_job(VERSION, MODEL, PROFILES, settings(worker_service_account="irsa-worker"))
    assert "AWS_ACCESS_KEY_ID" not in env(job)
    assert pod(job)["serviceAccountName"] == "irsa-worker"


def test_a_private_ca_reaches_the_worker_from_its_namespace():
    job = build_import_job(VERSION, MODEL, PROFILES, settings(store_ca_configmap="corporate-ca", store_ca_key="bundle.pem"))
    assert_valid(job)
    container = pod(job)["containers"][0]
    mount = next(m for m in container["volumeMounts"] if m["name"] == "store-ca")
    assert env(job)["MODELYARD_S3_CA_BUNDLE"] == f"{mount['mountPath']}/bundle.pem" and mount["readOnly"]
    assert next(v for v in pod(job)["volumes"] if v["name"] == "store-ca")["configMap"] == {"name": "corporate-ca"}


def test_no_store_anywhere_is_a_clear_error():
    with pytest.raises(NoStoreConfigured, match="chart value store.uri"):
        build_import_job(VERSION, MODEL, PROFILES, Settings())


def test_image_source_adds_the_copy_init_container_and_shared_volume():
    version = resource(builders.model_version(source={"image": {"image": "registry.example.com/m:1", "path": "/models/m.onnx"}}))
    job = build_import_job(version, MODEL, PROFILES, settings())
    assert_valid(job)
    spec = pod(job)
    (init,) = spec["initContainers"]
    assert init["command"] == ["cp", "-R", "--", "/models/m.onnx", "/modelyard/image/"]
    mounts = {m["name"]: m for m in spec["containers"][0]["volumeMounts"]}
    assert mounts["model-image"] == {"name": "model-image", "mountPath": "/modelyard/image", "readOnly": True}
    assert {v["name"] for v in spec["volumes"]} == {"work", "tmp", "model-image"}


def test_an_oci_source_mounts_its_pull_secret_and_pulls_in_the_worker():
    source = {"oci": {"reference": "registry.example.com/team/m:1", "pullSecretRef": {"name": "regcred"}}}
    job = build_import_job(resource(builders.model_version(source=source)), MODEL, PROFILES, settings())
    assert_valid(job)
    spec = pod(job)
    assert "initContainers" not in spec, "the worker pulls over the distribution API; no container engine"
    volume = next(v for v in spec["volumes"] if v["name"] == "registry-auth")
    assert volume["secret"] == {"secretName": "regcred", "optional": True, "defaultMode": 0o440}
    mounts = {m["name"]: m for m in spec["containers"][0]["volumeMounts"]}
    assert mounts["registry-auth"] == {"name": "registry-auth", "mountPath": "/etc/modelyard/registry-auth", "readOnly": True}
    assert env(job)["MODELYARD_REGISTRY_AUTH"] == "/etc/modelyard/registry-auth"
    anonymous = build_import_job(resource(builders.model_version(source={"oci": {"reference": "r.io/m:1"}})), MODEL,
                                 PROFILES, settings())
    assert "MODELYARD_REGISTRY_AUTH" not in env(anonymous)
    assert {v["name"] for v in pod(anonymous)["volumes"]} == {"work", "tmp"}


@pytest.mark.parametrize(
    ("target", "selector", "accelerator", "toleration"),
    [
        ({"format": "onnx", "hardware": "cpu"}, {"kubernetes.io/arch": "amd64"}, None, None),
        ({"format": "onnx-int8", "hardware": "arm"}, {"kubernetes.io/arch": "arm64"}, None, None),
        ({"format": "onnx-fp16", "hardware": "gpu"}, None, "nvidia.com/gpu", "nvidia.com/gpu"),
        (
            {"format": "ascend-om", "hardware": "ascend", "ascend": {"socVersion": "Ascend910B"}},
            {"accelerator": "huawei-Ascend910"}, "huawei.com/Ascend910", "huawei.com/Ascend910",
        ),
    ],
)
def test_conversion_lands_on_the_target_hardware(target, selector, accelerator, toleration):
    conversion = resource(builders.conversion_job(target=target))
    job = build_conversion_job(conversion, VERSION, MODEL, PROFILES, settings())
    assert_valid(job)
    spec = pod(job)
    assert spec.get("nodeSelector") == selector
    resources = spec["containers"][0]["resources"]
    if accelerator:
        assert resources["limits"][accelerator] == "1" == resources["requests"][accelerator]
        assert spec["tolerations"] == [{"key": toleration, "operator": "Exists", "effect": "NoSchedule"}]
    else:
        assert "tolerations" not in spec
    assert job["metadata"]["labels"]["modelyard.dev/hardware"] == target["hardware"]
    assert json.loads(env(job)["MODELYARD_SOURCE_VERSION"])["spec"]["version"] == "1.0.0"


def test_conversion_resources_override_the_profile():
    conversion = resource(builders.conversion_job(
        target={"format": "onnx-fp16", "hardware": "gpu"}, resources={"limits": {"memory": "64Gi", "nvidia.com/gpu": 2}}))
    limits = pod(build_conversion_job(conversion, VERSION, MODEL, PROFILES, settings()))["containers"][0]["resources"]["limits"]
    assert limits == {"memory": "64Gi", "nvidia.com/gpu": "2"}


def test_evaluation_job_passes_version_and_baseline():
    evaluation = resource(builders.evaluation_job(hardware="gpu", baselineRef={"name": "classifier-0-9-0"}))
    baseline = resource(builders.model_version(name="classifier-0-9-0", version="0.9.0"))
    job = build_evaluation_job(evaluation, VERSION, MODEL, PROFILES, settings(), baseline=baseline)
    assert_valid(job)
    variables = env(job)
    assert json.loads(variables["MODELYARD_BASELINE_VERSION"])["metadata"]["name"] == "classifier-0-9-0"
    assert pod(job)["containers"][0]["command"][-1] == "evaluate"
    assert job["metadata"]["name"] == "evaluate-classifier-eval"


def test_long_object_names_give_valid_job_names_and_labels():
    version = resource(builders.model_version(name="a" * 200))
    job = build_import_job(version, MODEL, PROFILES, settings())
    assert_valid(job)
    assert len(job["metadata"]["name"]) <= 63
    assert len(job["metadata"]["labels"]["modelyard.dev/name"]) <= 63


def test_the_training_job_runs_the_algorithm_image_for_its_hardware_with_the_plan_and_a_deadline():
    from datetime import datetime, timezone

    from modelyard.api.validation import parse_object
    from modelyard.config import Settings
    from modelyard.core.jobstate import JobObservation
    from modelyard.core.trainingjob import Related, decide_training
    from modelyard.workloads.profiles import default_profiles
    from tests.support import builders

    algorithm = parse_object(builders.algorithm(images={"gpu": "registry.example.com/train-gpu:1"}))
    model = parse_object({**builders.model(), "metadata": {"name": "classifier", "uid": "u"}})
    job = parse_object({**builders.training_job(hardware="gpu", maxRuntimeSeconds=600), "metadata": {"name": "t", "uid": "j"}})
    decision = decide_training(job, Related(algorithm=algorithm, model=model), JobObservation("Missing"),
                               default_profiles(), Settings(store_uri="s3://m", store_secret_name="creds"),
                               datetime(2026, 12, 3, tzinfo=timezone.utc))
    (manifest,) = decision.create
    pod = manifest["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "registry.example.com/train-gpu:1"
    assert container["command"] == ["python", "-m", "modelyard.worker", "train"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert manifest["spec"]["activeDeadlineSeconds"] == 600 + 900 and manifest["spec"]["suspend"] is False
    env = {e["name"]: e for e in container["env"]}
    assert "value" not in env["AWS_SECRET_ACCESS_KEY"] and env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "creds"
    assert json.loads(env["MODELYARD_TRAINING_PLAN"]["value"])["hardware"] == "gpu"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert manifest["metadata"]["ownerReferences"][0]["uid"] == "j"


def test_tensorboard_server_reads_the_job_event_files_with_the_store_secret_never_in_arguments():
    from modelyard.workloads.tensorboard import build_tensorboard

    job = parse_object({**builders.training_job(tensorboard={"enabled": True}),
                        "metadata": {"name": "digits-train", "namespace": "ml", "uid": "job-uid"}})
    model = parse_object({**builders.model(), "metadata": {"name": "classifier", "namespace": "ml"}})
    deployment, service = build_tensorboard(job, model, default_profiles(), Settings(store_uri="s3://models", store_secret_name="s3-creds"))
    assert deployment["kind"] == "Deployment" and service["kind"] == "Service"
    for obj in (deployment, service):
        assert obj["metadata"]["name"] == "tensorboard-digits-train"
        assert obj["metadata"]["ownerReferences"][0]["uid"] == "job-uid"
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["python", "-m", "modelyard.worker.tensorboard"]
    env = {e["name"]: e for e in container["env"]}
    assert env["MODELYARD_TENSORBOARD_PREFIX"]["value"] == "ml/classifier/trainings/digits-train/tensorboard"
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "s3-creds"
    assert "MODELYARD_OBJECT" not in env
    assert container["securityContext"]["readOnlyRootFilesystem"] is True and pod["automountServiceAccountToken"] is False
    assert pod["restartPolicy"] == "Always"
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http"}]
    for obj in (deployment, service):
        assert_valid(obj)
