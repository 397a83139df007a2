"""What hack/e2e-kind.sh applies, checked without a cluster: the kind config, MinIO, the
chart values (each profile schedules onto exactly the node meant for it), the extra manifests,
and the store seeding."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import boto3
import yaml

from modelyard.api.validation import parse_manifest
from modelyard.workloads.profiles import HARDWARE, load_profiles
from tests.support import apiserver, helm
from tests.support.helm import ROOT
from tests.support.k8s import assert_valid

E2E = ROOT / "hack" / "e2e"
SCRIPT = (ROOT / "hack" / "e2e-kind.sh").read_text()


def kind_nodes() -> dict[str, dict]:
    """e2e role -> {labels, taints, capacity}, as the cluster looks after the script's patches."""
    config = yaml.safe_load((E2E / "kind-config.yaml").read_text())
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4" and config["kind"] == "Cluster"
    nodes = {}
    for node in config["nodes"]:
        assert node["role"] in ("control-plane", "worker")
        if node["role"] == "worker":
            role = node["labels"]["modelyard.dev/e2e-node"]
            labels = {"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux", **node["labels"]}
            nodes[role] = {"labels": labels, "taints": [], "capacity": {}}
    variables = dict(re.findall(r'^(\w+)_NODE="\$\(node_named (\w+)\)"', SCRIPT, re.M))
    for var, key, value, effect in re.findall(r'kubectl taint node "\$(\w+)_NODE" ([\w./-]+)=(\w+):(\w+)', SCRIPT):
        nodes[variables[var]]["taints"].append({"key": key, "value": value, "effect": effect})
    for var, key, value in re.findall(r'kubectl label node "\$(\w+)_NODE" ([\w./-]+)=(\S+) --overwrite', SCRIPT):
        nodes[variables[var]]["labels"][key] = value
    patches = re.findall(r'patch node "\$(\w+)_NODE" --subresource=status[^\n]*\\\n[^\n]*capacity/([\w.]+)~1(\w+)", "value": "(\d+)"', SCRIPT)
    for var, group, name, count in patches:
        nodes[variables[var]]["capacity"][f"{group}/{name}"] = int(count)
    return nodes


def tolerated(taint: dict, tolerations) -> bool:
    return any(
        t.key == taint["key"] and (t.effect in (None, taint["effect"]))
        and (t.operator == "Exists" or t.value == taint["value"])
        for t in tolerations
    )


def test_kind_cluster_has_a_node_per_hardware_with_fake_accelerators():
    nodes = kind_nodes()
    assert set(nodes) == set(HARDWARE)
    assert nodes["gpu"]["capacity"] == {"nvidia.com/gpu": 2}
    assert nodes["ascend"]["capacity"] == {"huawei.com/Ascend910": 2}
    assert nodes["arm"]["labels"]["kubernetes.io/arch"] == "arm64"


def test_each_profile_schedules_only_onto_its_node(tmp_path: Path):
    objects = helm.render(E2E / "values.yaml")
    configmap = helm.one(objects, "ConfigMap", f"{helm.RELEASE}-profiles")
    (tmp_path / "profiles.yaml").write_text(configmap["data"]["profiles.yaml"])
    profiles = load_profiles(tmp_path / "profiles.yaml")
    nodes = kind_nodes()
    for hardware, profile in profiles.items():
        fits = []
        for role, node in nodes.items():
            selected = profile.node_selector.items() <= node["labels"].items()
            tolerates = all(tolerated(t, profile.tolerations) for t in node["taints"] if t["effect"] == "NoSchedule")
            has_device = profile.accelerator is None or node["capacity"].get(profile.accelerator.resource, 0) >= profile.accelerator.count
            if selected and tolerates and has_device:
                fits.append(role)
        assert fits == [hardware], f"{hardware} Jobs would fit on {fits}"


def test_e2e_chart_values_render_valid_objects_with_the_worker_namespace():
    objects = helm.render(E2E / "values.yaml")
    for obj in objects:
        assert_valid(obj)
    assert helm.find(objects, "ServiceAccount", "modelyard-worker", "modelyard-e2e")
    deployment = helm.one(objects, "Deployment")
    assert deployment["metadata"]["name"] == "modelyard-operator"  # the name the script waits on
    assert f"deployment/{deployment['metadata']['name']}" in SCRIPT


def test_minio_manifests_are_valid_and_match_the_script():
    docs = [d for d in yaml.safe_load_all((E2E / "minio.yaml").read_text()) if d]
    for doc in docs:
        assert_valid(doc)
    secret = next(d for d in docs if d["kind"] == "Secret")
    assert f'MINIO_USER={secret["stringData"]["MINIO_ROOT_USER"]}' in SCRIPT
    assert f'MINIO_PASSWORD={secret["stringData"]["MINIO_ROOT_PASSWORD"]}' in SCRIPT
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert ":RELEASE." in image, "MinIO pinned to a release"
    service = next(d for d in docs if d["kind"] == "Service")
    values = yaml.safe_load((E2E / "values.yaml").read_text())
    port = service["spec"]["ports"][0]["port"]
    assert values["store"]["endpoint"] == f"http://{service['metadata']['name']}.{service['metadata']['namespace']}.svc:{port}"


def test_ascend_check_is_a_valid_conversion_of_a_quickstart_version():
    (doc,) = [d for d in yaml.safe_load_all((E2E / "ascend-check.yaml").read_text()) if d]
    assert apiserver.admit(doc) == []
    job = parse_manifest(doc)
    quickstart = [d for p in sorted((ROOT / "examples" / "quickstart").glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]
    versions = {d["spec"]["output"]["name"] for d in quickstart if d["kind"] == "TrainingJob"}
    assert job.spec.source_ref.name in versions | {d["metadata"]["name"] for d in quickstart if d["kind"] == "ModelVersion"}
    assert job.name.startswith("e2e-")  # the script leaves e2e- objects out of the must-succeed set


def test_quickstart_data_uris_are_the_ones_the_script_rewrites():
    local = re.search(r'LOCAL_DATA_URI="([^"]+)"', SCRIPT).group(1)
    text = "".join(p.read_text() for p in (ROOT / "examples" / "quickstart").glob("*.yaml"))
    uris = set(re.findall(r"file://\S+", text))
    assert uris and all(uri.startswith(local) for uri in uris)
    prepare = (ROOT / "examples" / "quickstart" / "prepare.py").read_text()
    assert '"--out"' in prepare  # the script passes --out


def test_seed_store_creates_buckets_and_uploads_a_folder(s3_env, tmp_path: Path):
    spec = importlib.util.spec_from_file_location("seed_store", E2E / "seed_store.py")
    seed_store = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(seed_store)
    (tmp_path / "digits-train").mkdir()
    (tmp_path / "digits-train" / "model.safetensors").write_bytes(b"weights")
    (tmp_path / "digits-test.npz").write_bytes(b"data")
    written = seed_store.seed(s3_env.endpoint, ["e2e-store", "e2e-data"], tmp_path, "s3://e2e-data/quickstart/")
    assert written == ["s3://e2e-data/quickstart/digits-test.npz", "s3://e2e-data/quickstart/digits-train/model.safetensors"]
    seed_store.seed(s3_env.endpoint, ["e2e-store"], None, None)  # again: existing buckets are fine
    s3 = boto3.client("s3", endpoint_url=s3_env.endpoint, region_name="us-east-1")
    body = s3.get_object(Bucket="e2e-data", Key="quickstart/digits-train/model.safetensors")["Body"].read()
    assert body == b"weights"
