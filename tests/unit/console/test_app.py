"""The application over HTTP (Flask's test client): every page's JSON twin, the error pages,
escaping of hostile text, and the headers and methods of a read-only console."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from modelyard.console.app import create_app
from modelyard.console.reading import ClusterObjects, ClusterProblem, explain_cluster_error
from tests.unit.console.world import HOSTILE, NS, Memory, hostile, world, write_curves, write_report

PAGES = [
    "/models", f"/models/{NS}/digits", f"/models/{NS}/digits/lineage", f"/models/{NS}/digits/compare",
    f"/models/{NS}/digits/compare?v=digits-1-0-0&v=digits-int8&only=differences", f"/versions/{NS}/digits-int8",
    f"/versions/{NS}/digits-fp16", f"/evaluations/{NS}/digits-int8-eval", f"/trainings/{NS}/digits-train",
    f"/trainings/{NS}/digits-broken", "/jobs", f"/objects/ConversionJob/{NS}/digits-int8", f"/models/{NS}/fresh",
]


@pytest.fixture
def objects(tmp_path: Path) -> dict:
    return world(report_uri=write_report(tmp_path / "report"), curves_uri=write_curves(tmp_path / "metrics.jsonl"))


def client(objects: dict | None = None, error: Exception | None = None):
    return create_app(Memory(objects, error)).test_client()


@pytest.mark.parametrize("url", PAGES)
def test_every_page_is_html_and_its_json_twin_has_the_same_data(objects: dict, url: str):
    app = client(objects)
    page = app.get(url)
    assert page.status_code == 200 and page.mimetype == "text/html"
    twin = app.get(url, headers={"Accept": "application/json"})
    assert twin.status_code == 200 and twin.mimetype == "application/json"
    assert twin.get_json() == app.get(url + ("&" if "?" in url else "?") + "format=json").get_json()
    assert page.headers["Vary"] == "Accept"


@pytest.mark.parametrize("url", PAGES)
def test_hostile_labels_annotations_and_messages_are_escaped_everywhere(objects: dict, url: str):
    page = client(hostile(objects)).get(url)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert HOSTILE not in text, f"unescaped markup on {url}"
    if "/compare" not in url and "/lineage" not in url:  # pages that show messages or labels
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    # the JSON twin carries the text as data, served as JSON (never rendered as HTML)
    twin = client(hostile(objects)).get(url, headers={"Accept": "application/json"})
    assert twin.mimetype == "application/json"


def test_pages_allow_no_inline_script_or_style(objects: dict):
    page = client(objects).get(f"/versions/{NS}/digits-int8")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp
    text = page.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", text) and " style=" not in text
    assert page.headers["X-Content-Type-Options"] == "nosniff" and page.headers["X-Frame-Options"] == "DENY"


def test_an_unknown_object_or_page_is_a_404_that_names_it(objects: dict):
    app = client(objects)
    missing = app.get(f"/evaluations/{NS}/ghost")
    assert missing.status_code == 404 and 'EvaluationJob &#34;ghost&#34; not found in namespace ml' in missing.get_data(as_text=True)
    twin = app.get(f"/evaluations/{NS}/ghost", headers={"Accept": "application/json"})
    assert twin.status_code == 404 and twin.get_json()["error"]["detail"] == 'EvaluationJob "ghost" not found in namespace ml'
    assert app.get("/no/such/page").status_code == 404
    assert app.get("/objects/Secret/ml/x").status_code == 404


def test_the_console_only_reads(objects: dict):
    app = client(objects)
    for method in (app.post, app.put, app.delete, app.patch):
        reply = method(f"/models/{NS}/digits")
        assert reply.status_code == 405 and "only reads" in reply.get_data(as_text=True)
    assert app.get("/").status_code == 302 and app.get("/healthz").get_data(as_text=True) == "ok\n"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_cluster_is_a_page_that_says_so_not_a_trace():
    from kubernetes import client as k8s

    configuration = k8s.Configuration(host=f"http://127.0.0.1:{_closed_port()}")
    app = create_app(ClusterObjects(["ml"], k8s.ApiClient(configuration))).test_client()
    reply = app.get("/models")
    text = reply.get_data(as_text=True)
    assert reply.status_code == 503 and "The cluster is unreachable" in text
    assert "Connection refused" in text and "Traceback" not in text
    assert app.get("/jobs", headers={"Accept": "application/json"}).get_json()["error"]["kind"] == "ClusterProblem"


def test_a_refused_identity_is_a_page_that_names_what_was_refused():
    from kubernetes.client.exceptions import ApiException

    refusal = ApiException(status=403, reason="Forbidden")
    refusal.body = ('{"kind":"Status","message":"modelversions.modelyard.dev is forbidden: User '
                    '\\"system:serviceaccount:modelyard-system:modelyard-console\\" cannot list resource"}')
    problem = explain_cluster_error(refusal, "https://10.0.0.1", "ModelVersion")
    assert isinstance(problem, ClusterProblem) and problem.status == 502
    reply = client(error=problem).get(f"/models/{NS}/digits")
    text = reply.get_data(as_text=True)
    assert reply.status_code == 502 and "refused the console&#39;s identity" in text
    assert "system:serviceaccount:modelyard-system:modelyard-console" in text and "cannot list resource" in text
    unauthorized = explain_cluster_error(ApiException(status=401, reason="Unauthorized"), "https://10.0.0.1", "Model")
    assert unauthorized is not None and "not accepted" in unauthorized.detail
    missing_crds = explain_cluster_error(ApiException(status=404, reason="Not Found"), "https://10.0.0.1", "Model")
    assert missing_crds is not None and "models.modelyard.dev" in missing_crds.detail


def test_a_bug_is_a_500_page_without_a_trace(objects: dict, caplog: pytest.LogCaptureFixture):
    reply = client(error=ZeroDivisionError("boom")).get("/models", headers={"Authorization": "Bearer secret-token"})
    text = reply.get_data(as_text=True)
    assert reply.status_code == 500 and "ZeroDivisionError" in text and "Traceback" not in text
    assert "secret-token" not in caplog.text  # the log has the traceback, never a request header
