"""`python -m modelyard.worker COMMAND`: what the import, conversion and evaluation Jobs run.

Input is the object (ModelVersion, ConversionJob, EvaluationJob) as JSON or YAML, from
`--object FILE` or the `MODELYARD_OBJECT` environment variable; the store comes from
`--store` or `MODELYARD_STORE_URI` and its S3 settings from `MODELYARD_S3_*`. The result is
printed as the last line of stdout and written to the termination-message path; the exit code
is 0 on success, 1 on a failure the user can fix, 2 on an internal error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

import yaml

from modelyard.workloads.image_source import MOUNT

log = logging.getLogger("modelyard.worker")


def _object(args: argparse.Namespace) -> dict[str, Any]:
    if args.object:
        return yaml.safe_load(Path(args.object).read_text())
    inline = os.environ.get("MODELYARD_OBJECT")
    if not inline:
        raise SystemExit("modelyard.worker: give --object FILE or set MODELYARD_OBJECT")
    return json.loads(inline)


def _progress_logger() -> Any:
    state = {"bytes": 0, "next": 0}

    def progress(n: int) -> None:
        state["bytes"] += n
        if state["bytes"] >= state["next"]:
            log.info("transferred %d MiB", state["bytes"] // (1024 * 1024))
            state["next"] += 64 * 1024 * 1024

    return progress


def _import(args: argparse.Namespace) -> dict[str, Any]:
    from modelyard.api.validation import parse_object
    from modelyard.storage import open_store
    from modelyard.worker.importer import ImportJob, run_import

    obj = parse_object(_object(args))
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        job = ImportJob(
            namespace=obj.namespace,
            name=obj.name,
            spec=obj.spec,
            store=open_store(args.store),
            workdir=Path(workdir),
            image_root=Path(args.image_root),
            template_dir=Path(args.template_dir) if args.template_dir else None,
            progress=_progress_logger(),
        )
        return run_import(job)


def _delete(args: argparse.Namespace) -> dict[str, Any]:
    from modelyard.api.validation import parse_object
    from modelyard.storage import open_store
    from modelyard.storage.layout import delete_version, version_prefix

    obj = parse_object(_object(args))
    store = open_store(args.store)
    prefix = version_prefix(obj.namespace, obj.spec.model_ref.name, obj.spec.version)
    count = delete_version(store, prefix)
    return {"ok": True, "kind": "delete", "phase": "Succeeded", "reason": "ArtifactsDeleted",
            "message": f"deleted {count} object(s) under {store.describe(prefix)}/"}


def _related(args: argparse.Namespace, flag: str, env: str) -> Any:
    """Another object the worker needs (the operator passes it; workers never call the API)."""
    from modelyard.api.validation import parse_object

    path = getattr(args, flag)
    if path:
        return parse_object(yaml.safe_load(Path(path).read_text()))
    inline = os.environ.get(env)
    return parse_object(json.loads(inline)) if inline else None


def _convert(args: argparse.Namespace) -> dict[str, Any]:
    from modelyard.api.validation import parse_object
    from modelyard.storage import open_store
    from modelyard.worker.convert import ConvertJob, run_convert

    obj = parse_object(_object(args))
    source = _related(args, "source_version", "MODELYARD_SOURCE_VERSION")
    if source is None:
        raise SystemExit("modelyard.worker convert: give --source-version FILE or set MODELYARD_SOURCE_VERSION")
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        job = ConvertJob(namespace=obj.namespace, name=obj.name, spec=obj.spec, source=source,
                         store=open_store(args.store), workdir=Path(workdir), progress=_stage_logger())
        return run_convert(job)


def _evaluate(args: argparse.Namespace) -> dict[str, Any]:
    from modelyard.api.validation import parse_object
    from modelyard.storage import open_store
    from modelyard.worker.evaluate import EvaluateJob, run_evaluate

    obj = parse_object(_object(args))
    version = _related(args, "model_version", "MODELYARD_MODEL_VERSION")
    if version is None:
        raise SystemExit("modelyard.worker evaluate: give --model-version FILE or set MODELYARD_MODEL_VERSION")
    baseline = _related(args, "baseline_version", "MODELYARD_BASELINE_VERSION")
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        job = EvaluateJob(namespace=obj.namespace, name=obj.name, spec=obj.spec, version=version,
                          baseline=baseline, store=open_store(args.store), workdir=Path(workdir),
                          progress=_stage_logger())
        return run_evaluate(job)


def _train(args: argparse.Namespace) -> dict[str, Any]:
    from modelyard.storage import open_store
    from modelyard.worker.train.run import TrainJob, run_train

    # The operator validated the TrainingJob and resolved it into the plan; only its name is
    # read here, so the API models load while the code runs (run_train's warm-up), not before.
    metadata = _object(args).get("metadata") or {}
    namespace, name = metadata.get("namespace"), metadata.get("name")
    if not namespace or not name:
        raise SystemExit("modelyard.worker train: the TrainingJob object needs metadata.name and metadata.namespace")
    plan = json.loads(Path(args.plan).read_text()) if args.plan else json.loads(os.environ.get("MODELYARD_TRAINING_PLAN") or "null")
    if not plan:
        raise SystemExit("modelyard.worker train: give --plan FILE or set MODELYARD_TRAINING_PLAN")
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        job = TrainJob(namespace=namespace, name=name, plan=plan, store=open_store(args.store),
                       workdir=Path(workdir), hardware=plan.get("hardware", "cpu"),
                       template_dir=Path(args.template_dir) if args.template_dir else None)
        return run_train(job)


def _serve(args: argparse.Namespace) -> dict[str, Any]:
    from modelyard.api.validation import parse_object
    from modelyard.storage import open_store
    from modelyard.worker.serve.server import ServeJob, run_serve

    version = parse_object(_object(args))
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        job = ServeJob(namespace=version.namespace, version=version, store=open_store(args.store), workdir=Path(workdir),
                       model_name=args.model_name or version.spec.model_ref.name, host=args.host,
                       http_port=args.http_port, grpc_port=args.grpc_port,
                       threads=args.threads or len(os.sched_getaffinity(0)), device=args.device)
        return run_serve(job)


def _parity(args: argparse.Namespace) -> dict[str, Any]:
    from modelyard.api.validation import parse_object
    from modelyard.storage import open_store
    from modelyard.worker.serve.parity import ParityJob, run_parity

    version = parse_object(_object(args))
    if not args.endpoint:
        raise SystemExit("modelyard.worker parity: give at least one --endpoint grpc://HOST:PORT or http://HOST:PORT")
    job = ParityJob(namespace=version.namespace, version=version, store=open_store(args.store), endpoints=args.endpoint,
                    model_name=args.model_name or version.spec.model_ref.name, metrics=args.metrics,
                    max_error_rate=args.max_error_rate)
    return run_parity(job)


STAGE = ["start"]
"""The stage the worker is in (fetch, load, export, optimise, quantize, verify, benchmark, upload):
a failure says where it happened."""


def _stage_logger() -> Any:
    def progress(stage: str) -> None:
        STAGE[0] = stage
        log.info("%s", stage)

    return progress


def _where_the_log_is() -> str:
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return f"kubectl logs {os.environ.get('HOSTNAME', '<the worker pod>')} -c worker"
    return "the job's worker.log (modelyard local logs)"


def _publish(args: argparse.Namespace) -> dict[str, Any]:
    from modelyard.storage import open_store
    from modelyard.worker.oci.publish_job import run_publish

    target = os.environ.get("MODELYARD_PUBLISH_TARGET")
    if not target:
        raise SystemExit("modelyard.worker publish: set MODELYARD_PUBLISH_TARGET to registry/repository:tag")
    return run_publish(_object(args), target, open_store(args.store))


COMMANDS = {"import": _import, "convert": _convert, "evaluate": _evaluate, "delete": _delete, "train": _train,
            "serve": _serve, "parity": _parity, "publish": _publish}


def failure(kind: str, reason: str, message: str) -> dict[str, Any]:
    return {"ok": False, "kind": kind, "phase": "Failed", "reason": reason, "message": message}


def classify(error: BaseException) -> tuple[str, str] | None:
    """(reason, message) for errors a user can act on; None for internal errors."""
    from modelyard.api.validation import ManifestError
    from modelyard.storage.base import StoreError
    from modelyard.worker.archive import ArchiveError
    from modelyard.worker.errors import WorkerError

    if isinstance(error, (StoreError, WorkerError)):
        return error.reason, str(error)
    if isinstance(error, ArchiveError):
        return "UnsafeArchive", str(error)
    if isinstance(error, ManifestError):
        return "InvalidSpec", str(error)
    try:
        from modelyard.templates import TemplateError
        from modelyard.worker.inspect import InspectionError, SignatureMismatch, UnsafeModelError
    except ImportError:
        return None
    if isinstance(error, UnsafeModelError):
        return "UnsafeModel", str(error)
    if isinstance(error, SignatureMismatch):
        return "SignatureMismatch", str(error)
    if isinstance(error, InspectionError):
        return "InvalidModel", str(error)
    if isinstance(error, TemplateError):
        return "InvalidTemplate", str(error)
    return None


def main(argv: list[str] | None = None) -> int:
    from modelyard.worker.result import finite, write_termination_message

    parser = argparse.ArgumentParser(prog="python -m modelyard.worker")
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("--object", help="the object as a JSON/YAML file (else $MODELYARD_OBJECT)")
    parser.add_argument("--source-version", help="convert: the source ModelVersion (else $MODELYARD_SOURCE_VERSION)")
    parser.add_argument("--model-version", help="evaluate: the ModelVersion (else $MODELYARD_MODEL_VERSION)")
    parser.add_argument("--baseline-version", help="evaluate: the baseline ModelVersion (else $MODELYARD_BASELINE_VERSION)")
    parser.add_argument("--plan", help="train: the training plan as JSON (else $MODELYARD_TRAINING_PLAN)")
    parser.add_argument("--store", default=os.environ.get("MODELYARD_STORE_URI"), help="store URI")
    parser.add_argument("--workdir", default=os.environ.get("MODELYARD_WORKDIR"), help="scratch folder")
    parser.add_argument("--image-root", default=os.environ.get("MODELYARD_IMAGE_ROOT", MOUNT))
    parser.add_argument("--template-dir", default=os.environ.get("MODELYARD_TEMPLATE_DIR"))
    parser.add_argument("--model-name", help="serve/parity: the served model's name (default: spec.modelRef.name)")
    parser.add_argument("--http-port", type=int, default=8080, help="serve: the REST port (OIP and /metrics)")
    parser.add_argument("--grpc-port", type=int, default=8081, help="serve: the gRPC port (OIP)")
    parser.add_argument("--host", default=os.environ.get("MODELYARD_SERVE_HOST") or "0.0.0.0",
                        help="serve: the address to listen on (else $MODELYARD_SERVE_HOST, else 0.0.0.0)")
    parser.add_argument("--threads", type=int, default=0, help="serve: the runtime's threads (default: the CPUs given)")
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="serve: where the model runs")
    parser.add_argument("--endpoint", action="append", default=[],
                        help="parity: grpc://HOST:PORT or http://HOST:PORT of a replica (repeat for each)")
    parser.add_argument("--metrics", action="append", default=[],
                        help="parity: a replica's /metrics URL whose error rate is judged too (repeat for each)")
    parser.add_argument("--max-error-rate", type=float, default=0.01,
                        help="parity: the largest fraction of failed requests a replica may have served")
    parser.add_argument(
        "--termination-log",
        default=os.environ.get("MODELYARD_TERMINATION_LOG", "/dev/termination-log"),
    )
    args = parser.parse_args(argv)
    # Libraries (onnxscript, the quantizer) log chatty INFO lines: only their warnings show.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("modelyard").setLevel(logging.INFO)
    if not args.store:
        parser.error("give --store URI or set MODELYARD_STORE_URI")
    code = 0
    STAGE[0] = "start"
    try:
        result = COMMANDS[args.command](args)
    except Exception as error:  # noqa: BLE001 - every failure must become a result
        known = classify(error)
        stage = STAGE[0]
        if known is None:
            traceback.print_exc()
            text = " ".join(str(error).split())[:400]
            message = (f"an unexpected {type(error).__name__} during {stage}: {text or '(no message)'}; this is a "
                       f"Modelyard defect or a model it does not handle yet: the traceback is in {_where_the_log_is()}")
            result, code = failure(args.command, "InternalError", message), 2
        else:
            reason, message = known
            result, code = failure(args.command, reason, message if message.startswith(f"{stage}: ") or stage == "start"
                                   else f"{stage}: {message}"), 1
        result["stage"] = stage
        log.error("%s failed: %s", args.command, result["message"])
    write_termination_message(Path(args.termination_log), result)
    print(json.dumps(finite(result), separators=(",", ":"), sort_keys=True, allow_nan=False))
    return code


if __name__ == "__main__":
    from modelyard.exits import exit_now

    exit_now(main())
