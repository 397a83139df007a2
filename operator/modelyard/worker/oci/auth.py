"""Registry credentials: from a pull secret, the docker config, or the environment.

Where they come from is kept with them (`Credentials.source`), so that a refusal can say which
secret or file to fix; the secret itself never appears in a message, a repr or a log.

- A pull secret (`spec.source.oci.pullSecretRef`) is mounted into the import Job as a folder:
  `.dockerconfigjson` (`{"auths": {...}}`) or the older `.dockercfg` (the `auths` map alone).
- A user's shell (the `publish` command, local mode): `MODELYARD_REGISTRY_USERNAME` and
  `MODELYARD_REGISTRY_PASSWORD`, else the docker config (`$DOCKER_CONFIG/config.json`, else
  `~/.docker/config.json`) with its `auths`, `credHelpers` and `credsStore` as Docker reads them.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from modelyard.worker.oci.errors import OciError
from modelyard.worker.oci.reference import DOCKER_HUB

USERNAME_VARIABLE = "MODELYARD_REGISTRY_USERNAME"
PASSWORD_VARIABLE = "MODELYARD_REGISTRY_PASSWORD"
DOCKER_HUB_KEY = "https://index.docker.io/v1/"
IDENTITY_TOKEN_USER = "<token>"


@dataclass(frozen=True)
class Credentials:
    """A username and password (or an identity token) and where they were found."""

    source: str
    """Where they came from, for messages: `pull secret "regcred"`, a file, the environment."""
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    identity_token: str | None = field(default=None, repr=False)

    def basic(self) -> str | None:
        """The value of a Basic Authorization header, when there is a username and password."""
        if self.username is None or self.password is None:
            return None
        return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()


def _host_of(key: str) -> str:
    """A docker config `auths` key as a bare host: `https://host/v1/` -> `host`."""
    host = key.split("://", 1)[-1].split("/", 1)[0]
    return DOCKER_HUB if host in ("index.docker.io", "registry-1.docker.io", "docker.io") else host


def _entry_credentials(entry: Any, source: str) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    username, password = entry.get("username"), entry.get("password")
    if entry.get("auth"):
        try:
            username, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise OciError("RegistryAuthFailed", f"{source}: its auth value is not base64 of user:password") from None
    token = entry.get("identitytoken") or None
    if not username and not token:
        return None
    return Credentials(source, username or None, password if username else None, token)


def from_auths(auths: Mapping[str, Any], registry: str, source: str) -> Credentials | None:
    """The entry of an `auths` map for `registry` (keys may carry a scheme and a path)."""
    wanted = _host_of(registry)
    for key, entry in auths.items():
        if _host_of(key) == wanted:
            found = _entry_credentials(entry, source)
            if found is not None:
                return found
    return None


def from_pull_secret(folder: Path, secret: str, registry: str) -> Credentials | None:
    """The credentials a mounted pull secret holds for `registry`; None when it holds none for it.
    A secret that is absent (the volume is optional) or holds neither key is an error that names
    it: the spec asked for it."""
    source = f'pull secret "{secret}"'
    for key, wrapped in ((".dockerconfigjson", True), (".dockercfg", False)):
        path = folder / key
        if not path.is_file():
            continue
        try:
            body = json.loads(path.read_text())
        except (OSError, ValueError):
            raise OciError("RegistryAuthFailed", f"{source}: {key} is not JSON") from None
        auths = body.get("auths", {}) if wrapped else body
        if not isinstance(auths, dict):
            raise OciError("RegistryAuthFailed", f"{source}: {key} has no auths map")
        return from_auths(auths, registry, source)
    raise OciError(
        "PullSecretNotFound",
        f"{source} does not exist in the version's namespace or has neither .dockerconfigjson nor .dockercfg "
        "(create it with kubectl create secret docker-registry)",
    )


def docker_config_path(env: Mapping[str, str] = os.environ) -> Path:
    """`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`."""
    folder = env.get("DOCKER_CONFIG")
    return Path(folder) / "config.json" if folder else Path.home() / ".docker" / "config.json"


def _helper(name: str, registry: str, source: str) -> Credentials | None:
    """Ask `docker-credential-<name>` (Docker's credential-helper protocol)."""
    server = DOCKER_HUB_KEY if registry == DOCKER_HUB else registry
    try:
        done = subprocess.run([f"docker-credential-{name}", "get"], input=server, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise OciError("RegistryAuthFailed", f"{source}: credential helper docker-credential-{name} cannot run ({type(error).__name__})") from None
    if done.returncode != 0:
        return None  # "credentials not found": anonymous, as Docker does
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        raise OciError("RegistryAuthFailed", f"{source}: docker-credential-{name} did not answer JSON") from None
    user, secret = answer.get("Username"), answer.get("Secret")
    if user == IDENTITY_TOKEN_USER:
        return Credentials(f"{source} (docker-credential-{name})", identity_token=secret)
    return Credentials(f"{source} (docker-credential-{name})", user, secret) if user else None


def from_docker_config(registry: str, path: Path) -> Credentials | None:
    """What the docker config at `path` holds for `registry` (helpers first, as Docker reads it)."""
    if not path.is_file():
        return None
    source = str(path)
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError):
        raise OciError("RegistryAuthFailed", f"{source} is not JSON") from None
    host = _host_of(registry)
    helpers = body.get("credHelpers") or {}
    helper = next((v for k, v in helpers.items() if _host_of(k) == host), None) or body.get("credsStore")
    if helper:
        found = _helper(helper, registry, source)
        if found is not None:
            return found
    return from_auths(body.get("auths") or {}, registry, source)


def user_credentials(registry: str, env: Mapping[str, str] = os.environ) -> Credentials | None:
    """Credentials for a user's own commands: the environment, else the docker config."""
    username, password = env.get(USERNAME_VARIABLE), env.get(PASSWORD_VARIABLE)
    if username and password:
        return Credentials(f"${USERNAME_VARIABLE}/${PASSWORD_VARIABLE}", username, password)
    return from_docker_config(registry, docker_config_path(env))
