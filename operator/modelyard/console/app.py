"""The console's Flask application: a route per page (each a few lines calling its page family's
builder in pages/), the JSON twin of every page (`Accept: application/json`, or `?format=json`),
error pages (not found, the cluster unreachable or refusing the console's identity, never a
stack trace) and the headers that keep a hostile name, label or message inert."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

import yaml
from flask import Flask, Response, current_app, g, jsonify, redirect, render_template, request
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from modelyard.console import links
from modelyard.console.pages import common
from modelyard.console.pages.compare import compare_page
from modelyard.console.pages.evaluations import evaluation_page
from modelyard.console.pages.jobs import jobs_page, object_page
from modelyard.console.pages.models import lineage_page, model_page, models_page
from modelyard.console.pages.training import training_page
from modelyard.console.pages.versions import version_page
from modelyard.console.reading import ClusterProblem, NotFound, Objects, Snapshot, StoreFiles

HERE = Path(__file__).parent
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
"""Scripts and styles only from the console's own static files: an injected <script> or style
attribute would not run even if escaping ever failed."""

log = logging.getLogger("modelyard.console")


def _snapshot() -> Snapshot:
    if "snapshot" not in g:
        g.snapshot = _console().objects.snapshot()
    return g.snapshot


class Console:
    """What the application serves: the objects and the store files its pages read."""

    def __init__(self, objects: Objects, store: StoreFiles, poll_seconds: float):
        self.objects, self.store, self.poll_seconds = objects, store, poll_seconds


def _console() -> Console:
    return current_app.extensions["modelyard-console"]


def wants_json() -> bool:
    if request.args.get("format") == "json":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def respond(page: common.Page, status: int = 200) -> Response:
    if wants_json():
        response = jsonify(page.data)
    else:
        pictures = {k: Markup(v) for k, v in page.pictures.items()}  # drawn by views/, every text escaped there
        response = Response(render_template(page.template, page=page, data=page.data, pictures=pictures))
    response.status_code = status
    return response


def _error_page(status: int, title: str, detail: str, kind: str) -> Response:
    page = common.Page("error.html", title, {"error": {"status": status, "title": title, "detail": detail, "kind": kind}})
    return respond(page, status)


def _filters(app: Flask) -> None:
    env = app.jinja_env
    env.filters["num"] = common.number
    env.filters["size"] = common.size
    env.filters["short"] = common.short_digest
    env.filters["toyaml"] = lambda value: yaml.safe_dump(value, sort_keys=False, allow_unicode=True).rstrip()
    env.filters["tojson_pretty"] = lambda value: json.dumps(value, indent=2, sort_keys=True)
    env.filters["pct"] = lambda value: "" if value is None else f"{value:.0f}%"
    env.filters["plain"] = _plain
    env.globals["links"] = links


def create_app(objects: Objects, store: StoreFiles | None = None, poll_seconds: float = 2.0) -> Flask:
    """The application over `objects` (local state or a cluster); `store` reads reports and
    curves (file:// and s3://)."""
    app = Flask("modelyard.console", template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"),
                static_url_path="/static")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["modelyard-console"] = Console(objects, store or StoreFiles(), poll_seconds)
    _filters(app)

    @app.context_processor
    def _common() -> dict[str, Any]:
        console = _console()
        return {"where": console.objects.where, "poll_seconds": console.poll_seconds,
                "now": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
                "json_href": _json_href()}

    def route(rule: str, build: Callable[..., common.Page], endpoint: str) -> None:
        def view(**params: str) -> Response:
            return respond(build(**params))

        app.add_url_rule(rule, endpoint, view, methods=["GET"])

    args = request_args
    route("/models", lambda: models_page(_snapshot(), args("q"), args("task"), args("phase"), args("page")), "models")
    route("/models/<namespace>/<name>", lambda namespace, name: model_page(
        _snapshot(), namespace, name, args("page"), args("q")), "model")
    route("/models/<namespace>/<name>/lineage", lambda namespace, name: lineage_page(_snapshot(), namespace, name), "lineage")
    route("/models/<namespace>/<name>/compare", lambda namespace, name: compare_page(
        _snapshot(), namespace, name, _chosen(), args("only") == "differences", args("metric")), "compare")
    route("/versions/<namespace>/<name>", lambda namespace, name: version_page(_snapshot(), namespace, name), "version")
    route("/evaluations/<namespace>/<name>", lambda namespace, name: evaluation_page(
        _snapshot(), _console().store, namespace, name), "evaluation")
    route("/trainings/<namespace>/<name>", lambda namespace, name: training_page(
        _snapshot(), _console().store, namespace, name), "training")
    route("/jobs", lambda: jobs_page(_snapshot(), args("page")), "jobs")
    route("/objects/<kind>/<namespace>/<name>", lambda kind, namespace, name: object_page(
        _snapshot(), kind, "" if namespace == links.CLUSTER_SCOPED else namespace, name), "object")

    @app.get("/")
    def _home() -> Any:
        return redirect(links.models(), code=302)

    @app.get("/healthz")
    def _health() -> Response:
        # alive and serving; whether the cluster answers is what each page says
        return Response("ok\n", mimetype="text/plain")

    @app.errorhandler(NotFound)
    def _not_found(error: NotFound) -> Response:
        return _error_page(404, "Not found", str(error), "NotFound")

    @app.errorhandler(ClusterProblem)
    def _cluster(error: ClusterProblem) -> Response:
        return _error_page(error.status, error.title, f"{error.detail} (reading {_console().objects.where})", "ClusterProblem")

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        if error.code == 404:
            return _error_page(404, "Not found", f"There is no page at {request.path}", "NotFound")
        if error.code == 405:
            return _error_page(405, "Read-only", "The console only reads: it changes nothing", "MethodNotAllowed")
        return _error_page(error.code or 500, error.name, error.description or "", type(error).__name__)

    @app.errorhandler(Exception)
    def _bug(error: Exception) -> Response:
        # the traceback goes to the console's log (never a request header), the page says only this
        log.exception("unexpected error on %s", request.path)
        return _error_page(500, "The console failed", f"{type(error).__name__} while building {request.path}; "
                           "its log has the details", "InternalError")

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Vary"] = "Accept"
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    return app


def _plain(value: Any) -> str:
    """A value as written in YAML: true/false, numbers in four digits, structures as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return "" if value is None else str(value)


def request_args(name: str) -> str:
    return request.args.get(name, "", type=str)


def _chosen() -> list[str]:
    """`?v=a&v=b` or `?v=a,b`."""
    return [name for value in request.args.getlist("v") for name in value.split(",") if name]


def _json_href() -> str:
    query = request.args.to_dict(flat=False)
    query["format"] = ["json"]
    return request.path + "?" + urlencode([(k, v) for k, values in query.items() for v in values])
