"""Integration tier: a real control plane (hack/controlplane.sh: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler built from Go modules), the process kubelet, the chart
installed with helm, the operator as a local process with the chart's ServiceAccount, and S3 on
loopback. One test bed per session; each test gets its own namespace."""

from __future__ import annotations

import contextlib
import re
from typing import Iterator

import boto3
import pytest

from modelyard.manifests import load
from tests.support.controlplane import (ControlPlane, Kube, Namespace, Operator, create_namespace,
                                        delete_namespace, install_chart, start_kubelet)
from tests.support.quickstart import QUICKSTART, prepare, train
from tests.support.s3server import ACCESS_KEY, SECRET_KEY, S3Server

CREDENTIALS = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory, s3_server: S3Server) -> Iterator[Kube]:
    state = tmp_path_factory.mktemp("controlplane")
    cp = ControlPlane(state)
    cp.start()
    kubelet = operator = None
    try:
        kubelet = start_kubelet(cp)
        bucket = "cluster-store"
        boto3.client("s3", endpoint_url=s3_server.endpoint, aws_access_key_id=ACCESS_KEY,
                     aws_secret_access_key=SECRET_KEY, region_name="us-east-1").create_bucket(Bucket=bucket)
        install_chart(cp, {"store.uri": f"s3://{bucket}/store", "store.endpoint": s3_server.endpoint,
                           "store.addressingStyle": "path", "store.secretName": "model-store-credentials",
                           "store.maxAttempts": "2", "resyncSeconds": "2"})
        operator = Operator(cp, state / "operator")
        operator.start()
        yield Kube(cp, kubelet, operator, bucket, s3_server.endpoint)
    finally:
        if operator is not None:
            operator.stop()
        if kubelet is not None:
            kubelet.stop()
        cp.stop()


@contextlib.contextmanager
def namespace(kube: Kube, name: str) -> Iterator[Namespace]:
    """A fresh namespace with the store credentials and the worker ServiceAccount."""
    create_namespace(kube.cp, name, CREDENTIALS)
    yield Namespace(kube, name)
    delete_namespace(kube.cp, name)


@pytest.fixture
def ns(kube: Kube, request: pytest.FixtureRequest) -> Iterator[Namespace]:
    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-")
    with namespace(kube, f"{name}-{abs(hash(request.node.nodeid)) % 10_000}") as made:
        yield made


@pytest.fixture(scope="session")
def quickstart(kube: Kube, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Namespace]:
    """The quickstart pipeline (training from a template with the preset the chart installed,
    conversion, evaluation) run to its end by the operator and the real workers, in a namespace
    of its own, for the tests that look at its results."""
    folder = tmp_path_factory.mktemp("quickstart")
    trained = train(folder / "training")
    docs = {(d.body["kind"], d.body["metadata"]["name"]): d.body
            for d in load([prepare(QUICKSTART, folder / "manifests", trained)])}
    wanted = (("Model", "digits"), ("TrainingTemplate", "digits-mlp"), ("TrainingJob", "digits-train"),
              ("ConversionJob", "digits-onnx-cpu"), ("EvaluationJob", "digits-onnx-cpu-eval"))
    with namespace(kube, "quickstart") as made:
        made.apply(*(docs[key] for key in wanted))
        made.wait_phase("evaluationjobs", "digits-onnx-cpu-eval", "Succeeded", "Failed", timeout=300)
        yield made
