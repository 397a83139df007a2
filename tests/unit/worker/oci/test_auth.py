"""Registry credentials: pull secrets, the docker config, the environment; never shown."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from modelyard.worker.oci.auth import Credentials, from_docker_config, from_pull_secret, user_credentials
from modelyard.worker.oci.errors import OciError


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_a_dockerconfigjson_secret_gives_the_entry_for_the_registry(tmp_path: Path):
    (tmp_path / ".dockerconfigjson").write_text(json.dumps({"auths": {
        "https://other.io": {"auth": b64("x:y")},
        "https://registry.example.com/v1/": {"auth": b64("robot:pa:ss")},
    }}))
    found = from_pull_secret(tmp_path, "regcred", "registry.example.com")
    assert (found.username, found.password) == ("robot", "pa:ss")
    assert found.source == 'pull secret "regcred"'
    assert from_pull_secret(tmp_path, "regcred", "elsewhere.io") is None


def test_the_older_dockercfg_secret_and_username_password_entries(tmp_path: Path):
    (tmp_path / ".dockercfg").write_text(json.dumps({"r.io:5000": {"username": "u", "password": "p", "email": "e"}}))
    found = from_pull_secret(tmp_path, "old", "r.io:5000")
    assert (found.username, found.password) == ("u", "p")


def test_a_missing_or_empty_pull_secret_is_named(tmp_path: Path):
    with pytest.raises(OciError) as caught:
        from_pull_secret(tmp_path, "regcred", "r.io")
    assert caught.value.reason == "PullSecretNotFound" and '"regcred"' in str(caught.value)


def test_docker_hub_keys_match_docker_io_references(tmp_path: Path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": b64("hub:secret")}}}))
    assert from_docker_config("docker.io", config).username == "hub"


def test_the_environment_comes_before_the_docker_config(tmp_path: Path):
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"r.io": {"auth": b64("file:f")}}}))
    env = {"DOCKER_CONFIG": str(tmp_path)}
    assert user_credentials("r.io", env).username == "file"
    env.update(MODELYARD_REGISTRY_USERNAME="env", MODELYARD_REGISTRY_PASSWORD="e")
    assert user_credentials("r.io", env).username == "env"
    assert user_credentials("r.io", {"DOCKER_CONFIG": str(tmp_path / "none")}) is None


def test_a_credential_helper_is_asked_as_docker_asks_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    helper = tmp_path / "bin" / "docker-credential-fake"
    helper.parent.mkdir()
    helper.write_text('#!/bin/sh\nread server\n[ "$server" = "r.io" ] || exit 1\n'
                      'echo \'{"ServerURL":"r.io","Username":"<token>","Secret":"refresh"}\'\n')
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{helper.parent}{os.pathsep}{os.environ['PATH']}")
    (tmp_path / "config.json").write_text(json.dumps({"credHelpers": {"r.io": "fake"}}))
    found = from_docker_config("r.io", tmp_path / "config.json")
    assert found.identity_token == "refresh" and found.username is None
    assert from_docker_config("other.io", tmp_path / "config.json") is None


def test_secrets_never_show_in_a_repr():
    text = repr(Credentials("pull secret \"x\"", "user", "hunter2", "tok"))
    assert "hunter2" not in text and "tok'" not in text and "user" not in text
