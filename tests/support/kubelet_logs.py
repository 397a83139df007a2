"""The one kubelet endpoint the operator uses, for the process kubelet: `GET
/containerLogs/NAMESPACE/POD/CONTAINER?tailLines=N`, over HTTPS with a self-signed certificate
(the API server proxies `pods/log` here; it does not verify a kubelet's certificate unless
--kubelet-certificate-authority is given, and the test control plane gives none)."""

from __future__ import annotations

import datetime
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlparse

LogFile = Callable[[str, str, str], Path | None]
"""(namespace, pod, container) -> the container's log file, or None."""


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "process-kubelet")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2)).sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "kubelet.crt", folder / "kubelet.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def serve_logs(folder: Path, log_file: LogFile) -> ThreadingHTTPServer:
    """Start the endpoint on a free loopback port (its port is `server.server_port`)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urlparse(self.path)
            parts = url.path.strip("/").split("/")
            path = log_file(*parts[1:4]) if len(parts) == 4 and parts[0] == "containerLogs" else None
            if path is None or not path.is_file():
                self.send_error(404, "no such container log")
                return
            lines = path.read_bytes().splitlines(keepends=True)
            tail = parse_qs(url.query).get("tailLines")
            body = b"".join(lines[-int(tail[0]):] if tail else lines)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*_self_signed(folder))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, name="container-logs", daemon=True).start()
    return server
