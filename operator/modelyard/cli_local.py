"""`modelyard local ...`: the whole pipeline on one machine from the same manifests."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any, Iterator

from modelyard import cli_views
from modelyard.manifests import Document

DEFAULT_HOME = Path(".modelyard")


def _mode(args: argparse.Namespace, quiet: bool = False) -> Any:
    from modelyard.local.console import ConsoleReporter
    from modelyard.local.engine import LocalMode

    reporter = ConsoleReporter(verbose=getattr(args, "verbose", False)) if not quiet else None
    return LocalMode(args.home, reporter=reporter)


def _report_outcomes(mode: Any, outcomes: list[Any]) -> int:
    failed = [o for o in outcomes if not o.ok]
    print()
    print(cli_views.versions_summary(mode.cluster, None))
    reports = [(b["metadata"]["name"], (b.get("status") or {}).get("reportUri"))
               for kind in ("TrainingJob", "EvaluationJob") for b in mode.cluster.bodies(kind)]
    reports = [(n, u) for n, u in reports if u]
    if reports:
        print("\nreports:")
        for name, uri in reports:
            print(f"  {name}: {uri.removeprefix('file://')}report.html")
    models = [b["metadata"]["name"] for b in mode.cluster.bodies("Model")]
    if models:
        print("\nlineage:")
        for model in models:
            picture, text = cli_views.write_lineage(model, cli_views.model_nodes(mode.cluster, model, None), mode.home)
            print(f"  {model}: {picture} (Mermaid: {text.name})")
    served = [(b["metadata"]["name"], (b.get("status") or {}).get("url")) for b in mode.cluster.bodies("ModelDeployment")]
    served = [(n, u) for n, u in served if u]
    if served:
        print("\ndeployments (a server process each; `modelyard local delete mdep NAME` stops it):")
        for name, url in served:
            print(f"  {name}: {url}")
    if failed:
        print(f"\n{len(failed)} of {len(outcomes)} objects did not succeed:", file=sys.stderr)
        for outcome in failed:
            state = "gates failed" if outcome.passed is False else outcome.phase
            print(f"  {outcome.kind}/{outcome.name} {state}: {outcome.message}", file=sys.stderr)
        return 1
    print(f"\nall {len(outcomes)} objects succeeded")
    return 0


def apply(args: argparse.Namespace) -> int:
    from modelyard.local.engine import NotSettling
    from modelyard.manifests import ManifestFileError, load

    try:
        docs = load(args.filename)
    except ManifestFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if not docs:
        print("error: no objects passed to apply", file=sys.stderr)
        return 1
    mode = _mode(args)
    with _exclusive(mode) as busy:
        if busy:
            return busy
        admission = mode.admit(docs)
        for what, verb in admission.applied:
            print(f"{what.lower().replace('/', '.modelyard.dev/', 1)} {verb}")
        for where, message in admission.rejected:
            print(f"error: {where}: {message}", file=sys.stderr)
        try:
            outcomes = mode.run()
        except KeyboardInterrupt:
            print("\ninterrupted: what finished is recorded; apply again to go on", file=sys.stderr)
            return 130
        except NotSettling as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        code = _report_outcomes(mode, outcomes)
    return 1 if admission.rejected else code


@contextlib.contextmanager
def _exclusive(mode: Any) -> Iterator[int]:
    """One `local apply` or `local delete` at a time per home (yields 1 when another holds it);
    the engine lets go of the lock while a worker runs (see local.state.StateLock)."""
    from modelyard.local.state import StateLock

    lock = StateLock(mode.cluster.root)
    try:
        if not lock.try_acquire():
            print(f"error: another modelyard local command is working in {mode.home}; wait for it to finish "
                  "(it lets go while a Job's worker runs)", file=sys.stderr)
            yield 1
            return
        mode.state_lock = lock
        yield 0
    finally:
        mode.state_lock = None
        lock.close()


def delete(args: argparse.Namespace) -> int:
    from modelyard.views.objects import UnknownKind, resolve_kind

    try:
        kind = resolve_kind(args.kind)
    except UnknownKind as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    mode = _mode(args)
    with _exclusive(mode) as busy:
        if busy:
            return busy
        if not mode.delete(kind, args.name, args.namespace):
            print(f'error: {kind} "{args.name}" not found in namespace {args.namespace}', file=sys.stderr)
            return 1
        mode.run()
        gone = mode.cluster.read(kind, args.namespace, args.name) is None
    print(f'{kind.lower()}.modelyard.dev "{args.name}" {"deleted" if gone else "is being deleted"}')
    return 0 if gone else 1


def _save_template(mode: Any, args: argparse.Namespace) -> int:
    def store(manifest: dict[str, Any]) -> None:
        admission = mode.admit([Document(source=Path("template save"), index=0, body=manifest)])
        for where, message in admission.rejected:
            print(f"error: {where}: {message}", file=sys.stderr)

    return cli_views.template(mode.cluster, args, None, store if args.apply else None)


def tensorboard_command(mode: Any, names: list[str], port: int, cache: Path) -> list[str] | str:
    """The TensorBoard command over the named TrainingJobs' stored event files (copied from an S3
    store into `cache` first), or why there is none."""
    from modelyard.storage.open import open_store

    specs = []
    for name in names:
        body = mode.cluster.read("TrainingJob", "default", name)
        if body is None:
            return f"TrainingJob {name!r} not found"
        logdir = (body.get("status") or {}).get("tensorboardLogdir")
        if not logdir:
            return f"TrainingJob {name!r} has no TensorBoard files: set spec.tensorboard.enabled and train again"
        if logdir.startswith("file://"):
            specs.append(f"{name}:{logdir.removeprefix('file://').rstrip('/')}")
            continue
        store = open_store(logdir)
        target = cache / name
        for key in store.list(""):
            path = target / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(store.get_bytes(key))
        specs.append(f"{name}:{target}")
    executable = Path(sys.executable).with_name("tensorboard")
    return [str(executable), "--logdir_spec", ",".join(specs), "--port", str(port), "--host", "127.0.0.1"]


def _tensorboard(args: argparse.Namespace) -> int:
    mode = _mode(args, quiet=True)
    command = tensorboard_command(mode, args.names, args.port, mode.home / "tensorboard")
    if isinstance(command, str):
        print(f"error: {command}", file=sys.stderr)
        return 1
    print(" ".join(command))
    if args.print_command:
        return 0
    import subprocess

    return subprocess.call(command)


def serve(args: argparse.Namespace) -> int:
    """Run a ModelDeployment's serving variant's server in the foreground until Ctrl-C."""
    import os
    import subprocess

    from modelyard.local import servers
    from modelyard.workloads.serving import server_name

    mode = _mode(args, quiet=True)
    body = mode.cluster.read("ModelDeployment", args.namespace, args.name)
    if body is None:
        print(f'error: ModelDeployment "{args.name}" not found in namespace {args.namespace}', file=sys.stderr)
        return 1
    status = body.get("status") or {}
    variant = (status.get("serving") or {}).get("variant") or (status.get("candidate") or {}).get("variant")
    deployment = mode.cluster.read("Deployment", args.namespace, server_name(mode.cluster.get(
        "ModelDeployment", args.namespace, args.name), variant)) if variant else None
    if deployment is None:
        print(f"error: ModelDeployment {args.name} serves nothing yet ({status.get('message') or 'not reconciled'}); "
              "run `modelyard local apply` first", file=sys.stderr)
        return 1
    try:
        process = servers.server_process(deployment, mode.home, args.http_port or servers.free_port(),
                                         args.grpc_port or servers.free_port())
    except servers.ServerRunError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    process.workdir.mkdir(parents=True, exist_ok=True)
    print(f"serving {variant} of {args.name}: {process.url} (gRPC 127.0.0.1:{process.grpc_port}); Ctrl-C stops it",
          flush=True)
    server = subprocess.Popen(process.argv, env={**os.environ, **process.env}, cwd=process.workdir)
    try:
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        try:
            server.wait(timeout=servers.STOP_SECONDS)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        return 130


def add_local_commands(sub: Any) -> None:
    local = sub.add_parser("local", help="run manifests on this machine, no cluster needed")
    commands = local.add_subparsers(dest="local_command", required=True)

    def with_home(parser: argparse.ArgumentParser, view: str | None = None) -> None:
        parser.add_argument("--home", type=Path, default=DEFAULT_HOME,
                            help="state and the default store (default ./.modelyard)")
        if view == "get":
            parser.set_defaults(run=lambda a: cli_views.get(_mode(a, quiet=True).cluster, a, None))
        elif view == "lineage":
            parser.set_defaults(run=lambda a: cli_views.lineage(_mode(a, quiet=True).cluster, a, None, a.home))
        elif view == "report":
            parser.set_defaults(run=lambda a: cli_views.report(_mode(a, quiet=True).cluster, a, None))
        elif view == "template":
            parser.add_argument("--apply", action="store_true", help="also store the template in local mode")
            parser.set_defaults(run=lambda a: _save_template(_mode(a, quiet=True), a))

    applier = commands.add_parser("apply", help="validate manifests as the CRDs do and drive them to completion")
    applier.add_argument("-f", "--filename", type=Path, action="append", required=True,
                         help="file or folder of manifests (repeatable)")
    applier.add_argument("-v", "--verbose", action="store_true", help="show every worker log line")
    with_home(applier)
    applier.set_defaults(run=apply)

    board = commands.add_parser("tensorboard", help="serve TrainingJobs' TensorBoard files from the store")
    board.add_argument("names", nargs="+", metavar="TRAININGJOB")
    board.add_argument("--port", type=int, default=6006)
    board.add_argument("--print-command", action="store_true", help="print the command instead of running it")
    with_home(board)
    board.set_defaults(run=_tensorboard)

    deleter = commands.add_parser("delete", help="delete an object; stored artifacts follow the Model's retention")
    deleter.add_argument("kind")
    deleter.add_argument("name")
    deleter.add_argument("-n", "--namespace", default="default", help="the object's namespace (default: default)")
    with_home(deleter)
    deleter.set_defaults(run=delete)

    server = commands.add_parser("serve", help="run a ModelDeployment's server in the foreground (Ctrl-C stops it)")
    server.add_argument("name", metavar="MODELDEPLOYMENT")
    server.add_argument("-n", "--namespace", default="default", help="its namespace (default: default)")
    server.add_argument("--http-port", type=int, default=0, help="REST port (default: a free one)")
    server.add_argument("--grpc-port", type=int, default=0, help="gRPC port (default: a free one)")
    with_home(server)
    server.set_defaults(run=serve)

    cli_views.add_view_commands(commands, with_home)

    from modelyard.console.command import add_console_command

    add_console_command(commands, local=True)

    from modelyard.cli_publish import add_publish_command

    add_publish_command(commands, local=True)
