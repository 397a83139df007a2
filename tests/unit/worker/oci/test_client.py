"""The distribution client against a scripted registry on loopback: token auth as Docker Hub,
GHCR and Harbor do it (the test bed's real registry speaks basic auth only), redirects to
storage, dropped downloads, lying servers."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

import pytest

from modelyard.worker.oci.auth import Credentials
from modelyard.worker.oci.client import Descriptor, Registry, RegistrySettings
from modelyard.worker.oci.errors import OciError

BLOB = bytes(range(256)) * 4096  # 1 MiB
DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()
MANIFEST = json.dumps({"schemaVersion": 2, "layers": []}).encode()
SETTINGS = RegistrySettings(timeout_s=5, max_attempts=2)

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


@contextmanager
def server(handle: Handler) -> Iterator[tuple[str, list[dict]]]:
    """A loopback HTTP server calling `handle` for every request; yields host:port and the log."""
    seen: list[dict] = []

    class Answer(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _any(self):
            seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers)})
            handle(self)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = _any

    class Quiet(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # a client that hangs up on a refused download is what some tests do

    httpd = Quiet(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def reply(request, status: int, body: bytes = b"", **headers: str) -> None:
    request.send_response(status)
    for name, value in headers.items():
        request.send_header(name.replace("_", "-"), value)
    request.send_header("Content-Length", str(len(body)))
    request.end_headers()
    if request.command != "HEAD":
        request.wfile.write(body)


def token_registry(scopes_granted: tuple[str, ...] = ("pull",)) -> Handler:
    """Bearer auth: /token checks basic credentials u:p and hands out a token for the scope."""
    def handle(request):
        host = request.headers["Host"]
        if request.path.startswith("/token"):
            if request.headers.get("Authorization") != "Basic " + base64.b64encode(b"u:p").decode():
                return reply(request, 401, b'{"details":"incorrect username or password"}')
            return reply(request, 200, json.dumps({"token": "T0K3N"}).encode())
        if request.headers.get("Authorization") != "Bearer T0K3N":
            challenge = f'Bearer realm="http://{host}/token",service="test-registry",scope="repository:m:pull"'
            return reply(request, 401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', WWW_Authenticate=challenge)
        if "pull" not in scopes_granted:
            challenge = f'Bearer realm="http://{host}/token",service="test-registry",error="insufficient_scope"'
            return reply(request, 401, b'{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}',
                         WWW_Authenticate=challenge)
        return reply(request, 200, MANIFEST, Content_Type="application/vnd.oci.image.manifest.v1+json")
    return handle


def test_a_bearer_token_is_fetched_with_the_credentials_and_reused():
    with server(token_registry()) as (host, seen):
        registry = Registry(host, Credentials("pull secret \"regcred\"", "u", "p"), settings=SETTINGS)
        first = registry.manifest("m", "1", f"{host}/m:1")
        registry.manifest("m", "1", f"{host}/m:1")
    assert first.data == MANIFEST and first.digest == "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
    token_requests = [s for s in seen if s["path"].startswith("/token")]
    assert len(token_requests) == 1 and "scope=repository%3Am%3Apull" in token_requests[0]["path"]
    assert "service=test-registry" in token_requests[0]["path"]


def test_wrong_credentials_name_the_registry_and_where_they_came_from():
    with server(token_registry()) as (host, _), pytest.raises(OciError) as caught:
        Registry(host, Credentials('pull secret "regcred"', "u", "wrong"), settings=SETTINGS).manifest("m", "1", f"{host}/m:1")
    assert caught.value.reason == "RegistryAuthFailed"
    assert f"registry {host} refused the credentials from pull secret \"regcred\"" in str(caught.value)
    assert "wrong" not in str(caught.value)


def test_no_credentials_where_they_are_needed_says_how_to_give_them():
    with server(token_registry()) as (host, _), pytest.raises(OciError) as caught:
        Registry(host, None, auth_hint="set spec.source.oci.pullSecretRef", settings=SETTINGS).manifest("m", "1", f"{host}/m:1")
    assert caught.value.reason == "RegistryAuthRequired"
    assert str(caught.value).endswith("none were given: set spec.source.oci.pullSecretRef")


def test_a_token_without_the_permission_is_access_denied():
    with server(token_registry(scopes_granted=())) as (host, _), pytest.raises(OciError) as caught:
        Registry(host, Credentials("~/.docker/config.json", "u", "p"), settings=SETTINGS).manifest("m", "1", f"{host}/m:1")
    assert caught.value.reason == "AccessDenied" and "may not pull" in str(caught.value)


def test_a_manifest_asked_by_digest_must_hash_to_it():
    def handle(request):
        reply(request, 200, MANIFEST, Content_Type="application/vnd.oci.image.manifest.v1+json")
    with server(handle) as (host, _), pytest.raises(OciError) as caught:
        Registry(host, settings=SETTINGS).manifest("m", "sha256:" + "0" * 64, f"{host}/m")
    assert caught.value.reason == "BlobDigestMismatch"


def read_all(registry: Registry, descriptor: Descriptor) -> bytes:
    with registry.blob("m", descriptor, "m blob") as blob:
        parts = []
        while chunk := blob.read(65536):
            parts.append(chunk)
    return b"".join(parts)


def test_a_redirect_to_storage_carries_no_credentials():
    with server(lambda r: reply(r, 200, BLOB)) as (storage, storage_seen):
        def handle(request):
            if request.headers.get("Authorization") is None:
                return reply(request, 401, WWW_Authenticate='Basic realm="r"')
            reply(request, 307, Location=f"http://{storage}/bucket/blob?signature=x")
        with server(handle) as (host, _):
            registry = Registry(host, Credentials("env", "u", "p"), settings=SETTINGS)
            assert read_all(registry, Descriptor("application/octet-stream", DIGEST, len(BLOB))) == BLOB
    assert [s["headers"].get("Authorization") for s in storage_seen] == [None]


def test_a_dropped_download_resumes_from_the_byte_it_reached():
    cut = 300_000

    def handle(request):
        wanted = request.headers.get("Range")
        if wanted is None:  # promise everything, send a part, drop the connection
            request.send_response(200)
            request.send_header("Content-Length", str(len(BLOB)))
            request.end_headers()
            request.wfile.write(BLOB[:cut])
            request.wfile.flush()
            request.close_connection = True
            return
        start = int(wanted.removeprefix("bytes=").rstrip("-"))
        reply(request, 206, BLOB[start:], Content_Range=f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}")

    with server(handle) as (host, seen):
        assert read_all(Registry(host, settings=SETTINGS), Descriptor("x", DIGEST, len(BLOB))) == BLOB
    assert [s["headers"].get("Range") for s in seen] == [None, f"bytes={cut}-"]


@pytest.mark.parametrize("served", [BLOB[:-1] + b"!", BLOB[:-10], BLOB + b"extra"])
def test_a_blob_that_is_not_what_its_descriptor_says_is_refused(served: bytes):
    with server(lambda r: reply(r, 200, served)) as (host, _), pytest.raises(OciError) as caught:
        read_all(Registry(host, settings=SETTINGS), Descriptor("x", DIGEST, len(BLOB)))
    assert caught.value.reason == "BlobDigestMismatch" and DIGEST in str(caught.value)


def test_an_unreachable_registry_is_named():
    with pytest.raises(OciError) as caught:
        Registry("127.0.0.1:9", settings=SETTINGS).manifest("m", "1", "127.0.0.1:9/m:1")
    assert caught.value.reason == "RegistryUnreachable" and "registry 127.0.0.1:9 cannot be reached" in str(caught.value)


def test_plain_http_only_for_loopback_and_named_hosts():
    settings = RegistrySettings(insecure=("registry.lan:5000",))
    assert [settings.scheme(h) for h in ("localhost:5000", "127.0.0.1", "registry.lan:5000", "ghcr.io", "[::1]:5000")] == [
        "http", "http", "http", "https", "http"]
