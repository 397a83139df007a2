"""`modelyard get|lineage|report` against an API server print what `modelyard local ...` prints
for the same objects, statuses included.

On the in-process API emulator (kmock), not the real control plane: the statuses here are
written by the test, and on the real cluster the operator would reconcile them. The CLI on the
real cluster, on statuses the operator wrote, is tests/integration/test_cluster_cli.py."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import kmock
import pytest
from kmock._internal import apps
from kubernetes import client

from modelyard import cli_views
from modelyard.api import GROUP, KINDS, VERSION
from modelyard.local.state import LocalCluster
from modelyard.views.objects import ClusterSource
from tests.support import builders as b
from tests.support.cluster import NAMESPACE, declare_resources

pytestmark = pytest.mark.integration

REPORT = {"result": {"passed": True, "message": "all 1 gate(s) passed", "metrics": {"accuracy": 0.97},
                     "gates": [{"metric": "accuracy", "op": ">=", "value": 0.9, "actual": 0.97, "passed": True}]},
          "diagnosis": {"worstClasses": [{"name": "8", "f1": 0.91}]}}


def objects(report_dir: Path) -> list[dict[str, Any]]:
    digest = "sha256:" + "c" * 64
    return [
        {**b.model(), "status": {"phase": "Ready", "latestReadyVersion": "classifier-1-0-0"}},
        {**b.model_version(), "status": {"phase": "Ready", "artifact": {"digest": digest, "sizeBytes": 10}}},
        {**b.model_version("classifier-fp16", version="1.0.0+onnx-fp16.gpu",
                           lineage={"parentVersion": "classifier-1-0-0", "conversionJob": "to-fp16"}),
         "status": {"phase": "Ready"}},
        {**b.conversion_job("to-fp16", target={"format": "onnx-fp16", "hardware": "gpu"}),
         "status": {"phase": "Succeeded", "outputVersion": "classifier-fp16", "benchmark": {"speedupBatch1": 2.5}}},
        {**b.evaluation_job("fp16-eval", modelVersionRef={"name": "classifier-fp16"}),
         "status": {"phase": "Succeeded", "passed": True, "results": {"accuracy": 0.97},
                    "reportUri": report_dir.as_uri() + "/"}},
    ]


def _args(**values: Any) -> argparse.Namespace:
    return argparse.Namespace(**{"name": None, "output": "table", "out": None, "format": "tree", "open": False, **values})


async def test_cluster_and_local_views_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    report_dir = tmp_path / "report"
    report_dir.mkdir()
    (report_dir / "report.json").write_text(json.dumps(REPORT))
    bodies = objects(report_dir)
    local = LocalCluster(tmp_path / "state")
    for body in bodies:
        local.write({**body, "metadata": {**body["metadata"], "namespace": NAMESPACE,
                                           "creationTimestamp": "2026-11-24T08:00:00Z"}})
    async with kmock.KubernetesEmulator() as emulator:
        declare_resources(emulator)
        async with apps.Server(emulator) as server:
            api = client.ApiClient(client.Configuration(host=str(server.url).rstrip("/")))
            custom = client.CustomObjectsApi(api)
            for body in bodies:
                plural = KINDS[body["kind"]].info.plural
                spec = {k: v for k, v in body.items() if k != "status"}
                spec["metadata"] = {**spec["metadata"], "creationTimestamp": "2026-11-24T08:00:00Z"}
                await asyncio.to_thread(custom.create_namespaced_custom_object, GROUP, VERSION, NAMESPACE, plural, spec)
                await asyncio.to_thread(custom.patch_namespaced_custom_object_status, GROUP, VERSION, NAMESPACE, plural,
                                        body["metadata"]["name"], {"status": body["status"]})
            cluster = ClusterSource(api)

            async def both(command: Any, *args: Any) -> tuple[str, str]:
                outputs = []
                for source in (cluster, local):
                    # the client is synchronous and the emulator serves on this loop
                    assert await asyncio.to_thread(command, source, *args) == 0
                    outputs.append(capsys.readouterr().out)
                return outputs[0], outputs[1]

            on_cluster, locally = await both(cli_views.get, _args(kind="mv"), NAMESPACE)
            assert on_cluster == locally and "classifier-fp16" in on_cluster
            on_cluster, locally = await both(cli_views.get, _args(kind="evj", output="json"), NAMESPACE)
            assert [i["status"] for i in json.loads(on_cluster)["items"]] == [i["status"] for i in json.loads(locally)["items"]]
            on_cluster, locally = await both(cli_views.lineage, _args(model="classifier", out=tmp_path / "pictures"),
                                             NAMESPACE, tmp_path)
            assert on_cluster == locally
            assert "classifier-fp16 (1.0.0+onnx-fp16.gpu, onnx for gpu) Ready" in on_cluster
            assert (tmp_path / "pictures" / "lineage-classifier.svg").is_file()
            on_cluster, locally = await both(cli_views.report, _args(evaluation="fp16-eval"), NAMESPACE)
            assert on_cluster == locally and on_cluster.startswith("PASSED: all 1 gate(s) passed")
            assert "ok   accuracy >= 0.9 (actual 0.97)" in on_cluster
