# ruff: noqa: F811 - the registry fixtures are imported from tests/support/registry.py and named as parameters
"""An OCI import on the real control plane: the operator builds the import Job with the pull
secret mounted, the real Job controller and scheduler run it, the worker pulls from the real
registry with the Secret's credentials (tests/integration/conftest.py has the rest of the bed)."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from tests.support import builders
from tests.support.controlplane import Namespace
from tests.support.registry import RegistryServer, registry  # noqa: F401

SIGNATURE = {"inputs": [{"name": "x", "shape": [-1]}], "outputs": [{"name": "scores", "shape": [-1]}]}  # not "y": YAML 1.1 reads it as true


def pull_secret(registry: RegistryServer, name: str, password: str) -> dict:
    """A Secret as `kubectl create secret docker-registry` makes it."""
    auth = base64.b64encode(f"{registry.username}:{password}".encode()).decode()
    config = json.dumps({"auths": {registry.auth: {"username": registry.username, "password": password, "auth": auth}}})
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64.b64encode(config.encode()).decode()}}


def test_a_private_artifact_imports_with_the_pull_secret_on_the_real_cluster(registry: RegistryServer, ns: Namespace,
                                                                             tmp_path: Path):
    save_file({"w": np.arange(2048, dtype="float32")}, str(tmp_path / "model.safetensors"))
    model = (tmp_path / "model.safetensors").read_bytes()
    repository = f"private{uuid.uuid4().hex[:8]}/classifier"
    digest = registry.pusher(authenticated=True).oras(repository, "1.0", {"model.safetensors": model})
    reference = f"{registry.auth}/{repository}:1.0"

    def version(name: str, semver: str, secret: str) -> dict:
        return builders.model_version(name, version=semver, format="safetensors", signature=SIGNATURE,
                                      source={"oci": {"reference": reference, "pullSecretRef": {"name": secret}}})

    ns.apply(pull_secret(registry, "regcred", registry.password), pull_secret(registry, "wrongcred", "not-the-password"),
             builders.model(), version("classifier-1-0-0", "1.0.0", "regcred"),
             version("classifier-2-0-0", "2.0.0", "wrongcred"), version("classifier-3-0-0", "3.0.0", "absent"))
    ready = ns.wait_phase("modelversions", "classifier-1-0-0", "Ready", "Failed", timeout=120)
    assert ready["phase"] == "Ready", ready
    assert ready["artifact"]["files"] == [{"path": "model.safetensors", "sizeBytes": len(model),
                                           "sha256": hashlib.sha256(model).hexdigest()}]
    wrong = ns.wait_phase("modelversions", "classifier-2-0-0", "Failed", timeout=120)
    assert f'registry {registry.auth} refused the credentials from pull secret "wrongcred"' in wrong["message"]
    absent = ns.wait_phase("modelversions", "classifier-3-0-0", "Failed", timeout=120)
    assert 'pull secret "absent" does not exist' in absent["message"]
    for status in (ready, wrong, absent):
        assert registry.password not in json.dumps(status) and "not-the-password" not in json.dumps(status)
    job = ns.kubectl("get", "job", "import-classifier-1-0-0", "-o", "json").stdout
    assert '"secretName": "regcred"' in job and registry.password not in job
    assert digest  # the tag's digest is in the stored manifest's lineage (tests/integration/test_registry_import.py)


def test_a_models_publish_rule_pushes_as_a_job_with_the_push_secret(registry: RegistryServer, ns: Namespace,
                                                                     tmp_path: Path):
    """Model spec.publish on the real control plane: the publish Job runs with the push secret
    mounted, pushes to the private registry, and the digest lands in the version's status."""
    save_file({"w": np.arange(512, dtype="float32")}, str(tmp_path / "model.safetensors"))
    model = (tmp_path / "model.safetensors").read_bytes()
    source = f"src{uuid.uuid4().hex[:8]}/classifier"
    registry.pusher(authenticated=True).oras(source, "1.0", {"model.safetensors": model})
    target = f"{registry.auth}/pub{uuid.uuid4().hex[:8]}/classifier"
    ns.apply(pull_secret(registry, "regcred", registry.password),
             builders.model(publish={"repository": target, "when": "Ready", "pushSecretRef": {"name": "regcred"}}),
             builders.model_version("classifier-1-0-0", format="safetensors", signature=SIGNATURE, source={
                 "oci": {"reference": f"{registry.auth}/{source}:1.0", "pullSecretRef": {"name": "regcred"}}}))
    status = ns.wait_status("modelversions", "classifier-1-0-0", "published",
                            lambda s: s.get("published") or any(c.get("type") == "Published" and c.get("status") == "False"
                                                                 for c in s.get("conditions") or []), timeout=180)
    (entry,) = status["published"]
    assert entry["reference"] == f"{target}:1.0.0" and entry["digest"].startswith("sha256:")
    assert status["phase"] == "Ready" and registry.password not in json.dumps(status)
    (job,) = [n for n in ns.names("jobs") if n.startswith("publish-classifier-1-0-0")]
    spec = ns.kubectl("get", "job", job, "-o", "json").stdout
    assert '"secretName": "regcred"' in spec and registry.password not in spec
