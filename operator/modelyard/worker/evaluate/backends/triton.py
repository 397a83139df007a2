"""A model already served by Triton or KServe, called over the KServe v2 inference protocol.

tritonclient speaks it over http (`tritonclient.http`) or grpc (`tritonclient.grpc`, needs
grpcio). The server's model metadata gives the inputs; tensors travel in the binary extension
over http unless the server rejects it, then as JSON. Latency is measured as the client sees
it (network included): the model is evaluated as served.
"""

from __future__ import annotations

from urllib.parse import urlparse

import numpy as np

from modelyard.worker.evaluate.backends.base import Backend
from modelyard.worker.evaluate.errors import EvaluationError
from modelyard.worker.evaluate.tensors import V2_OF_NUMPY, from_v2


def _client_module(protocol: str):  # noqa: ANN202 - a module
    try:
        if protocol == "grpc":
            import tritonclient.grpc as client
        else:
            import tritonclient.http as client
    except (ImportError, RuntimeError) as error:  # tritonclient.grpc raises RuntimeError without grpcio
        raise EvaluationError("BackendUnavailable", f"backend triton over {protocol} needs tritonclient[{protocol}] "
                              f"in the worker image ({error})") from None
    return client


class TritonBackend(Backend):
    def __init__(self, url: str, model: str, protocol: str = "http", timeout_s: float = 60.0):
        from tritonclient.utils import InferenceServerException

        self._api = _client_module(protocol)
        self._error = InferenceServerException
        parsed = urlparse(url if "://" in url else f"http://{url}")
        host = parsed.netloc or parsed.path
        self._where = f"{protocol} server {url}"
        options = {"ssl": parsed.scheme == "https"}
        if protocol == "http":
            options.update(connection_timeout=timeout_s, network_timeout=timeout_s)
        self._client = self._api.InferenceServerClient(url=host, **options)
        self._model = model
        self._binary = True
        try:
            live = self._client.is_server_live()
        except Exception as error:  # noqa: BLE001 - connection errors come as many types
            raise EvaluationError("BackendUnreachable", f"{self._where} cannot be reached: {error}; check "
                                  "backend.url and that the server runs") from None
        if not live:
            raise EvaluationError("BackendUnreachable", f"{self._where} answers but is not live")
        if not self._ready():
            raise EvaluationError("ModelNotServed", f"{self._where} does not serve a ready model named {model!r}"
                                  f"{self._known_models()}; check backend.modelName")
        metadata = self._client.get_model_metadata(model)
        if not isinstance(metadata, dict):
            from google.protobuf.json_format import MessageToDict

            metadata = MessageToDict(metadata, preserving_proto_field_name=True)
        self.inputs = from_v2(metadata.get("inputs", []))
        self.outputs = from_v2(metadata.get("outputs", []))
        self.description = f"KServe v2 ({protocol}) {url} model {model}"

    def _ready(self) -> bool:
        try:
            return bool(self._client.is_model_ready(self._model))
        except self._error:
            return False

    def _known_models(self) -> str:
        try:
            index = self._client.get_model_repository_index()
        except Exception:  # noqa: BLE001 - KServe servers may not implement the repository extension
            return ""
        names = [m["name"] if isinstance(m, dict) else m.name for m in (index if isinstance(index, list) else index.models)]
        return f" (it serves: {', '.join(names)})" if names else ""

    def _request(self, feed: dict[str, np.ndarray]) -> tuple[list, list]:
        inputs = []
        for tensor in self.inputs:
            array = feed[tensor.name]
            item = self._api.InferInput(tensor.name, list(array.shape), V2_OF_NUMPY.get(str(array.dtype), "FP32"))
            if self._api.__name__.endswith("http"):
                item.set_data_from_numpy(array, binary_data=self._binary)
            else:
                item.set_data_from_numpy(array)
            inputs.append(item)
        first = self.outputs[0].name
        if self._api.__name__.endswith("http"):
            outputs = [self._api.InferRequestedOutput(first, binary_data=self._binary)]
        else:
            outputs = [self._api.InferRequestedOutput(first)]
        return inputs, outputs

    def run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        inputs, outputs = self._request(feed)
        try:
            result = self._client.infer(self._model, inputs, outputs=outputs)
        except self._error as error:
            if self._binary and self._api.__name__.endswith("http") and "binary" in str(error).lower():
                self._binary = False
                return self.run(feed)
            raise EvaluationError("InferenceFailed", f"{self._where} model {self._model}: {error}") from None
        except Exception as error:  # noqa: BLE001 - connection lost mid-run
            raise EvaluationError("BackendUnreachable", f"{self._where}: {error}") from None
        return result.as_numpy(self.outputs[0].name)

    def close(self) -> None:
        self._client.close()
