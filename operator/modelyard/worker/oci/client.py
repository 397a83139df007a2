"""A small client of the distribution API (OCI distribution spec v1.1): manifests and blobs.

Authentication follows the registry's challenge: Basic (htpasswd, ECR-style) or Bearer tokens
from the realm it names (Docker Hub, GHCR, Harbor, GitLab, distribution's token auth), asked with
the credentials once per scope and reused. Blob downloads ask for the bytes as stored (no
transfer compression), are checked against the descriptor's digest and size as they stream, and
resume with a Range request when the connection drops. Redirects to storage (S3, a CDN) drop the
Authorization header (requests does, on a change of host).

Plain HTTP is used for loopback registries (as Docker does) and for the hosts named in
`MODELYARD_OCI_INSECURE_REGISTRIES`; TLS otherwise, with `MODELYARD_OCI_CA_BUNDLE` for a private CA.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Iterator, Mapping
from urllib.parse import urljoin

import requests

from modelyard import __version__
from modelyard.worker.oci.auth import Credentials
from modelyard.worker.oci.errors import OciError

CHUNK = 1024 * 1024
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
LOOPBACK = ("localhost", "127.0.0.1", "[::1]", "::1")
RETRY_STATUS = (429, 500, 502, 503, 504)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST_TYPES = (OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)


@dataclass(frozen=True)
class RegistrySettings:
    """How registries are reached (from the environment)."""

    insecure: tuple[str, ...] = ()
    """Hosts reached over plain HTTP besides loopback."""
    ca_bundle: str | None = None
    timeout_s: float = 60
    max_attempts: int = 3

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "RegistrySettings":
        insecure = tuple(h.strip() for h in env.get("MODELYARD_OCI_INSECURE_REGISTRIES", "").split(",") if h.strip())
        return cls(insecure, env.get("MODELYARD_OCI_CA_BUNDLE") or None,
                   float(env.get("MODELYARD_OCI_TIMEOUT_SECONDS", "60")), int(env.get("MODELYARD_OCI_MAX_ATTEMPTS", "3")))

    def scheme(self, host: str) -> str:
        name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
        return "http" if name in LOOPBACK or host in self.insecure or name in self.insecure else "https"


@dataclass(frozen=True)
class Descriptor:
    """A content descriptor: what a manifest says a blob is."""

    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)
    platform: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, body: Any, where: str) -> "Descriptor":
        if not isinstance(body, dict):
            raise OciError("ManifestInvalid", f"{where}: a descriptor is not an object")
        digest, size = body.get("digest"), body.get("size")
        if not isinstance(digest, str) or not DIGEST.match(digest):
            raise OciError("ManifestInvalid", f"{where}: descriptor digest {digest!r} is not sha256:<64 hex>")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise OciError("ManifestInvalid", f"{where}: descriptor {digest} has no valid size")
        annotations = body.get("annotations") or {}
        return cls(str(body.get("mediaType") or ""), digest, size,
                   {str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, dict) else {},
                   body.get("platform") or {})

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            body["annotations"] = dict(self.annotations)
        return body


@dataclass(frozen=True)
class Manifest:
    """A manifest's bytes as served, its media type and digest (the sha256 of those bytes)."""

    data: bytes
    media_type: str
    digest: str

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(self.data)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """`Bearer realm="...",service="...",scope="..."` -> ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): v for k, v in re.findall(r'([A-Za-z_]+)\s*=\s*"([^"]*)"', rest)}
    return scheme.lower(), params


def _registry_errors(response: requests.Response) -> str:
    """The registry's own error codes and messages, e.g. `MANIFEST_UNKNOWN: manifest unknown`."""
    try:
        errors = response.json().get("errors") or []
        return "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors if isinstance(e, dict))
    except ValueError:
        return ""


class Registry:
    """One registry host, with the credentials for it and a reusable HTTP session.

    `auth_hint` finishes the message when the registry asks for credentials that were not given
    (the worker names spec.source.oci.pullSecretRef, the CLI names docker login)."""

    def __init__(self, host: str, credentials: Credentials | None = None, *, auth_hint: str = "",
                 settings: RegistrySettings | None = None, session: requests.Session | None = None):
        self.host = host
        self.credentials = credentials
        self.auth_hint = auth_hint
        self.settings = settings or RegistrySettings.from_env()
        self.base = f"{self.settings.scheme(host)}://{host}"
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = f"modelyard/{__version__}"
        if self.settings.ca_bundle:
            self.session.verify = self.settings.ca_bundle
        self._basic = False
        self._tokens: dict[str, str] = {}

    # --- requests and authentication ---------------------------------------------------------

    def _authorization(self, scope: str) -> str | None:
        if scope in self._tokens:
            return f"Bearer {self._tokens[scope]}"
        if self._basic and self.credentials is not None:
            return self.credentials.basic()
        return None

    def request(self, method: str, url: str, scope: str, what: str, *, retry: bool = True,
                headers: dict[str, str] | None = None, **kwargs: Any) -> requests.Response:
        """Send a request with the scope's authorization, answering one challenge; retries
        idempotent requests on connection errors and 429/5xx. `what` names the thing for messages."""
        attempts, challenged = 0, False
        while True:
            attempts += 1
            sent = dict(headers or {})
            authorization = self._authorization(scope)
            if authorization:
                sent["Authorization"] = authorization
            try:
                response = self.session.request(method, url, headers=sent, timeout=self.settings.timeout_s, **kwargs)
            except requests.exceptions.SSLError as error:
                raise OciError("TLSError", f"registry {self.host}: TLS failed ({_short(error)}); set MODELYARD_OCI_CA_BUNDLE "
                               "for a private CA, or MODELYARD_OCI_INSECURE_REGISTRIES for a plain-HTTP registry") from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as error:
                if retry and attempts < self.settings.max_attempts:
                    time.sleep(min(2.0, 0.2 * 2**attempts))
                    continue
                raise OciError("RegistryUnreachable", f"registry {self.host} cannot be reached for {what} ({_short(error)})") from None
            if response.status_code == 401 and not challenged and retry:
                challenged = True
                self._answer(response, scope, what)
                response.close()
                attempts -= 1
                continue
            if response.status_code in RETRY_STATUS and retry and attempts < self.settings.max_attempts:
                response.close()
                time.sleep(min(2.0, 0.2 * 2**attempts))
                continue
            if response.status_code == 401:
                self._refused(response, scope, what, token=scope in self._tokens)
            return response

    def _answer(self, response: requests.Response, scope: str, what: str) -> None:
        scheme, params = _parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if scheme == "basic":
            if self.credentials is None or self.credentials.basic() is None:
                self._required(scope, what)
            self._basic = True
        elif scheme == "bearer" and params.get("realm"):
            self._tokens[scope] = self._token(params, scope, what)
        else:
            raise OciError("RegistryError", f"registry {self.host} asks for an authentication scheme Modelyard does not speak ({scheme or 'none'})")

    def _token(self, challenge: dict[str, str], scope: str, what: str) -> str:
        """A bearer token for `scope` from the realm (with the credentials, else anonymous)."""
        params = {k: v for k, v in (("service", challenge.get("service")), ("scope", scope)) if v}
        credentials = self.credentials
        try:
            if credentials is not None and credentials.identity_token:
                response = self.session.post(challenge["realm"], timeout=self.settings.timeout_s, data={
                    **params, "grant_type": "refresh_token", "refresh_token": credentials.identity_token,
                    "client_id": "modelyard"})
            else:
                basic = credentials.basic() if credentials is not None else None
                response = self.session.get(challenge["realm"], params=params, timeout=self.settings.timeout_s,
                                            headers={"Authorization": basic} if basic else {})
        except requests.exceptions.RequestException as error:
            raise OciError("RegistryUnreachable", f"registry {self.host}: its token service {challenge['realm']} "
                           f"cannot be reached ({_short(error)})") from None
        if response.status_code in (401, 403):
            if credentials is None:
                self._required(scope, what)
            raise self._auth_failed(what)
        if response.status_code != 200:
            raise OciError("RegistryError", f"registry {self.host}: its token service answered HTTP {response.status_code}")
        try:
            body = response.json()
            return str(body.get("token") or body["access_token"])
        except (ValueError, KeyError):
            raise OciError("RegistryError", f"registry {self.host}: its token service answered without a token") from None

    def _auth_failed(self, what: str) -> OciError:
        assert self.credentials is not None
        return OciError("RegistryAuthFailed", f"registry {self.host} refused the credentials from {self.credentials.source} "
                        f"for {what}: check the username and password (or token) there")

    def _required(self, scope: str, what: str) -> None:
        action = "push to" if scope.endswith("push") else "pull"
        raise OciError("RegistryAuthRequired", f"registry {self.host} asks for credentials to {action} {what} and none "
                       f"were given{': ' + self.auth_hint if self.auth_hint else ''}")

    def _refused(self, response: requests.Response, scope: str, what: str, token: bool) -> None:
        if self.credentials is None:
            self._required(scope, what)
        if token:  # the token was issued, but not for this: the account lacks the permission
            action = "push to" if scope.endswith("push") else "pull"
            raise OciError("AccessDenied", f"registry {self.host}: the credentials from {self.credentials.source} "  # type: ignore[union-attr]
                           f"may not {action} {what} ({_registry_errors(response) or 'insufficient scope'})")
        raise self._auth_failed(what)

    def fail(self, response: requests.Response, what: str, action: str = "read") -> OciError:
        """The error for an unexpected answer, named by what was asked for."""
        detail = _registry_errors(response)
        suffix = f" ({detail})" if detail else ""
        if response.status_code == 404:
            return OciError("NotFound", f"{what} not found in registry {self.host}{suffix}")
        if response.status_code == 403:
            source = f"the credentials from {self.credentials.source}" if self.credentials else "anonymous access"
            return OciError("AccessDenied", f"registry {self.host}: {source} may not {action} {what}{suffix}")
        reason = "PushRefused" if action == "push to" else "RegistryError"
        return OciError(reason, f"registry {self.host} answered HTTP {response.status_code} to {action} {what}{suffix}")

    # --- manifests ------------------------------------------------------------------------------

    def url(self, repository: str, kind: str, ref: str = "") -> str:
        return f"{self.base}/v2/{repository}/{kind}/{ref}"

    def manifest(self, repository: str, ref: str, what: str) -> Manifest:
        """The manifest `ref` (a tag or digest) points at; a digest is checked against the bytes."""
        response = self.request("GET", self.url(repository, "manifests", ref), f"repository:{repository}:pull", what,
                                headers={"Accept": ", ".join(MANIFEST_TYPES)}, stream=True)
        with response:
            if response.status_code != 200:
                raise self.fail(response, what)
            data = _read_limited(response, MAX_MANIFEST_BYTES, what)
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        try:
            body = json.loads(data)
        except ValueError:
            raise OciError("ManifestInvalid", f"{what}: the registry served a manifest that is not JSON") from None
        media_type = (body.get("mediaType") if isinstance(body, dict) else None) or media_type
        digest = sha256_digest(data)
        if ref.startswith("sha256:") and digest != ref:
            raise OciError("BlobDigestMismatch", f"{what}: the registry served a manifest whose sha256 is {digest}")
        served = response.headers.get("Docker-Content-Digest")
        if served and served.startswith("sha256:") and served != digest:
            raise OciError("BlobDigestMismatch", f"{what}: the manifest's bytes hash to {digest}, the registry says {served}")
        return Manifest(data, media_type, digest)

    def manifest_digest(self, repository: str, ref: str, what: str) -> str | None:
        """What `ref` points at now, or None when nothing does (for publish's tag check)."""
        response = self.request("GET", self.url(repository, "manifests", ref), f"repository:{repository}:pull,push", what,
                                headers={"Accept": ", ".join(MANIFEST_TYPES)}, stream=True)
        with response:
            if response.status_code == 404:
                return None
            if response.status_code != 200:
                raise self.fail(response, what)
            return sha256_digest(_read_limited(response, MAX_MANIFEST_BYTES, what))

    def put_manifest(self, repository: str, ref: str, data: bytes, media_type: str, what: str) -> str:
        response = self.request("PUT", self.url(repository, "manifests", ref), f"repository:{repository}:pull,push", what,
                                data=data, headers={"Content-Type": media_type})
        with response:
            if response.status_code not in (200, 201):
                raise self.fail(response, what, "push to")
        digest = sha256_digest(data)
        served = response.headers.get("Docker-Content-Digest")
        if served and served != digest:
            raise OciError("PushRefused", f"{what}: the registry stored the manifest as {served}, not {digest}")
        return digest

    # --- blobs ------------------------------------------------------------------------------------

    @contextmanager
    def blob(self, repository: str, descriptor: Descriptor, what: str) -> Iterator["BlobReader"]:
        """The blob's bytes; reading to the end checks them against the descriptor."""
        reader = BlobReader(self, repository, descriptor, what)
        try:
            yield reader
        finally:
            reader.close()

    def blob_exists(self, repository: str, digest: str, what: str) -> bool:
        response = self.request("HEAD", self.url(repository, "blobs", digest), f"repository:{repository}:pull,push", what)
        with response:
            if response.status_code == 404:
                return False
            if response.status_code != 200:
                raise self.fail(response, what)
            return True

    def push_blob(self, repository: str, stream: BinaryIO, size: int, what: str, digest: str | None = None,
                  progress: Callable[[int], None] | None = None) -> str:
        """Upload `size` bytes of `stream` as one blob; returns its digest (computed on the way when
        not given). The registry checks the digest; a failed upload is cancelled."""
        scope = f"repository:{repository}:pull,push"
        started = self.request("POST", self.url(repository, "blobs", "uploads/"), scope, what, headers={"Content-Length": "0"})
        with started:
            if started.status_code != 202 or "Location" not in started.headers:
                raise self.fail(started, what, "push to")
            location = urljoin(self.base + "/", started.headers["Location"])
        body = _Body(stream, size, progress)
        try:
            if digest is None:
                patched = self.request("PATCH", location, scope, what, retry=False, data=body,
                                       headers={"Content-Type": "application/octet-stream"})
                with patched:
                    if patched.status_code != 202:
                        raise self.fail(patched, what, "push to")
                    location = urljoin(self.base + "/", patched.headers.get("Location", location))
                digest, body = body.digest(), None
            separator = "&" if "?" in location else "?"
            put = self.request("PUT", f"{location}{separator}digest={digest}", scope, what, retry=False,
                               data=body if body is not None else b"",
                               headers={"Content-Type": "application/octet-stream"})
            with put:
                if put.status_code != 201:
                    raise self.fail(put, what, "push to")
            if body is not None and body.digest() != digest:
                raise OciError("BlobDigestMismatch", f"{what}: the bytes sent hash to {body.digest()}, not {digest}")
            return digest
        except BaseException:
            try:
                self.session.delete(location, timeout=10, headers={k: v for k, v in
                                    (("Authorization", self._authorization(scope)),) if v})
            except requests.exceptions.RequestException:
                pass  # the registry purges abandoned uploads itself
            raise


class _Body:
    """A request body of known length read from a stream in CHUNKs, hashed on the way."""

    def __init__(self, stream: BinaryIO, size: int, progress: Callable[[int], None] | None):
        self._stream, self._size, self._progress = stream, size, progress
        self._hash = hashlib.sha256()
        self._sent = 0

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[bytes]:
        while self._sent < self._size:
            chunk = self._stream.read(min(CHUNK, self._size - self._sent))
            if not chunk:
                raise OciError("PushRefused", f"the source ended after {self._sent} of {self._size} bytes")
            self._hash.update(chunk)
            self._sent += len(chunk)
            if self._progress is not None:
                self._progress(len(chunk))
            yield chunk

    def digest(self) -> str:
        return "sha256:" + self._hash.hexdigest()


class BlobReader:
    """A blob's bytes as they stream, hashed; the end checks digest and size. A dropped
    connection is resumed with a Range request from the byte reached (at most twice)."""

    RESUMES = 2

    def __init__(self, registry: Registry, repository: str, descriptor: Descriptor, what: str):
        self.registry, self.repository, self.descriptor, self.what = registry, repository, descriptor, what
        self._hash = hashlib.sha256()
        self.size = 0
        self._resumes = 0
        self._done = False
        self._response = self._open()

    def _open(self) -> requests.Response:
        headers = {"Accept-Encoding": "identity"}
        if self.size:
            headers["Range"] = f"bytes={self.size}-"
        response = self.registry.request("GET", self.registry.url(self.repository, "blobs", self.descriptor.digest),
                                         f"repository:{self.repository}:pull", self.what, headers=headers, stream=True)
        expected = 206 if self.size else 200
        if response.status_code != expected:
            response.close()
            raise self.registry.fail(response, self.what)
        return response

    def read(self, n: int = CHUNK) -> bytes:
        if self._done:
            return b""
        want = CHUNK if n is None or n < 0 else n
        while True:
            try:
                data = self._response.raw.read(want, decode_content=False)
                break
            except (requests.exceptions.RequestException, OSError, _ProtocolError) as error:
                self._response.close()
                if self._resumes >= self.RESUMES:
                    raise OciError("RegistryUnreachable", f"{self.what}: the download broke off after {self.size} bytes "
                                   f"({_short(error)})") from None
                self._resumes += 1
                self._response = self._open()
        if data:
            self._hash.update(data)
            self.size += len(data)
            if self.size > self.descriptor.size:
                self._mismatch()
            return data
        self._done = True
        if self.size != self.descriptor.size or "sha256:" + self._hash.hexdigest() != self.descriptor.digest:
            self._mismatch()
        return b""

    def drain(self) -> None:
        """Read what is left (a tar's padding, a gzip trailer), so that the digest is checked."""
        while self.read(CHUNK):
            pass

    def _mismatch(self) -> None:
        actual = "sha256:" + self._hash.hexdigest() if self.size <= self.descriptor.size else "(more bytes than declared)"
        raise OciError(
            "BlobDigestMismatch",
            f"{self.what}: blob {self.descriptor.digest} is not what its descriptor says: {self.size} bytes with "
            f"{actual}, expected {self.descriptor.size} bytes; refused, nothing was imported",
        )

    def close(self) -> None:
        self._response.close()


try:
    from urllib3.exceptions import ProtocolError as _ProtocolError
except ImportError:  # pragma: no cover - urllib3 always comes with requests
    _ProtocolError = OSError  # type: ignore[misc,assignment]


def _read_limited(response: requests.Response, limit: int, what: str) -> bytes:
    parts, size = [], 0
    while chunk := response.raw.read(CHUNK, decode_content=True):
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            raise OciError("ManifestInvalid", f"{what}: the manifest is larger than {limit} bytes")
    return b"".join(parts)


def _short(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text[:200] or type(error).__name__
