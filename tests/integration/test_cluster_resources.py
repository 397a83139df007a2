"""Worker resources on the real API server: what the hardware profile gives and what the user
wrote merge into requests and limits the server accepts (workloads/resources.py). Workers are
the kubelet's stand-ins: these tests are about the Job the operator creates."""

from __future__ import annotations

from modelyard.workloads.quantity import parse_quantity
from tests.integration.test_cluster_operator import converted, imported
from tests.support import builders
from tests.support.controlplane import Namespace


def worker_resources(ns: Namespace, job: str) -> dict[str, dict[str, str]]:
    (pod,) = ns.kubectl("get", "pods", "-l", f"job-name={job}", "-o", "name").stdout.split()
    container = ns.get("pod", pod.removeprefix("pod/"))["spec"]["containers"][0]
    return container["resources"]


def test_a_limit_alone_lowers_the_profiles_request_and_the_conversion_runs(ns: Namespace):
    ns.stand_in("import", imported(ns.name))
    ns.stand_in("convert", converted(ns.name, "classifier-onnx", "onnx", "cpu"))
    limits = {"memory": "1Gi", "cpu": "500m"}  # the cpu profile requests 2Gi and 1 CPU
    ns.apply(builders.model(), builders.model_version(), builders.conversion_job(resources={"limits": limits}))

    status = ns.wait_phase("conversionjobs", "classifier-onnx", "Succeeded", "Failed", timeout=60)
    assert status["phase"] == "Succeeded", status.get("message")
    resources = worker_resources(ns, "convert-classifier-onnx")
    assert resources["limits"] == limits, "the user's limits as written"
    for name, limit in limits.items():
        assert parse_quantity(resources["requests"][name]) <= parse_quantity(limit), resources


def test_a_request_alone_raises_the_profiles_limit(ns: Namespace):
    ns.stand_in("import", imported(ns.name))
    ns.stand_in("convert", converted(ns.name, "classifier-onnx", "onnx", "cpu"))
    ns.apply(builders.model(), builders.model_version(),
             builders.conversion_job(resources={"requests": {"memory": "16Gi"}}))  # the profile's limit is 8Gi

    status = ns.wait_phase("conversionjobs", "classifier-onnx", "Succeeded", "Failed", timeout=60)
    assert status["phase"] == "Succeeded", status.get("message")
    resources = worker_resources(ns, "convert-classifier-onnx")
    assert resources["requests"]["memory"] == resources["limits"]["memory"] == "16Gi"
