"""run_serve: a stored ModelVersion served until SIGTERM.

Both listeners start first (liveness answers during a long download); the version is then
downloaded with every file's sha256 checked against its manifest, loaded by the backend of its
format and run once on a sample: only then is it ready. Any failure before that ends the process
with a clear result and a non-zero exit; the server never reports ready on an unverified file."""

from __future__ import annotations

import asyncio
import io
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.api.modelversion import ModelVersion
from modelyard.storage.base import Store
from modelyard.worker.convert.parity_samples import FILE as PARITY_FILE
from modelyard.worker.serve import artifact as artifacts
from modelyard.worker.serve.backends import Backend, open_backend
from modelyard.worker.serve.errors import ServeError
from modelyard.worker.serve.metrics import Metrics
from modelyard.worker.serve.model import ServedModel
from modelyard.worker.serve.tensors import DTYPES, Tensor, from_signature

log = logging.getLogger("modelyard.worker.serve")
STOP_GRACE_S = 5.0
DYNAMIC_WARMUP = 8
"""Size of a dynamic axis other than the first in a warm-up without recorded samples."""


@dataclass
class ServeJob:
    namespace: str
    version: ModelVersion
    store: Store
    workdir: Path
    model_name: str
    host: str = "0.0.0.0"
    http_port: int = 8080
    grpc_port: int = 8081
    threads: int = 1
    device: str = "cpu"


def run_serve(job: ServeJob) -> dict[str, Any]:
    """Serve until SIGTERM/SIGINT; returns the result of a clean stop, raises on a failed start."""
    return asyncio.run(_serve(job))


async def _serve(job: ServeJob) -> dict[str, Any]:
    from aiohttp import web

    from modelyard.worker.serve.rest import make_app
    from modelyard.worker.serve.rpc import make_server

    model = ServedModel(job.model_name, job.version.spec.version, Metrics())
    workers = max(4, job.threads)
    executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rest")
    grpc_server = make_server(model, f"{job.host}:{job.grpc_port}", workers)
    runner = web.AppRunner(make_app(model, executor), access_log=None, handle_signals=False)
    await runner.setup()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await web.TCPSite(runner, job.host, job.http_port).start()
        except OSError as error:
            raise ServeError("PortUnavailable", f"HTTP cannot listen on {job.host}:{job.http_port}: {error}") from None
        grpc_server.start()
        loading = loop.run_in_executor(None, _load, job, model)
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait([loading, stopping], return_when=asyncio.FIRST_COMPLETED)
        if not loading.done():
            stopping.cancel()
            return _stopped(job, "stopped before the model was ready")
        loading.result()  # raises the load's failure
        http = f"http://{job.host}:{job.http_port}"
        log.info("ready: model %s version %s (%s, %s) at %s/v2/models/%s and grpc://%s:%d; metrics at %s/metrics",
                 model.name, model.version, job.version.spec.format, model.backend.description, http, model.name,
                 job.host, job.grpc_port, http)
        await stopping
        return _stopped(job, f"served model {model.name} version {model.version} until stopped")
    finally:
        model.unload()
        grpc_server.stop(STOP_GRACE_S).wait()
        await runner.cleanup()
        executor.shutdown(wait=False, cancel_futures=True)


def _load(job: ServeJob, model: ServedModel) -> None:
    folder = job.workdir / "model"
    log.info("fetching version %s", job.version.metadata.name)
    found = artifacts.fetch(job.store, job.namespace, job.version, folder)
    log.info("all %d file(s) match their sha256 in the manifest (version digest %s)", len(found.manifest.files),
             found.digest)
    signature = artifacts.signature_of(job.version, found.manifest)
    backend = open_backend(job.version.spec.format, found.model, job.device, job.threads, signature)
    inputs, outputs = from_signature(signature) if signature else (backend.inputs, backend.outputs)
    sample = _warmup_sample(found.root / PARITY_FILE, inputs)
    try:
        backend.predict(sample)
    except Exception as error:  # noqa: BLE001 - the runtime's own words explain it
        shapes = ", ".join(f"{n}{list(a.shape)}" for n, a in sample.items())
        raise ServeError("WarmupFailed", f"the model loaded but failed its warm-up inference at {shapes}: "
                         f"{' '.join(str(error).split())[:600]}") from None
    model.loaded(backend, inputs, outputs)


def _warmup_sample(parity: Path, inputs: list[Tensor]) -> dict[str, np.ndarray]:
    """The first recorded conversion sample when the version has them, else zeros (first dynamic
    axis 1, others DYNAMIC_WARMUP)."""
    if parity.is_file():
        with np.load(io.BytesIO(parity.read_bytes()), allow_pickle=False) as npz:
            if all(f"input:{t.name}" in npz.files for t in inputs):
                return {t.name: npz[f"input:{t.name}"][0] for t in inputs}
    sample = {}
    for tensor in inputs:
        dynamic = [i for i, d in enumerate(tensor.shape) if d == -1]
        shape = [(1 if i == dynamic[0] else DYNAMIC_WARMUP) if d == -1 else d for i, d in enumerate(tensor.shape)]
        sample[tensor.name] = np.zeros(shape, dtype=DTYPES.get(tensor.datatype, "float32"))
    return sample


def _stopped(job: ServeJob, message: str) -> dict[str, Any]:
    return {"ok": True, "kind": "serve", "phase": "Succeeded", "reason": "Stopped", "message": message,
            "model": job.model_name, "version": job.version.spec.version}


__all__ = ["Backend", "ServeJob", "run_serve"]
