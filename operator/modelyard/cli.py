"""The `modelyard` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from modelyard import __version__


def _validate(args: argparse.Namespace) -> int:
    from modelyard.api.validation import ManifestError, parse_manifest
    from modelyard.manifests import ManifestFileError, load

    try:
        docs = load(args.paths)
    except ManifestFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    failures = 0
    for doc in docs:
        if not doc.is_modelyard:
            kind = doc.body.get("kind", "?") if isinstance(doc.body, dict) else "?"
            print(f"skipped  {doc.where}: {kind} is not a modelyard.dev kind")
            continue
        try:
            resource = parse_manifest(doc.body)
        except ManifestError as error:
            failures += 1
            print(f"invalid  {doc.where}: {error}")
            continue
        print(f"valid    {doc.where}: {resource.kind}/{resource.name}")
    print(f"{len(docs)} documents, {failures} invalid")
    return 1 if failures else 0


def _crds(args: argparse.Namespace) -> int:
    from modelyard.api.crd import crd_files

    out: Path = args.out
    stale = []
    for name, text in crd_files().items():
        target = out / name
        if args.check:
            if not target.is_file() or target.read_text() != text:
                stale.append(str(target))
        else:
            out.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            print(f"wrote {target}")
    if stale:
        print("out of date (run `modelyard crds --out crds/`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


def _operator(args: argparse.Namespace) -> int:
    from modelyard.main import main as run

    run()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="modelyard", description="AI model management on Kubernetes, or on one machine."
    )
    parser.add_argument("--version", action="version", version=f"modelyard {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    validate = sub.add_parser(
        "validate", help="check manifests exactly as the CRDs would (no cluster needed)"
    )
    validate.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    validate.set_defaults(run=_validate)

    crds = sub.add_parser("crds", help="generate the CustomResourceDefinitions from the API models")
    crds.add_argument("--out", type=Path, default=Path("crds"), help="output folder (default: crds)")
    crds.add_argument("--check", action="store_true", help="fail when the files differ instead of writing")
    crds.set_defaults(run=_crds)

    operator = sub.add_parser("operator", help="run the operator (in the cluster, or against your kubeconfig)")
    operator.set_defaults(run=_operator)

    from modelyard.cli_local import add_local_commands
    from modelyard.cli_views import add_view_commands
    from modelyard.console.command import add_console_command

    add_local_commands(sub)
    add_view_commands(sub, _with_cluster)
    add_console_command(sub, local=False)
    from modelyard.cli_publish import add_publish_command

    add_publish_command(sub, local=False)
    return parser


def _with_cluster(parser: argparse.ArgumentParser, view: str) -> None:
    """Cluster views read through the kubeconfig, in its namespace unless told otherwise."""
    from modelyard import cli_views

    parser.add_argument("-n", "--namespace", help="namespace (default: the kubeconfig context's)")
    parser.add_argument("-A", "--all-namespaces", action="store_true")
    if view == "report":
        parser.add_argument(
            "--store-namespace", metavar="NAMESPACE",
            help="where the chart is installed, to read its store settings (default: $MODELYARD_STORE_NAMESPACE, "
                 "else modelyard-system, else wherever you may list them)")

    def run(args: argparse.Namespace) -> int:
        from modelyard.views.objects import ClusterSource, current_namespace

        namespace = None if args.all_namespaces else (args.namespace or current_namespace())
        source = ClusterSource()
        if view == "get":
            return cli_views.get(source, args, namespace)
        if view == "lineage":
            return cli_views.lineage(source, args, namespace, Path("."))
        if view == "template":
            return cli_views.template(source, args, namespace)
        return cli_views.report(source, args, namespace)

    parser.set_defaults(run=run)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


def entry() -> None:
    """The `modelyard` command: main, then the process ends as soon as its output is out (every
    file is closed by then; see exits.exit_now)."""
    from modelyard.exits import exit_now

    exit_now(main())


if __name__ == "__main__":
    entry()
