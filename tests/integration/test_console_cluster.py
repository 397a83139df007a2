"""`modelyard console` on the real control plane, holding the token of the chart's console
ServiceAccount (its RBAC rendered from the chart with console.enabled and applied as helm would):
every page of the quickstart's objects is served (reports and curves read from S3), a write
through that identity is refused, and an identity without the RBAC gets a page that says so."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from modelyard.api import GROUP, VERSION
from tests.support import helm
from tests.support.console import serve
from tests.support.controlplane import RELEASE_NAMESPACE, Namespace, service_account_kubeconfig
from tests.support.s3server import ACCESS_KEY, SECRET_KEY

pytestmark = pytest.mark.integration

CONSOLE_SA = "modelyard-console"


def _install_console_rbac(ns: Namespace) -> None:
    rendered = helm.render(sets=("console.enabled=true",))
    wanted = [o for o in rendered if o["metadata"]["name"] == CONSOLE_SA
              and o["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")]
    assert len(wanted) == 3
    ns.cp.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(wanted))


@pytest.fixture(scope="module")
def console_kubeconfig(quickstart: Namespace, tmp_path_factory: pytest.TempPathFactory) -> Path:
    _install_console_rbac(quickstart)
    return service_account_kubeconfig(quickstart.cp, tmp_path_factory.mktemp("console") / "kubeconfig",
                                      RELEASE_NAMESPACE, CONSOLE_SA)


@pytest.fixture(scope="module")
def console(quickstart: Namespace, console_kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # as the chart's pod has it: the token, the store's settings, and credentials for reports
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path_factory.mktemp("home")),
           "KUBECONFIG": str(console_kubeconfig), "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
           "AWS_DEFAULT_REGION": "us-east-1", "MODELYARD_S3_ENDPOINT": quickstart.kube.s3_endpoint,
           "MODELYARD_S3_ADDRESSING_STYLE": "path"}

    def nothing_secret(errors: str) -> None:
        assert SECRET_KEY not in errors and "token" not in errors.lower(), errors

    with serve([sys.executable, "-m", "modelyard", "console", "--all-namespaces", "--port", "0"], env,
               nothing_secret) as base:
        yield base


def _get(url: str, json_twin: bool = False) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Accept": "application/json"} if json_twin else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_console_service_account_serves_every_page(console: str, quickstart: Namespace):
    ns = quickstart.name
    status, body = _get(f"{console}/models", json_twin=True)
    assert status == 200, body
    models = {(m["namespace"], m["name"]): m for m in json.loads(body)["models"]}
    digits = models[(ns, "digits")]
    assert digits["latestReady"]["name"] and digits["latestVerdict"]["verdict"] == "passed"
    pages = {
        f"/models/{ns}/digits": "digits-onnx-cpu",
        f"/models/{ns}/digits/compare": "Compare versions of digits",
        f"/versions/{ns}/digits-onnx-cpu": "top-1 agreement",
        f"/evaluations/{ns}/digits-onnx-cpu-eval": "Confusion matrix of digits-onnx-cpu-eval",  # report.json from S3
        f"/trainings/{ns}/digits-train": "<svg",  # curves from S3
        "/jobs": "Failures",
    }
    for path, expected in pages.items():
        status, body = _get(console + path)
        assert status == 200 and expected in body, f"{path}: {status}\n{body[:2000]}"
    status, body = _get(f"{console}/versions/{ns}/nosuch")
    assert status == 404 and f"ModelVersion &#34;nosuch&#34; not found in namespace {ns}" in body


def test_a_write_through_the_console_identity_is_refused(console_kubeconfig: Path, quickstart: Namespace):
    api = config.new_client_from_config(str(console_kubeconfig))
    custom = client.CustomObjectsApi(api)
    assert custom.list_namespaced_custom_object(GROUP, VERSION, quickstart.name, "models")["items"]
    model = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Model", "metadata": {"name": "from-the-console"},
             "spec": {"task": "image-classification"}}
    attempts = {
        "create": lambda: custom.create_namespaced_custom_object(GROUP, VERSION, quickstart.name, "models", model),
        "patch": lambda: custom.patch_namespaced_custom_object(GROUP, VERSION, quickstart.name, "models", "digits",
                                                               {"metadata": {"labels": {"x": "y"}}}),
        "delete": lambda: custom.delete_namespaced_custom_object(GROUP, VERSION, quickstart.name, "modelversions",
                                                                 "digits-onnx-cpu"),
        "read secrets": lambda: client.CoreV1Api(api).list_namespaced_secret(quickstart.name),
    }
    for what, attempt in attempts.items():
        with pytest.raises(ApiException) as refused:
            attempt()
        assert refused.value.status == 403, what
    assert quickstart.read("modelversions", "digits-onnx-cpu") is not None


def test_an_identity_without_the_rbac_gets_a_page_that_says_so(quickstart: Namespace, tmp_path: Path):
    from modelyard.console.app import create_app
    from modelyard.console.reading import ClusterObjects

    # the worker ServiceAccount: no RBAC binds it
    kubeconfig = service_account_kubeconfig(quickstart.cp, tmp_path / "worker", quickstart.name, "modelyard-worker")
    app = create_app(ClusterObjects([quickstart.name], config.new_client_from_config(str(kubeconfig)))).test_client()
    reply = app.get("/models")
    text = reply.get_data(as_text=True)
    assert reply.status_code == 502 and "refused the console&#39;s identity" in text
    assert f"system:serviceaccount:{quickstart.name}:modelyard-worker" in text and "cannot list resource" in text
    assert "Traceback" not in text
