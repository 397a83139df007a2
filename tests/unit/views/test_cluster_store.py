"""`modelyard report` on a cluster reads the chart's store settings and the store Secret where
the user may, and takes the shell's own credentials first."""

from __future__ import annotations

import base64
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest
from kubernetes.client.exceptions import ApiException

from modelyard.storage.base import StoreError
from modelyard.views import cluster_store
from modelyard.views.cluster_store import store_access
from modelyard.views.report import ReportMissing, fetch_report
from modelyard.views.store_access import explain
from tests.support.s3server import ACCESS_KEY, SECRET_KEY

LABELS = {"modelyard.dev/settings": "store"}


class FakeCore:
    """ConfigMaps and Secrets by (namespace, name); `forbidden` holds the calls RBAC refuses."""

    def __init__(self, config_maps=None, secrets=None, forbidden=()):
        self.config_maps, self.secrets, self.forbidden = config_maps or {}, secrets or {}, set(forbidden)
        self.calls: list[str] = []

    def _check(self, call: str, namespace: str | None = None) -> None:
        self.calls.append(f"{call} {namespace or ''}".strip())
        if call in self.forbidden or (call, namespace) in self.forbidden:
            raise ApiException(status=403, reason="Forbidden")

    def _map(self, namespace: str, name: str) -> SimpleNamespace:
        labels, data = self.config_maps[(namespace, name)]
        return SimpleNamespace(metadata=SimpleNamespace(namespace=namespace, name=name, labels=labels), data=data)

    def list_namespaced_config_map(self, namespace, label_selector):
        self._check("list", namespace)
        return SimpleNamespace(items=[self._map(ns, n) for ns, n in self.config_maps
                                      if ns == namespace and self.config_maps[(ns, n)][0] == LABELS])

    def list_config_map_for_all_namespaces(self, label_selector):
        self._check("list-all")
        return SimpleNamespace(items=[self._map(ns, n) for ns, n in self.config_maps if self.config_maps[(ns, n)][0] == LABELS])

    def read_namespaced_config_map(self, name, namespace):
        self._check("get", namespace)
        if (namespace, name) not in self.config_maps:
            raise ApiException(status=404, reason="Not Found")
        return self._map(namespace, name)

    def read_namespaced_secret(self, name, namespace):
        self._check("get-secret", namespace)
        if (namespace, name) not in self.secrets:
            raise ApiException(status=404, reason="Not Found")
        data = {k: base64.b64encode(v.encode()).decode() for k, v in self.secrets[(namespace, name)].items()}
        return SimpleNamespace(data=data)


@pytest.fixture
def bare_shell(monkeypatch, tmp_path):
    """A shell with no AWS credentials and no store settings (and no instance role to ask)."""
    import os

    for name in [n for n in os.environ if n.startswith(("AWS_", "MODELYARD_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def chart_settings(endpoint: str) -> dict[str, str]:
    return {"MODELYARD_S3_ENDPOINT": endpoint, "MODELYARD_S3_ADDRESSING_STYLE": "path",
            "MODELYARD_S3_REGION": "us-east-1", "MODELYARD_S3_MAX_ATTEMPTS": "1",
            "MODELYARD_STORE_SECRET_NAME": "model-store-credentials"}


CREDENTIALS = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}


def test_a_report_is_read_with_the_charts_settings_and_the_store_secret(bare_shell, s3_server, tmp_path: Path):
    client = boto3.client("s3", endpoint_url=s3_server.endpoint, aws_access_key_id=ACCESS_KEY,
                          aws_secret_access_key=SECRET_KEY, region_name="us-east-1")
    client.create_bucket(Bucket="reports")
    client.put_object(Bucket="reports", Key="ml/eval/report.json", Body=b'{"passed": true}')
    core = FakeCore({("modelyard-system", "modelyard-store"): (LABELS, chart_settings(s3_server.endpoint))},
                    {("ml", "model-store-credentials"): CREDENTIALS})
    access = store_access(core, "ml", None, "digits", None, tmp_path)
    assert access.credentials == "Secret ml/model-store-credentials"
    assert access.sources["endpoint"] == "ConfigMap modelyard-system/modelyard-store"
    assert SECRET_KEY not in repr(access.settings) + explain(StoreError("NoCredentials", "x"), access)
    job = {"metadata": {"name": "eval"}, "status": {"reportUri": "s3://reports/ml/eval/"}}
    html = fetch_report(job, tmp_path / "out", access.settings, access.session)
    assert (html.parent / "report.json").read_text() == '{"passed": true}'


def test_a_user_who_may_not_list_gets_the_settings_by_name(bare_shell, tmp_path: Path):
    core = FakeCore({("modelyard-system", "modelyard-store"): (LABELS, chart_settings("http://minio:9000"))},
                    forbidden={"list", "list-all", "get-secret"})
    access = store_access(core, "ml", None, "digits", None, tmp_path)
    assert access.settings.endpoint == "http://minio:9000"
    assert access.credentials is None
    assert access.looked == ("Secret ml/model-store-credentials: forbidden to you",
                             "Secret modelyard-system/model-store-credentials: forbidden to you")


def test_settings_are_found_by_label_in_another_release_namespace(bare_shell, tmp_path: Path):
    core = FakeCore({("ops", "models-modelyard-store"): (LABELS, chart_settings("http://rgw:8080")),
                     ("ops", "unrelated"): ({}, {"MODELYARD_S3_ENDPOINT": "http://wrong"})})
    access = store_access(core, "ml", None, "digits", None, tmp_path)
    assert access.sources["endpoint"] == "ConfigMap ops/models-modelyard-store"
    assert core.calls[:2] == ["list modelyard-system", "list-all"]
    explicit = store_access(FakeCore(), "ml", None, "digits", "elsewhere", tmp_path)
    assert explicit.settings.endpoint is None
    assert "ConfigMap labelled modelyard.dev/settings=store in elsewhere: none" in explicit.looked


def test_the_shells_credentials_come_first(bare_shell, monkeypatch, tmp_path: Path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "mine")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "my-secret")
    core = FakeCore({("modelyard-system", "modelyard-store"): (LABELS, chart_settings("http://minio:9000"))},
                    {("ml", "model-store-credentials"): CREDENTIALS})
    access = store_access(core, "ml", None, "digits", None, tmp_path)
    assert access.session is None and access.credentials == "your shell"
    assert not [c for c in core.calls if c.startswith("get-secret")], "no Secret is read when the shell has credentials"


def test_the_models_own_secret_and_the_charts_ca_bundle(bare_shell, tmp_path: Path):
    settings = {**chart_settings("https://minio:9000"), "MODELYARD_STORE_CA_CONFIGMAP": "corporate-ca",
                "MODELYARD_STORE_CA_KEY": "bundle.pem"}
    core = FakeCore({("modelyard-system", "modelyard-store"): (LABELS, settings),
                     ("ml", "corporate-ca"): ({}, {"bundle.pem": "-----BEGIN CERTIFICATE-----\n"})},
                    {("modelyard-system", "team-keys"): CREDENTIALS})
    access = store_access(core, "ml", {"secretRef": {"name": "team-keys"}}, "digits", None, tmp_path)
    assert access.credentials == "Secret modelyard-system/team-keys"
    assert Path(access.settings.ca_bundle).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert Path(access.settings.ca_bundle).parent == tmp_path


def test_without_anything_the_message_asks_the_shell(bare_shell, tmp_path: Path):
    core = FakeCore(forbidden={"list", "list-all", "get"})
    access = store_access(core, "ml", None, "digits", None, tmp_path)
    job = {"metadata": {"name": "eval"}, "status": {"reportUri": "s3://reports/ml/eval/"}}
    with pytest.raises(ReportMissing) as caught:
        fetch_report(job, tmp_path / "out", access.settings, access.session)
    text = explain(caught.value.store_error, access)
    assert "no credentials found" in text and "IRSA" not in text
    assert "ConfigMap modelyard-system/modelyard-store: forbidden to you" in text
    assert "MODELYARD_S3_ENDPOINT" in text and "AWS_ACCESS_KEY_ID" in text and "--store-namespace" in text
    assert cluster_store.RELEASE_NAMESPACE == "modelyard-system"
