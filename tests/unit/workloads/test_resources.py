"""A profile's requests and the user's limits (or the reverse) merge into a pair the API server
accepts; a pair the user wrote is left for the API server to judge."""

from __future__ import annotations

from modelyard.workloads.resources import merge_resources

CPU_PROFILE = ({"cpu": "1", "memory": "2Gi"}, {"memory": "8Gi"})
GPU_PROFILE = ({"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"}, {"memory": "32Gi", "nvidia.com/gpu": "1"})


def test_a_user_limit_below_the_profiles_request_lowers_the_request():
    merged = merge_resources(*CPU_PROFILE, {"limits": {"memory": "1Gi"}})
    assert merged == {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}


def test_the_comparison_is_by_value_not_by_text():
    assert merge_resources(*CPU_PROFILE, {"limits": {"memory": "3000Mi"}})["requests"]["memory"] == "2Gi"
    assert merge_resources(*CPU_PROFILE, {"limits": {"memory": "2G"}})["requests"]["memory"] == "2G"
    assert merge_resources(*CPU_PROFILE, {"limits": {"cpu": "500m"}})["requests"]["cpu"] == "500m"
    assert merge_resources(*CPU_PROFILE, {"limits": {"cpu": 2}})["requests"]["cpu"] == "1"


def test_each_resource_is_merged_on_its_own():
    profile = ({"cpu": "4", "memory": "2Gi", "ephemeral-storage": "10Gi"}, {})
    user = {"limits": {"cpu": "1", "ephemeral-storage": "5e9"}}
    assert merge_resources(*profile, user)["requests"] == {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "5e9"}


def test_a_user_request_above_the_profiles_limit_raises_the_limit():
    merged = merge_resources(*CPU_PROFILE, {"requests": {"memory": "16Gi"}})
    assert merged["limits"]["memory"] == "16Gi" and merged["requests"]["memory"] == "16Gi"


def test_a_conflicting_pair_the_user_wrote_is_kept_for_the_api_server_to_name():
    user = {"requests": {"memory": "16Gi"}, "limits": {"memory": "1Gi"}}
    merged = merge_resources(*CPU_PROFILE, user)
    assert merged["requests"]["memory"] == "16Gi" and merged["limits"]["memory"] == "1Gi"


def test_extended_resources_keep_requests_equal_to_limits():
    merged = merge_resources(*GPU_PROFILE, {"limits": {"nvidia.com/gpu": 2}})
    assert merged["requests"]["nvidia.com/gpu"] == merged["limits"]["nvidia.com/gpu"] == "2"
    merged = merge_resources(*GPU_PROFILE, {"requests": {"nvidia.com/gpu": "4"}})
    assert merged["requests"]["nvidia.com/gpu"] == merged["limits"]["nvidia.com/gpu"] == "4"
    merged = merge_resources({}, {}, {"requests": {"hugepages-2Mi": "1Gi"}})
    assert merged["limits"]["hugepages-2Mi"] == "1Gi", "a request alone gets its limit"


def test_nothing_given_means_nothing_set():
    assert merge_resources({}, {}) == {}
    assert merge_resources(*CPU_PROFILE) == {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "8Gi"}}
