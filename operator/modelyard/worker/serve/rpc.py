"""The Open Inference Protocol over gRPC: tritonclient's `GRPCInferenceService` (the KServe v2
service plus Triton's extensions, of which the health, metadata and inference calls are served)
on grpcio. Tensors arrive as `raw_input_contents` (what tritonclient sends) or typed contents."""

from __future__ import annotations

from typing import Any

import grpc
import numpy as np
from tritonclient.grpc import service_pb2 as pb
from tritonclient.grpc import service_pb2_grpc

from modelyard.worker.serve.errors import BadRequest, NotFound, ServeError, Unavailable
from modelyard.worker.serve.model import InferenceFailed, ServedModel
from modelyard.worker.serve.tensors import datatype_of, decode, from_list

CODES = {BadRequest: grpc.StatusCode.INVALID_ARGUMENT, NotFound: grpc.StatusCode.NOT_FOUND,
         Unavailable: grpc.StatusCode.UNAVAILABLE, InferenceFailed: grpc.StatusCode.INTERNAL}
CONTENTS = {"BOOL": "bool_contents", "INT8": "int_contents", "INT16": "int_contents", "INT32": "int_contents",
            "INT64": "int64_contents", "UINT8": "uint_contents", "UINT16": "uint_contents", "UINT32": "uint_contents",
            "UINT64": "uint64_contents", "FP32": "fp32_contents", "FP64": "fp64_contents"}
"""OIP datatype -> the InferTensorContents field that holds it typed (FP16 travels raw only)."""
MESSAGE_LIMIT = 2**31 - 1
OPTIONS = [("grpc.max_receive_message_length", MESSAGE_LIMIT), ("grpc.max_send_message_length", MESSAGE_LIMIT)]


class InferenceService(service_pb2_grpc.GRPCInferenceServiceServicer):
    def __init__(self, model: ServedModel):
        self.model = model

    def ServerLive(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 - the protocol's names
        return pb.ServerLiveResponse(live=True)

    def ServerReady(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return pb.ServerReadyResponse(ready=self.model.ready)

    def ModelReady(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return pb.ModelReadyResponse(ready=self.model.is_ready(request.name, request.version))

    def ServerMetadata(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        return pb.ServerMetadataResponse(**self.model.server_metadata())

    def ModelMetadata(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        with _status(context):
            self.model.find(request.name, request.version)
            body = self.model.metadata()
            tensors = {k: [pb.ModelMetadataResponse.TensorMetadata(**t) for t in body[k]] for k in ("inputs", "outputs")}
            return pb.ModelMetadataResponse(name=body["name"], versions=body["versions"], platform=body["platform"],
                                            **tensors)

    def ModelInfer(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        with _status(context):
            self.model.find(request.model_name, request.model_version)
            outputs = self.model.infer(_inputs(request), [o.name for o in request.outputs] or None, "grpc")
            response = pb.ModelInferResponse(model_name=self.model.name, model_version=self.model.version,
                                             id=request.id)
            for name, array in outputs.items():
                response.outputs.add(name=name, datatype=datatype_of(array), shape=list(array.shape))
                response.raw_output_contents.append(np.ascontiguousarray(array).tobytes())
            return response


def _inputs(request: Any) -> dict[str, np.ndarray]:
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise BadRequest(f"{len(raw)} raw_input_contents for {len(request.inputs)} inputs")
    feed = {}
    for i, item in enumerate(request.inputs):
        shape = list(item.shape)
        if raw:
            feed[item.name] = decode(item.name, item.datatype, shape, raw[i])
        else:
            field = CONTENTS.get(item.datatype)
            if field is None:
                raise BadRequest(f"input {item.name}: datatype {item.datatype} travels only in raw_input_contents")
            feed[item.name] = from_list(item.name, item.datatype, shape, list(getattr(item.contents, field)))
    return feed


class _status:
    """Protocol errors become the gRPC status the protocol gives them, with the message."""

    def __init__(self, context: grpc.ServicerContext):
        self.context = context

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, error: BaseException | None, _: Any) -> bool:
        if kind is not None and kind in CODES:
            self.context.abort(CODES[kind], str(error))
        return False


def make_server(model: ServedModel, address: str, workers: int) -> grpc.Server:
    from concurrent.futures import ThreadPoolExecutor

    server = grpc.server(ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"), options=OPTIONS)
    service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(InferenceService(model), server)
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as error:
        bound, reason = 0, f": {error}"
    else:
        reason = ""
    if not bound:
        raise ServeError("PortUnavailable", f"gRPC cannot listen on {address}{reason}; is the port in use?")
    return server
