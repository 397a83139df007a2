"""The operator image, run as the chart's Deployment runs it, against the real control plane
(hack/controlplane.sh, the process kubelet, the chart installed with helm): the container's
env, volumes, args and securityContext are read from the installed Deployment; the
ServiceAccount's token and the cluster's CA reach it as a read-only kubeconfig mount (what an
in-cluster pod gets as its projected token)."""

from __future__ import annotations

import base64
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator

import boto3
import pytest
import yaml
from kubernetes import client

from tests.containers.conftest import Built, Containerd, PodSpec, empty_dir
from tests.support import builders
from tests.support.controlplane import (RELEASE_NAMESPACE, ControlPlane, Kube, Namespace, create_namespace,
                                        install_chart, operator_environment, service_account_kubeconfig,
                                        start_kubelet, tail, wait_until)
from tests.support.s3server import ACCESS_KEY, SECRET_KEY, S3Server, free_port

pytestmark = pytest.mark.containers

CREDENTIALS = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
BUCKET = "cluster-store"
KUBECONFIG_DIR = "/var/run/modelyard"
DIGEST = "sha256:" + "a" * 64


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Iterator[Kube]:
    """The integration tier's test bed without its local operator process."""
    state = tmp_path_factory.mktemp("controlplane")
    cp = ControlPlane(state)
    cp.start()
    kubelet = None
    try:
        kubelet = start_kubelet(cp)
        boto3.client("s3", endpoint_url=s3_server.endpoint, aws_access_key_id=ACCESS_KEY,
                     aws_secret_access_key=SECRET_KEY, region_name="us-east-1").create_bucket(Bucket=BUCKET)
        install_chart(cp, {"store.uri": f"s3://{BUCKET}/store", "store.endpoint": s3_server.endpoint,
                           "store.addressingStyle": "path", "store.secretName": "model-store-credentials",
                           "resyncSeconds": "2"})
        yield Kube(cp, kubelet, None, BUCKET, s3_server.endpoint)  # type: ignore[arg-type]
    finally:
        if kubelet is not None:
            kubelet.stop()
        cp.stop()


def in_pod_kubeconfig(cp: ControlPlane, folder: Path) -> Path:
    """The ServiceAccount's kubeconfig with the CA inline (the host's CA path is not in the pod)."""
    path = service_account_kubeconfig(cp, folder / "kubeconfig")
    body = yaml.safe_load(path.read_text())
    cluster = body["clusters"][0]["cluster"]
    cluster["certificate-authority-data"] = base64.b64encode(
        Path(cluster.pop("certificate-authority")).read_bytes()).decode()
    path.write_text(yaml.safe_dump(body))
    path.chmod(0o644)
    return path


class OperatorTask:
    """The operator's container as the test bed's helpers see an operator (`process.check_alive`)."""

    def __init__(self, task: subprocess.Popen[bytes], log: Path):
        self.task, self.log = task, log
        self.process = self

    def check_alive(self) -> None:
        if self.task.poll() is not None:
            raise AssertionError(f"the operator container exited ({self.task.returncode}):\n{tail(self.log)}")


def healthy(port: int, operator: OperatorTask) -> bool:
    operator.check_alive()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


def test_the_operator_image_reconciles_from_a_container_with_the_charts_security_context(
        containerd: Containerd, operator_image: Built, kube: Kube, tmp_path: Path) -> None:
    cp = kube.cp
    deployment = client.AppsV1Api(cp.api()).read_namespaced_deployment("modelyard-operator", RELEASE_NAMESPACE)
    pod = client.ApiClient().sanitize_for_serialization(deployment.spec.template.spec)
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsUser"] == 65532

    profiles = tmp_path / "profiles"
    env = operator_environment(cp, profiles)  # envFrom resolved; profiles.yaml written to the folder
    profiles.chmod(0o755)
    kubeconfig = in_pod_kubeconfig(cp, empty_dir(tmp_path / "kube"))
    health = free_port()
    env.update(MODELYARD_PROFILES_FILE="/etc/modelyard/profiles/profiles.yaml",
               KUBECONFIG=f"{KUBECONFIG_DIR}/{kubeconfig.name}",
               MODELYARD_HEALTH_PORT=str(health), MODELYARD_METRICS_PORT=str(free_port()))
    container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    # `args: [operator]` with the image's entrypoint, as the kubelet runs it.
    container["command"] = list(operator_image.image.spec.entrypoint)
    volumes = {"profiles": profiles, "tmp": empty_dir(tmp_path / "tmp")}
    spec = PodSpec.from_container(container, volumes, {})
    spec.mounts.append((kubeconfig.parent, KUBECONFIG_DIR, True))
    assert {target for _, target, _ in spec.mounts} == {"/etc/modelyard/profiles", "/tmp", KUBECONFIG_DIR}

    name = f"operator-{uuid.uuid4().hex[:6]}"
    log = tmp_path / "operator.log"
    task = containerd.start_task(operator_image.reference, name, spec, log)
    kube.operator = OperatorTask(task, log)  # type: ignore[assignment]
    try:
        started = time.monotonic()
        wait_until("the operator container's liveness endpoint", lambda: healthy(health, kube.operator), timeout=90, log=log)
        healthy_s = time.monotonic() - started
        namespace = f"containers-{uuid.uuid4().hex[:6]}"
        create_namespace(cp, namespace, CREDENTIALS)
        ns = Namespace(kube, namespace)
        ns.stand_in("import", {"ok": True, "kind": "import", "phase": "Ready", "reason": "Imported",
                               "message": "imported 1 file(s)",
                               "artifact": {"uri": f"s3://{BUCKET}/store/{namespace}/classifier/1.0.0/",
                                            "digest": DIGEST, "sizeBytes": 12,
                                            "files": [{"path": "model.onnx", "sizeBytes": 12, "sha256": "b" * 64}]}})
        ns.apply(builders.model(), builders.model_version())
        status = ns.wait_phase("modelversions", "classifier-1-0-0", "Ready", timeout=90)
        assert status["artifact"]["digest"] == DIGEST
        ns.wait_phase("models", "classifier", "Ready", timeout=60)
        job = ns.get("job", "import-classifier-1-0-0")
        assert job["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
        print(f"operator container healthy after {healthy_s:.1f}s")
    finally:
        containerd.remove(name)
        try:
            task.wait(timeout=30)
        except subprocess.TimeoutExpired:
            task.kill()
    text = log.read_text(errors="replace")
    assert "Read-only file system" not in text and "Permission denied" not in text, text[-3000:]
