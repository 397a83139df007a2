"""`get`, `lineage` and `report`: the same output for local mode (`modelyard local ...`) and a
cluster (`modelyard ...`, through the kubeconfig)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from modelyard.views import lineage as lineage_view
from modelyard.views.objects import UnknownKind, resolve_kind
from modelyard.views.table import format_table, render


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def get(source: Any, args: argparse.Namespace, namespace: str | None) -> int:
    try:
        kind = resolve_kind(args.kind)
    except UnknownKind as error:
        return _fail(str(error))
    bodies = list(source.bodies(kind, namespace))
    if args.name:
        bodies = [b for b in bodies if b["metadata"]["name"] == args.name]
        if not bodies:
            return _fail(f'{kind} "{args.name}" not found' + (f" in namespace {namespace}" if namespace else ""))
    print(render(kind, bodies, args.output, single=bool(args.name)))
    return 0


def model_nodes(source: Any, model: str, namespace: str | None) -> dict[str, lineage_view.Node]:
    return lineage_view.build(model, list(source.bodies("ModelVersion", namespace)),
                              list(source.bodies("ConversionJob", namespace)), list(source.bodies("EvaluationJob", namespace)))


def write_lineage(model: str, nodes: dict[str, lineage_view.Node], out: Path) -> tuple[Path, Path]:
    """The picture (SVG) and the Mermaid text, side by side in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    picture, text = out / f"lineage-{model}.svg", out / f"lineage-{model}.mmd"
    picture.write_text(lineage_view.svg(model, nodes))
    text.write_text(lineage_view.mermaid(model, nodes))
    return picture, text


def lineage(source: Any, args: argparse.Namespace, namespace: str | None, default_out: Path) -> int:
    if not any(b["metadata"]["name"] == args.model for b in source.bodies("Model", namespace)):
        return _fail(f'Model "{args.model}" not found')
    nodes = model_nodes(source, args.model, namespace)
    print(lineage_view.text_tree(args.model, nodes))
    if args.format == "mermaid":
        print(lineage_view.mermaid(args.model, nodes), end="")
    picture, text = write_lineage(args.model, nodes, args.out or default_out)
    print(f"\npicture: {picture}\nmermaid: {text}")
    return 0


def report(source: Any, args: argparse.Namespace, namespace: str | None) -> int:
    import tempfile

    from modelyard.views.report import ReportMissing, fetch_report, summary
    from modelyard.views.store_access import StoreSettingsError, explain
    from modelyard.views.table import lookup

    found = [b for kind in ("EvaluationJob", "TrainingJob") for b in source.bodies(kind, namespace)
             if b["metadata"]["name"] == args.evaluation]
    if not found:
        return _fail(f'no EvaluationJob or TrainingJob "{args.evaluation}"')
    dest = args.out or Path("modelyard-reports") / args.evaluation
    in_s3 = str(lookup(found[0], ".status.reportUri") or "").startswith("s3://")
    with tempfile.TemporaryDirectory(prefix="modelyard-store-") as scratch:
        access = None
        try:
            access = _store_access(source, found[0], args, Path(scratch)) if in_s3 else None
            html = fetch_report(found[0], dest, access and access.settings, access and access.session)
        except StoreSettingsError as error:
            return _fail(f"store settings: {error}")
        except ReportMissing as error:
            if error.store_error is not None and access is not None:
                return _fail(explain(error.store_error, access))
            return _fail(str(error))
    print(summary(html))
    if args.open:
        import webbrowser

        webbrowser.open(html.resolve().as_uri())
    return 0


def _store_access(source: Any, job: dict[str, Any], args: argparse.Namespace, scratch: Path) -> Any:
    """How to read the store the job's report is in: on a cluster, with what the chart and the
    store Secret say where the user may read them (views/cluster_store.py); in local mode, from
    the shell and the Model's spec.storage."""
    import os

    from modelyard.views.store_access import StoreAccess, layered_settings
    from modelyard.views.table import lookup

    namespace = job["metadata"].get("namespace")
    version = lookup(job, ".spec.modelVersionRef.name")
    model = lookup(job, ".status.outputModel") or next(
        (lookup(v, ".spec.modelRef.name") for v in source.bodies("ModelVersion", namespace) if v["metadata"]["name"] == version), None)
    storage = next((lookup(m, ".spec.storage") for m in source.bodies("Model", namespace)
                    if m["metadata"]["name"] == model), None) or {}
    core = getattr(source, "core", None)
    if core is None:
        settings, sources = layered_settings(None, "", storage, f"Model {model}", os.environ)
        return StoreAccess(settings, None, sources, "your shell")
    from modelyard.views.cluster_store import NAMESPACE_VARIABLE, store_access

    store_namespace = getattr(args, "store_namespace", None) or os.environ.get(NAMESPACE_VARIABLE) or None
    return store_access(core, namespace or "default", storage, model, store_namespace, scratch)


def saved_template(source: Any, args: argparse.Namespace, namespace: str | None) -> dict[str, Any] | str:
    """The TrainingTemplate saved from `--from trainingjob/NAME`, or why it cannot be."""
    from modelyard.api.validation import ManifestError, parse_object
    from modelyard.core.trainingspec import resolve_spec, template_from_job

    kind, _, name = args.source.partition("/")
    if kind.lower() not in ("trainingjob", "trainingjobs", "trj") or not name:
        return f"--from must be trainingjob/NAME, not {args.source!r}"
    bodies = {b["metadata"]["name"]: b for b in source.bodies("TrainingJob", namespace)}
    if name not in bodies:
        return f"TrainingJob {name!r} not found"
    try:
        job = parse_object(bodies[name])
        template = None
        if job.spec.template_ref:
            templates = {b["metadata"]["name"]: b for b in source.bodies("TrainingTemplate", namespace)}
            if job.spec.template_ref.name not in templates:
                return f"TrainingJob {name!r} uses TrainingTemplate {job.spec.template_ref.name!r}, which does not exist"
            template = parse_object(templates[job.spec.template_ref.name])
    except ManifestError as error:
        return str(error)
    resolved, errors = resolve_spec(job, template)
    if errors:
        return "; ".join(errors)
    return template_from_job(job, resolved, args.name or f"{name}-template")


def template(source: Any, args: argparse.Namespace, namespace: str | None, store: Any = None) -> int:
    """`template save`: print the template (for Git or kubectl apply); `store(manifest)` keeps it."""
    made = saved_template(source, args, namespace)
    if isinstance(made, str):
        return _fail(made)
    if namespace is None:
        made["metadata"].pop("namespace", None)
    print(yaml.safe_dump(made, sort_keys=False), end="")
    if store is not None:
        store(made)
    return 0


def versions_summary(source: Any, namespace: str | None) -> str:
    """Every model's versions with their conversion and evaluation figures."""
    blocks = []
    for model in source.bodies("Model", namespace):
        name = model["metadata"]["name"]
        nodes = model_nodes(source, name, namespace)
        blocks.append(f"Model {name}: {(model.get('status') or {}).get('message', '')}\n"
                      + format_table(lineage_view.summary_rows(nodes)))
    return "\n\n".join(blocks)


def add_view_commands(sub: Any, with_source: Any) -> None:
    """`get`, `lineage`, `report` on a subparser group; `with_source(args)` adds what selects the
    objects (--home, or -n/--namespace)."""
    getter = sub.add_parser("get", help="list objects like kubectl get (printer columns, -o json|yaml)")
    getter.add_argument("kind", help="model, modelversion (mv), conversionjob (cvj), evaluationjob (evj), or plurals")
    getter.add_argument("name", nargs="?")
    getter.add_argument("-o", "--output", choices=("table", "wide", "json", "yaml"), default="table")
    with_source(getter, "get")

    tree = sub.add_parser("lineage", help="a model's version tree: printed, as Mermaid text and as an SVG picture")
    tree.add_argument("model")
    tree.add_argument("--out", type=Path, help="folder for lineage-<model>.svg and .mmd")
    tree.add_argument("--format", choices=("tree", "mermaid"), default="tree", help="also print Mermaid text")
    with_source(tree, "lineage")

    templates = sub.add_parser("template", help="TrainingTemplates: save one from a TrainingJob")
    saver = templates.add_subparsers(dest="template_command", required=True).add_parser(
        "save", help="print a TrainingTemplate holding a TrainingJob's resolved parameters (apply it, or commit it)")
    saver.add_argument("--from", dest="source", required=True, metavar="trainingjob/NAME")
    saver.add_argument("--name", help="the template's name (default NAME-template)")
    with_source(saver, "template")

    rep = sub.add_parser("report", help="fetch an EvaluationJob's or TrainingJob's report (HTML with plots) and summarise it")
    rep.add_argument("evaluation", metavar="NAME")
    rep.add_argument("--out", type=Path, help="folder to download the report into (default modelyard-reports/NAME)")
    rep.add_argument("--open", action="store_true", help="open report.html in a browser")
    with_source(rep, "report")
