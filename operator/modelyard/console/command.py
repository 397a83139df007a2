"""`modelyard console` (a cluster, through the kubeconfig or the in-cluster ServiceAccount) and
`modelyard local console` (local mode's state): the arguments, and what is said when the console
cannot start. Flask and waitress are imported only here and in the app: they come with the
`console` extra, not with the operator."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

DEFAULT_PORT = 8090
EXTRA = "pip install 'modelyard[console]'"


def add_console_command(sub: Any, local: bool) -> None:
    what = "local mode's state (.modelyard/)" if local else "the cluster (kubeconfig, or the in-cluster ServiceAccount)"
    parser = sub.add_parser("console", help=f"a read-only web console over {what}")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT}; 0: any free one)")
    parser.add_argument("--address", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 in a pod)")
    if local:
        from modelyard.cli_local import DEFAULT_HOME

        parser.add_argument("--home", type=Path, default=DEFAULT_HOME, help="state and the default store (default ./.modelyard)")
    else:
        parser.add_argument("-n", "--namespace", action="append", dest="namespaces", metavar="NAMESPACE",
                            help="a namespace to show (repeatable; default: the kubeconfig context's)")
        parser.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace (needs a ClusterRole)")
    parser.set_defaults(run=lambda args: run(args, local))


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def run(args: argparse.Namespace, local: bool) -> int:
    try:
        import flask  # noqa: F401
        import waitress  # noqa: F401
    except ImportError as error:
        return _fail(f"the console needs {error.name}: {EXTRA}")
    from modelyard.console.app import create_app
    from modelyard.console.serve import serve

    objects: Any
    if local:
        from modelyard.console.reading import LocalObjects

        if not (args.home / "state").is_dir():
            return _fail(f"no local state in {args.home}: run `modelyard local apply -f ...` first, or pass --home")
        objects = LocalObjects(args.home)
    else:
        from kubernetes.config import ConfigException

        from modelyard.console.reading import ClusterObjects
        from modelyard.views.objects import current_namespace

        namespaces = None if args.all_namespaces else (args.namespaces or [current_namespace()])
        try:
            objects = ClusterObjects(namespaces)
        except ConfigException as error:
            return _fail(f"no cluster to read: no kubeconfig ($KUBECONFIG, ~/.kube/config) and not in a pod ({error})")
    return serve(create_app(objects), args.address, args.port)
