"""A real OCI registry for the tests (hack/registry.sh) and a pusher that builds what goes in it.

Debian's docker-registry (distribution v2.8) is started once per test session, twice: open, and
behind htpasswd basic auth (about 0.5 s); `MODELYARD_REGISTRY_ENV` naming the env file of one
already running (`hack/registry.sh start DIR` writes DIR/env) reuses it. A machine without it gets
it from Debian's packages first (`hack/registry.sh install`); if it cannot be installed or
started, the tests that need it fail with the reason, never skip.

`Pusher` is deliberately not Modelyard's own client (worker/oci/client.py): plain urllib,
monolithic uploads, manifests and layers built here, so a defect in the client cannot hide
itself by writing what it reads. It builds images (tar or tar+gzip filesystem layers, with
whiteouts and links), ORAS artifacts (files titled by org.opencontainers.image.title) and
KitOps ModelKits shaped as `kit pack` makes them (a Kitfile config, tar layers with full paths).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "hack" / "registry.sh"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
KIT_CONFIG = "application/vnd.kitops.modelkit.config.v1+json"
TITLE = "org.opencontainers.image.title"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as stream:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return "sha256:" + digest.hexdigest(), size


Entry = Any
"""A tar entry's content: bytes (a file), None (a folder), ("symlink", target), ("hardlink",
target), or a Path whose bytes are streamed from disk."""


def tar_file(path: Path, entries: dict[str, Entry]) -> Path:
    """A layer written to disk (entries from Paths stream): for layers too big for memory."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in entries.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = content.stat().st_size, 0o644
            with content.open("rb") as stream:
                tar.addfile(info, stream)
    return path


def tar_bytes(entries: dict[str, Entry], compress: bool = False) -> bytes:
    """A layer: entries in the given order (names as given, e.g. `models/m.onnx` or `./etc`)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in entries.items():
            info = tarfile.TarInfo(name)
            info.mtime = 0
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif isinstance(content, tuple):
                info.type = tarfile.SYMTYPE if content[0] == "symlink" else tarfile.LNKTYPE
                info.linkname = content[1]
                tar.addfile(info)
            elif isinstance(content, Path):
                info.size, info.mode = content.stat().st_size, 0o644
                with content.open("rb") as stream:
                    tar.addfile(info, stream)
            else:
                info.size, info.mode = len(content), 0o644
                tar.addfile(info, io.BytesIO(content))
    data = raw.getvalue()
    return gzip.compress(data, compresslevel=1, mtime=0) if compress else data


@dataclass
class Pusher:
    """Pushes blobs and manifests to one registry host (basic auth when given)."""

    host: str
    username: str | None = None
    password: str | None = None
    token: str | None = None
    """A Bearer token to send instead (a registry behind token auth)."""

    def _request(self, method: str, url: str, data: Any = None, headers: dict[str, str] | None = None) -> Any:
        request = urllib.request.Request(url if url.startswith("http") else f"http://{self.host}{url}",
                                         data=data, method=method, headers=dict(headers or {}))
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        elif self.username:
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        return urllib.request.urlopen(request, timeout=120)  # noqa: S310 - loopback test registry

    def blob(self, repository: str, data: bytes | Path, media_type: str = "application/octet-stream",
             annotations: dict[str, str] | None = None) -> dict[str, Any]:
        """Upload a blob (bytes, or a file streamed from disk); returns its descriptor."""
        if isinstance(data, Path):
            digest, size = file_digest(data)
        else:
            digest, size = digest_of(data), len(data)
        with self._request("POST", f"/v2/{repository}/blobs/uploads/", b"") as started:
            location = started.headers["Location"]
        separator = "&" if "?" in location else "?"
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        if isinstance(data, Path):
            with data.open("rb") as stream, self._request("PUT", f"{location}{separator}digest={digest}", stream, headers):
                pass
        else:
            with self._request("PUT", f"{location}{separator}digest={digest}", data, headers):
                pass
        descriptor: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": size}
        if annotations:
            descriptor["annotations"] = annotations
        return descriptor

    def manifest(self, repository: str, ref: str, body: dict[str, Any], media_type: str = OCI_MANIFEST) -> str:
        data = json.dumps(body, separators=(",", ":")).encode()
        with self._request("PUT", f"/v2/{repository}/manifests/{ref}", data, {"Content-Type": media_type}):
            pass
        return digest_of(data)

    def delete_manifest(self, repository: str, digest: str) -> None:
        with self._request("DELETE", f"/v2/{repository}/manifests/{digest}"):
            pass

    def image(self, repository: str, tag: str, layers: list[dict[str, Entry] | bytes | Path], compress: bool = True,
              annotations: dict[str, str] | None = None) -> str:
        """An image: a config and filesystem layers in order (dicts of entries, ready tar bytes, or
        a tar file on disk, pushed uncompressed and streamed: for big layers)."""
        descriptors, diff_ids = [], []
        for layer in layers:
            if isinstance(layer, Path):
                descriptors.append(self.blob(repository, layer, LAYER_TAR))
                diff_ids.append(descriptors[-1]["digest"])
                continue
            raw = layer if isinstance(layer, bytes) else tar_bytes(layer)
            diff_ids.append(digest_of(raw))
            data = gzip.compress(raw, compresslevel=1, mtime=0) if compress else raw
            descriptors.append(self.blob(repository, data, LAYER_GZIP if compress else LAYER_TAR))
        config = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids},
                  "config": {}}
        body = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": self.blob(repository, json.dumps(config).encode(), IMAGE_CONFIG), "layers": descriptors}
        if annotations:
            body["annotations"] = annotations
        return self.manifest(repository, tag, body)

    def oras(self, repository: str, tag: str, files: dict[str, bytes | Path],
             artifact_type: str = "application/vnd.example.model") -> str:
        """An ORAS artifact (as `oras push` makes one): the empty config, one titled layer per file."""
        empty = self.blob(repository, b"{}", "application/vnd.oci.empty.v1+json")
        layers = [self.blob(repository, data, "application/octet-stream", {TITLE: name}) for name, data in files.items()]
        return self.manifest(repository, tag, {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": artifact_type,
                                               "config": empty, "layers": layers})

    def modelkit(self, repository: str, tag: str, model_path: str, files: dict[str, bytes],
                 datasets: dict[str, bytes] | None = None) -> str:
        """A ModelKit as `kit pack` makes it: folders and files under the Kitfile's paths in
        uncompressed tar layers, the Kitfile as JSON config with each layer's digest and diffId."""
        def layer(path: str, content: dict[str, bytes], kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
            entries: dict[str, Entry] = {}
            for name, data in sorted(content.items()):
                parts = name.split("/")
                for i in range(1, len(parts)):
                    entries.setdefault("/".join(parts[:i]), None)
                entries[name] = data
            raw = tar_bytes(entries)
            descriptor = self.blob(repository, raw, f"application/vnd.kitops.modelkit.{kind}.v1.tar",
                                   {"org.cncf.model.filepath": path})
            return descriptor, {"path": path, "digest": descriptor["digest"], "diffId": descriptor["digest"]}

        kitfile: dict[str, Any] = {"manifestVersion": "1.0.0", "package": {"name": repository.rsplit("/", 1)[-1]}}
        layers = []
        for name, data in (datasets or {}).items():
            descriptor, entry = layer(name, {name: data}, "dataset")
            layers.append(descriptor)
            kitfile.setdefault("datasets", []).append({"name": name, **entry})
        descriptor, entry = layer(model_path, files, "model")
        layers.append(descriptor)
        kitfile["model"] = {"name": "model", **entry}
        config = self.blob(repository, json.dumps(kitfile).encode(), KIT_CONFIG)
        return self.manifest(repository, tag, {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config,
                                               "layers": layers})


@dataclass
class RegistryServer:
    """The two registries of the session: `open` and `auth` (basic auth), as host:port."""

    open: str
    auth: str
    username: str
    password: str
    state: Path | None

    def pusher(self, authenticated: bool = False) -> Pusher:
        if authenticated:
            return Pusher(self.auth, self.username, self.password)
        return Pusher(self.open)

    def blob_file(self, digest: str, authenticated: bool = False) -> Path:
        """Where the registry's filesystem storage keeps a blob's bytes (to corrupt it)."""
        if self.state is None:
            raise RuntimeError("this registry's state folder is unknown (MODELYARD_REGISTRY_ENV)")
        hexdigest = digest.split(":", 1)[1]
        name = "auth" if authenticated else "open"
        return self.state / "data" / name / "docker/registry/v2/blobs/sha256" / hexdigest[:2] / hexdigest / "data"

    def docker_config(self, folder: Path, password: str | None = None, host: str | None = None) -> Path:
        """A docker config (as `docker login` writes it) for the auth registry; returns its folder."""
        folder.mkdir(parents=True, exist_ok=True)
        auth = base64.b64encode(f"{self.username}:{password or self.password}".encode()).decode()
        (folder / "config.json").write_text(json.dumps({"auths": {host or self.auth: {"auth": auth}}}))
        return folder


def _run(command: str, *args: str) -> None:
    done = subprocess.run([str(SCRIPT), command, *args], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"hack/registry.sh {command} failed:\n{done.stderr[-4000:]}")


def _from_env(path: Path, state: Path | None) -> RegistryServer:
    values = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return RegistryServer(values["MODELYARD_REGISTRY_OPEN"], values["MODELYARD_REGISTRY_AUTH"],
                          values["MODELYARD_REGISTRY_USERNAME"], values["MODELYARD_REGISTRY_PASSWORD"], state)


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    given = os.environ.get("MODELYARD_REGISTRY_ENV")
    if given:
        env = Path(given)
        yield _from_env(env, env.parent if (env.parent / "data").exists() else None)
        return
    # Always through the script: it waits for an install in progress (CI starts one beside pip)
    # and returns at once when the registry is there.
    _run("install")
    state = tmp_path_factory.mktemp("registry")
    _run("start", str(state))
    try:
        yield _from_env(state / "env", state)
    finally:
        subprocess.run([str(SCRIPT), "stop", str(state)], capture_output=True, timeout=60)


@pytest.fixture
def no_user_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty docker config and no credential variables: nothing but what a test gives."""
    folder = tmp_path / "docker-config"
    folder.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    for name in ("MODELYARD_REGISTRY_USERNAME", "MODELYARD_REGISTRY_PASSWORD", "MODELYARD_REGISTRY_AUTH"):
        monkeypatch.delenv(name, raising=False)
    return folder


# --- distribution's token auth: the Bearer flow of Docker Hub, GHCR and Harbor --------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenService:
    """A token service as distribution's `auth: token` expects one: it checks basic credentials
    and hands out RS256 JWTs (the signing certificate in `x5c`) granting what was asked, except
    that repositories under `private*/` are for the user only."""

    def __init__(self, folder: Path, username: str, password: str):
        import datetime
        import http.server
        import threading

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.username, self.password = username, password
        self.issued: list[dict[str, Any]] = []
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "modelyard-test-token-issuer")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self._key.public_key())
                .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(self._key, hashes.SHA256()))
        folder.mkdir(parents=True, exist_ok=True)
        self.cert = folder / "token-issuer.pem"
        self.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self._x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                status, body = service.answer(self.path, self.headers.get("Authorization"))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self._server.server_address[1]}/token"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def answer(self, path: str, authorization: str | None) -> tuple[int, dict[str, Any]]:
        import time
        import urllib.parse

        query = urllib.parse.parse_qs(urllib.parse.urlparse(path).query)
        user = None
        if authorization:
            expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            if authorization != expected:
                return 401, {"details": "invalid username or password"}
            user = self.username
        access = []
        for scope in query.get("scope", []):
            kind, name, actions = scope.split(":", 2)
            if name.startswith("private") and user is None:
                continue
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {"iss": "modelyard-test-issuer", "sub": user or "", "aud": query.get("service", [""])[0],
                  "exp": now + 300, "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(), "access": access}
        self.issued.append(claims)
        return 200, {"token": self._sign(claims), "expires_in": 300}

    def _sign(self, claims: dict[str, Any]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class TokenRegistry:
    """A registry behind distribution's token auth, and its token service."""

    host: str
    service: TokenService

    def pusher(self, repository: str) -> Pusher:
        """A pusher holding a token that may push to `repository`."""
        _, body = self.service.answer(f"/token?service=modelyard-test&scope=repository:{repository}:pull,push",
                                      "Basic " + base64.b64encode(f"{self.service.username}:{self.service.password}".encode()).decode())
        return Pusher(self.host, token=body["token"])


@pytest.fixture(scope="session")
def token_registry(registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenRegistry]:
    state = tmp_path_factory.mktemp("token-registry")
    service = TokenService(state / "issuer", registry.username, registry.password)
    try:
        _run("start-token", str(state / "registry"), service.realm, str(service.cert))
        try:
            host = (state / "registry" / "env").read_text().strip().split("=", 1)[1]
            yield TokenRegistry(host, service)
        finally:
            subprocess.run([str(SCRIPT), "stop", str(state / "registry")], capture_output=True, timeout=60)
    finally:
        service.close()
