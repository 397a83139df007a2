"""Sources for import tests: a tiny real ONNX model, archives, and an HTTPS server on loopback."""

from __future__ import annotations

import http.server
import ssl
import subprocess
import tarfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def tiny_onnx(path: Path, features: int = 4, classes: int = 3) -> Path:
    """A real ONNX classifier: y = x @ W + b, with a dynamic batch."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((features, classes)).astype("float32"), "W")
    bias = numpy_helper.from_array(rng.standard_normal(classes).astype("float32"), "b")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", classes])],
        initializer=[weight, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="modelyard-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


def tar_gz(path: Path, files: dict[str, Path]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, source in files.items():
            tar.add(source, arcname=name)
    return path


@contextmanager
def https_server(root: Path, workdir: Path) -> Iterator[tuple[str, Path]]:
    """Serve `root` over HTTPS on 127.0.0.1 with a throwaway self-signed certificate.

    Yields the base URL and the certificate, which the client trusts through SSL_CERT_FILE.
    """
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert
    finally:
        server.shutdown()
        server.server_close()
