"""The Open Inference Protocol over HTTP (aiohttp): health, metadata, inference with JSON
tensors or the binary tensor extension tritonclient uses by default (a JSON header of
`Inference-Header-Content-Length` bytes followed by the raw tensors), and `/metrics`."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import Executor
from typing import Any

import numpy as np
from aiohttp import web

from modelyard.worker.serve.errors import BadRequest, NotFound, Unavailable
from modelyard.worker.serve.metrics import CONTENT_TYPE
from modelyard.worker.serve.model import InferenceFailed, ServedModel
from modelyard.worker.serve.tensors import datatype_of, decode, from_list

HEADER_LENGTH = "Inference-Header-Content-Length"
MAX_BODY = 2 * 1024**3
STATUS = {BadRequest: 400, NotFound: 404, Unavailable: 503, InferenceFailed: 500}


def make_app(model: ServedModel, executor: Executor) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[_errors])

    async def server_metadata(_: web.Request) -> web.Response:
        return web.json_response(model.server_metadata())

    async def live(_: web.Request) -> web.Response:
        return web.json_response({"live": True})

    async def ready(_: web.Request) -> web.Response:
        return web.json_response({"ready": model.ready}, status=200 if model.ready else 503)

    async def model_metadata(request: web.Request) -> web.Response:
        model.find(request.match_info["name"], request.match_info.get("version"))
        return web.json_response(model.metadata())

    async def model_ready(request: web.Request) -> web.Response:
        model.find(request.match_info["name"], request.match_info.get("version"))
        return web.json_response({"name": model.name, "ready": model.ready}, status=200 if model.ready else 503)

    async def infer(request: web.Request) -> web.Response:
        model.find(request.match_info["name"], request.match_info.get("version"))
        body = await request.read()
        header, feed, requested, binary_out = parse(body, request.headers.get(HEADER_LENGTH))
        loop = asyncio.get_running_loop()
        outputs = await loop.run_in_executor(executor, model.infer, feed, requested, "rest")
        return respond(model, header.get("id"), outputs, binary_out)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=model.metrics.text(), headers={"Content-Type": CONTENT_TYPE})

    for prefix in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        app.router.add_get(prefix, model_metadata)
        app.router.add_get(f"{prefix}/ready", model_ready)
        app.router.add_post(f"{prefix}/infer", infer)
    app.router.add_get("/v2", server_metadata)
    app.router.add_get("/v2/health/live", live)
    app.router.add_get("/v2/health/ready", ready)
    app.router.add_get("/metrics", metrics)
    return app


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Protocol errors as `{"error": message}` with the status the protocol gives them."""
    try:
        return await handler(request)
    except tuple(STATUS) as error:
        return web.json_response({"error": str(error)}, status=STATUS[type(error)])


def parse(body: bytes, header_length: str | None) -> tuple[dict, dict[str, np.ndarray], list[str] | None, dict[str, bool]]:
    """(header, inputs, requested output names or None for all, output name -> binary?)."""
    try:
        size = int(header_length) if header_length else len(body)
        header = json.loads(body[:size])
    except ValueError as error:
        raise BadRequest(f"the request is not a JSON inference request: {error}") from None
    if not isinstance(header, dict) or not isinstance(header.get("inputs"), list):
        raise BadRequest("the request needs an `inputs` list")
    binary = memoryview(body)[size:]
    feed: dict[str, np.ndarray] = {}
    offset = 0
    for item in header["inputs"]:
        name, datatype, shape = _describe(item)
        length = (item.get("parameters") or {}).get("binary_data_size")
        if length is not None:
            if offset + int(length) > len(binary):
                raise BadRequest(f"input {name}: binary_data_size {length} runs past the end of the request")
            feed[name] = decode(name, datatype, shape, binary[offset:offset + int(length)])
            offset += int(length)
        elif "data" in item:
            feed[name] = from_list(name, datatype, shape, item["data"])
        else:
            raise BadRequest(f"input {name} has neither `data` nor parameters.binary_data_size")
    default_binary = bool((header.get("parameters") or {}).get("binary_data_output", False))
    wanted = header.get("outputs")
    if not wanted:
        return header, feed, None, {"*": default_binary}
    binary_out = {o["name"]: bool((o.get("parameters") or {}).get("binary_data", default_binary)) for o in wanted}
    return header, feed, [o["name"] for o in wanted], binary_out


def _describe(item: Any) -> tuple[str, str, list[int]]:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        raise BadRequest("every input needs a name, a datatype and a shape")
    name = item["name"]
    try:
        shape = [int(d) for d in item["shape"]]
        datatype = str(item["datatype"])
    except (KeyError, TypeError, ValueError):
        raise BadRequest(f"input {name} needs a datatype and a shape (a list of integers)") from None
    return name, datatype, shape


def respond(model: ServedModel, request_id: str | None, outputs: dict[str, np.ndarray],
            binary_out: dict[str, bool]) -> web.Response:
    header: dict[str, Any] = {"model_name": model.name, "model_version": model.version, "outputs": []}
    if request_id:
        header["id"] = request_id
    chunks = []
    for name, array in outputs.items():
        entry: dict[str, Any] = {"name": name, "datatype": datatype_of(array), "shape": list(array.shape)}
        if binary_out.get(name, binary_out.get("*", False)):
            data = np.ascontiguousarray(array).tobytes()
            entry["parameters"] = {"binary_data_size": len(data)}
            chunks.append(data)
        else:
            entry["data"] = array.ravel().tolist()
        header["outputs"].append(entry)
    text = json.dumps(header).encode()
    if not chunks:
        return web.Response(body=text, content_type="application/json")
    return web.Response(body=b"".join([text, *chunks]), headers={HEADER_LENGTH: str(len(text)),
                                                                 "Content-Type": "application/octet-stream"})
