"""Every MODELYARD_* variable the chart sets is a field of modelyard.config.Settings, and
Settings reads each one to the value the chart meant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter
from pydantic_settings import BaseSettings

from modelyard.config import JobDefaults, Settings
from modelyard.storage.config import S3Settings
from tests.support import helm
from tests.unit.chart.conftest import VALUES_CASES, VALUES_IDS

NESTED = {"s3": S3Settings, "jobs": JobDefaults}


def fields() -> dict[str, tuple[tuple[str, ...], Any]]:
    """Environment variable -> (attribute path on Settings, annotation)."""
    out = {}
    for name, info in Settings.model_fields.items():
        if name in NESTED:
            cls: type[BaseSettings] = NESTED[name]
            prefix = cls.model_config["env_prefix"]
            for sub, sub_info in cls.model_fields.items():
                out[f"{prefix}{sub}".upper()] = ((name, sub), sub_info.annotation)
        else:
            out[f"{Settings.model_config['env_prefix']}{name}".upper()] = ((name,), info.annotation)
    return out


def operator_env(values: tuple[Path, ...]) -> dict[str, str]:
    objects = helm.render(*values)
    (container,) = helm.one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert all("value" in e for e in container["env"]), "operator settings are plain values, never secret references"
    assert [s.keys() for s in container["envFrom"]] == [{"configMapRef"}], "the store settings' ConfigMap, no Secret"
    return helm.operator_env(objects)


@pytest.mark.parametrize("values", VALUES_CASES, ids=VALUES_IDS)
def test_every_variable_is_a_settings_field(values: tuple[Path, ...]):
    known = fields()
    unknown = sorted(set(operator_env(values)) - set(known))
    assert not unknown, f"not fields of modelyard.config.Settings: {unknown}"


@pytest.mark.parametrize("values", VALUES_CASES, ids=VALUES_IDS)
def test_settings_read_every_variable(values: tuple[Path, ...], monkeypatch: pytest.MonkeyPatch):
    import os

    for name in [n for n in os.environ if n.startswith("MODELYARD_")]:
        monkeypatch.delenv(name)
    env = operator_env(values)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    known = fields()
    for name, value in env.items():
        path, annotation = known[name]
        adapter = TypeAdapter(annotation)
        expected = adapter.validate_json(value) if value.startswith("[") else adapter.validate_strings(value)
        actual: Any = settings
        for attr in path:
            actual = getattr(actual, attr)
        assert actual == expected, f"{name}={value!r} read as {actual!r}"


def test_values_reach_the_settings_they_name(monkeypatch: pytest.MonkeyPatch):
    """A sample of values from a non-default file, end to end: values.yaml -> env -> Settings."""
    for name, value in operator_env((helm.CHART / "ci" / "all-profiles-values.yaml",)).items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.store_uri == "s3://ml-artifacts/modelyard"
    assert settings.store_secret_name == "obs-credentials"
    assert settings.image_pull_secrets == ["registry-credentials"]
    assert settings.resync_seconds == 15
    assert settings.s3.addressing_style == "virtual"
    assert settings.s3.ca_bundle == "/etc/modelyard/ca/bundle.pem"
    assert settings.s3.part_size_mib == 64
    assert settings.jobs.active_deadline_seconds == 7200
    assert settings.jobs.work_size_limit == "200Gi"
    assert settings.templates_dir == Path("/etc/modelyard/templates")
