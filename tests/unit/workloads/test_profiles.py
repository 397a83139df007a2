"""Hardware profiles from the chart's ConfigMap over built-in defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.workloads.profiles import ProfileError, default_profiles, load_profiles


def test_defaults_cover_every_hardware():
    profiles = default_profiles()
    assert profiles["cpu"].node_selector == {"kubernetes.io/arch": "amd64"}
    assert profiles["arm"].node_selector == {"kubernetes.io/arch": "arm64"}
    assert profiles["gpu"].accelerator.resource == "nvidia.com/gpu"
    assert profiles["ascend"].accelerator.resource == "huawei.com/Ascend910"
    assert profiles["ascend"].node_selector == {"accelerator": "huawei-Ascend910"}


def test_file_overrides_one_profile(tmp_path: Path):
    path = tmp_path / "profiles.yaml"
    path.write_text(
        "ascend:\n"
        "  image: registry.example.com/modelyard/worker-ascend:cann8\n"
        "  nodeSelector: {accelerator: huawei-Ascend310P}\n"
        "  accelerator: {resource: huawei.com/Ascend310P, count: 1}\n"
        "  tolerations: [{key: huawei.com/Ascend310P, effect: NoSchedule}]\n"
    )
    profiles = load_profiles(path)
    assert profiles["ascend"].accelerator.resource == "huawei.com/Ascend310P"
    assert profiles["gpu"] == default_profiles()["gpu"]


def test_resources_merge_profile_accelerator_and_override():
    gpu = default_profiles()["gpu"]
    resources = gpu.resources({"limits": {"memory": "64Gi", "nvidia.com/gpu": 2}})
    assert resources["limits"] == {"memory": "64Gi", "nvidia.com/gpu": "2"}
    assert resources["requests"]["nvidia.com/gpu"] == "2", "extended resources: requests == limits"
    assert resources["requests"]["cpu"] == "2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tpu: {image: x}\n", "unknown hardware 'tpu'"),
        ("gpu: {image: x, accelerator: {resource: nvidia.com/gpu, count: 0}}\n", "profile gpu: accelerator.count"),
        ("gpu: {nodeSelector: {a: b}}\n", "profile gpu: image"),
        ("- a\n", "expected a mapping"),
    ],
)
def test_bad_profiles_name_the_profile_and_field(tmp_path: Path, text, message):
    path = tmp_path / "profiles.yaml"
    path.write_text(text)
    with pytest.raises(ProfileError, match=message):
        load_profiles(path)


def test_missing_file_means_defaults(tmp_path: Path):
    assert load_profiles(tmp_path / "absent.yaml") == default_profiles()


def test_a_limit_alone_is_a_valid_pair_with_the_profiles_requests():
    resources = default_profiles()["cpu"].resources({"limits": {"memory": "1Gi"}})
    assert resources["requests"]["memory"] == "1Gi", "the profile's 2Gi request yields to the user's limit"


def test_a_profile_with_a_bad_quantity_is_refused_when_loaded(tmp_path: Path):
    path = tmp_path / "profiles.yaml"
    path.write_text("cpu: {image: x, requests: {memory: 2GB}}\n")
    with pytest.raises(ProfileError, match="profile cpu: requests"):
        load_profiles(path)
