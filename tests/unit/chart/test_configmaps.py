"""The profiles and template ConfigMaps are in the formats the operator and workers load."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from modelyard.templates import load_catalog
from modelyard.workloads.profiles import HARDWARE, default_profiles, load_profiles
from tests.support import helm
from tests.support.helm import CHART, NAMESPACE
from tests.unit.chart.conftest import VALUES_CASES, VALUES_IDS

ALL_PROFILES = CHART / "ci" / "all-profiles-values.yaml"


def profiles_from(objects: list[dict], tmp_path: Path):
    configmap = helm.one(objects, "ConfigMap", f"{helm.RELEASE}-profiles")
    path = tmp_path / "profiles.yaml"
    path.write_text(configmap["data"]["profiles.yaml"])
    return load_profiles(path), yaml.safe_load(path.read_text())


@pytest.mark.parametrize("values", VALUES_CASES, ids=VALUES_IDS)
def test_profiles_configmap_loads_and_names_every_hardware(values, tmp_path: Path):
    profiles, raw = profiles_from(helm.render(*values), tmp_path)
    assert sorted(raw) == sorted(HARDWARE)  # each profile comes from the chart, none from fallbacks
    assert set(profiles) == set(HARDWARE)


def test_default_values_render_the_built_in_profiles(tmp_path: Path):
    """The chart's defaults and the operator's defaults describe the same cluster."""
    profiles, _ = profiles_from(helm.render(), tmp_path)
    assert profiles == default_profiles()


def test_device_plugin_resource_names_and_labels_come_from_values(tmp_path: Path):
    profiles, _ = profiles_from(helm.render(ALL_PROFILES), tmp_path)
    ascend = profiles["ascend"]
    assert ascend.accelerator.resource == "huawei.com/Ascend310P" and ascend.accelerator.count == 2
    assert ascend.node_selector == {"accelerator": "huawei-Ascend310P"}
    assert ascend.tolerations[0].key == "huawei.com/Ascend310P"
    assert ascend.env == {"ASCEND_VISIBLE_DEVICES": "0,1", "ASCEND_GLOBAL_LOG_LEVEL": "3"}
    assert ascend.resources()["limits"]["huawei.com/Ascend310P"] == "2"
    gpu = profiles["gpu"]
    assert gpu.accelerator.resource == "nvidia.com/mig-1g.10gb"
    assert gpu.runtime_class_name == "nvidia"
    assert gpu.image == "registry.example.com/modelyard/worker-gpu:0.1.0-rc1"
    assert profiles["arm"].tolerations[0].value == "arm64"


def test_a_single_resource_name_can_be_set_on_the_command_line(tmp_path: Path):
    objects = helm.render(sets=("profiles.ascend.accelerator.resource=huawei.com/Ascend910B",))
    profiles, _ = profiles_from(objects, tmp_path)
    assert profiles["ascend"].accelerator.resource == "huawei.com/Ascend910B"


def test_operator_mounts_the_profiles_where_settings_point(tmp_path: Path):
    objects = helm.render()
    pod = helm.one(objects, "Deployment")["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert env["MODELYARD_PROFILES_FILE"] == f"{mounts['profiles']}/profiles.yaml"
    assert volumes["profiles"]["configMap"]["name"] == f"{helm.RELEASE}-profiles"


def test_template_catalog_configmap_loads_with_the_catalog(tmp_path: Path):
    objects = helm.render(ALL_PROFILES)
    configmaps = helm.find(objects, "ConfigMap", "modelyard-templates")
    # Worker Jobs mount it from their own namespace: one copy per worker namespace.
    assert sorted(c["metadata"]["namespace"] for c in configmaps) == sorted([NAMESPACE, "ml-prod"])
    folder = tmp_path / "templates"
    folder.mkdir()
    for name, text in configmaps[0]["data"].items():
        (folder / name).write_text(text)
    catalog = load_catalog(folder)
    wide = catalog.get("tabular-mlp-wide").resolve({})
    assert wide.signature.inputs[0].shape == [-1, 32]
    assert wide.parameters["hidden"] == "256"
    assert "tabular-mlp" in catalog.templates  # the built-in ones stay


def test_no_template_configmap_and_no_templates_dir_without_templates():
    objects = helm.render()
    assert not helm.find(objects, "ConfigMap", "modelyard-templates")
    env = {e["name"] for e in helm.one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "MODELYARD_TEMPLATES_DIR" not in env


def test_profiles_checksum_restarts_the_operator_when_profiles_change():
    def checksum(*sets):
        deployment = helm.one(helm.render(sets=sets), "Deployment")
        return deployment["spec"]["template"]["metadata"]["annotations"]["checksum/profiles"]

    assert checksum() == checksum()
    assert checksum() != checksum("profiles.gpu.accelerator.count=2")
