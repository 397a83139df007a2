"""What `modelyard report` uses to reach the store, and what it says when it cannot: advice
for the user's shell, not the worker's."""

from __future__ import annotations

import pytest

from modelyard.storage.base import StoreError
from modelyard.storage.s3errors import translate
from modelyard.views.store_access import SHELL, StoreAccess, StoreSettingsError, explain, layered_settings

CHART = {"MODELYARD_STORE_URI": "s3://models/modelyard", "MODELYARD_S3_ENDPOINT": "http://minio.minio.svc:9000",
         "MODELYARD_S3_ADDRESSING_STYLE": "path", "MODELYARD_S3_CA_BUNDLE": "/etc/modelyard/ca/ca.crt",
         "MODELYARD_S3_MAX_ATTEMPTS": "2", "MODELYARD_STORE_SECRET_NAME": "model-store-credentials"}
WHERE = "ConfigMap modelyard-system/modelyard-store"


def test_the_charts_settings_apply_and_the_operators_own_paths_do_not():
    settings, sources = layered_settings(CHART, WHERE, None, "Model m", {})
    assert settings.endpoint == "http://minio.minio.svc:9000" and settings.addressing_style == "path"
    assert settings.max_attempts == 2 and sources["endpoint"] == WHERE
    assert settings.ca_bundle is None, "a path inside the operator's pod means nothing in a shell"


def test_the_model_overrides_the_chart_and_the_shell_overrides_both():
    storage = {"uri": "s3://own", "endpoint": "http://rgw.ceph:8080", "region": "eu-west-1"}
    settings, sources = layered_settings(CHART, WHERE, storage, "Model m", {})
    assert (settings.endpoint, settings.region, sources["endpoint"]) == ("http://rgw.ceph:8080", "eu-west-1", "Model m")
    shell = {"MODELYARD_S3_ENDPOINT": "https://minio.example.com", "MODELYARD_S3_ADDRESSING_STYLE": "",
             "AWS_ACCESS_KEY_ID": "not a setting"}
    settings, sources = layered_settings(CHART, WHERE, storage, "Model m", shell)
    assert settings.endpoint == "https://minio.example.com" and sources["endpoint"] == SHELL
    assert settings.addressing_style == "path", "an empty variable is unset, as in the chart"


def test_a_bad_setting_names_its_variable_and_where_it_came_from():
    with pytest.raises(StoreSettingsError, match=f"MODELYARD_S3_ADDRESSING_STYLE from {WHERE}"):
        layered_settings({**CHART, "MODELYARD_S3_ADDRESSING_STYLE": "sideways"}, WHERE, None, "Model m", {})


def _access(**kw) -> StoreAccess:
    settings, sources = layered_settings(kw.pop("chart", None), WHERE, None, "Model m", {})
    return StoreAccess(settings, None, sources, **kw)


def test_no_credentials_says_what_to_set_in_the_shell_not_what_the_worker_needs():
    error = translate(__import__("botocore.exceptions").exceptions.NoCredentialsError(),
                      endpoint="AWS default", bucket="models", key="k/report.json", action="read")
    assert "IRSA" in error.message, "the worker's own message is unchanged"
    text = explain(error, _access(looked=("ConfigMap modelyard-system/modelyard-store: forbidden to you",)))
    assert text.startswith("cannot read s3://models/k/report.json (endpoint AWS default): no credentials found")
    assert "IRSA" not in text and "storage.secretRef" not in text
    for needed in ("MODELYARD_S3_ENDPOINT", "MODELYARD_S3_ADDRESSING_STYLE=path", "AWS_ACCESS_KEY_ID",
                   "--store-namespace", "forbidden to you", "credentials: none in your shell"):
        assert needed in text, needed


def test_an_unreachable_endpoint_names_where_the_endpoint_came_from():
    error = StoreError("EndpointUnreachable", "cannot read s3://models/r (endpoint http://minio.minio.svc:9000): "
                       "endpoint unreachable after retries", "check the endpoint URL, DNS and network policy")
    text = explain(error, _access(chart=CHART, credentials="Secret ml/model-store-credentials"))
    assert f"endpoint http://minio.minio.svc:9000 (from {WHERE})" in text
    assert "MODELYARD_S3_ENDPOINT (the store's URL as your machine reaches it)" in text
    assert "--store-namespace" not in text, "the chart's settings were read"


def test_rejected_credentials_say_where_they_came_from():
    error = StoreError("InvalidCredentials", "cannot read s3://models/r (endpoint e): the store rejected the "
                       "credentials (InvalidAccessKeyId)", "check the secret referenced by storage.secretRef")
    text = explain(error, _access(chart=CHART, credentials="Secret ml/model-store-credentials"))
    assert "credentials: from Secret ml/model-store-credentials" in text and "AWS_PROFILE" in text
    assert "storage.secretRef" not in text


def test_a_missing_report_is_said_as_it_is():
    error = StoreError("NotFound", "cannot read s3://models/r/report.json (endpoint e): no such object")
    assert explain(error, _access(chart=CHART)) == error.message
