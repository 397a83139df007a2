"""Operator throughput and memory: N ModelVersions to Ready, against the same API emulator.

Three operators run, one after the other, each in its own process against an API emulator
(kmock, less its test-assertion costs: tests/support/cluster.py `Emulator`) holding one Model
and N ModelVersions:

- minimal: a Kopf operator with one handler that patches `status.phase: Ready` per object, the
  least any operator can do;
- jobs: the least a Job-running operator can do: create a Job per version, and when it
  succeeded read its pod's termination message and patch Ready (no finalizer, conditions or
  events);
- modelyard: the real operator (Kopf handlers, core decisions, import Job per version).

The last two share a test kubelet in their process that completes each Job at once with a
worker result. Time is measured from the operator's readiness to every version Ready.
`ratio` is modelyard throughput / minimal throughput (the issue's target, >= 0.5, cannot be
met by any operator that runs a Job per version: `jobs` reaches about 0.13 at 500 versions);
`ratio_vs_job_operator` compares with `jobs`. Peak RSS is the operator process's (target
<= 200 MiB); `requests_per_version` counts the operator's API requests (watches aside); CPU
seconds of operator and emulator show which one bounds the run (the machine has 2 cores).
Last line: a JSON object.

    python bench/operator_throughput.py            # 500 versions
    python bench/operator_throughput.py --quick    # 100 versions

(Not `bench/operator.py`: a file of that name shadows the standard library's `operator` module
for every script in bench/.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = "bench"

IMPORTED = {
    "ok": True, "kind": "import", "phase": "Ready", "reason": "Imported", "message": "imported",
    "artifact": {"uri": "s3://bench/x/", "digest": "sha256:" + "a" * 64, "sizeBytes": 1,
                 "files": [{"path": "model.onnx", "sizeBytes": 1, "sha256": "b" * 64}]},
}

CHILD = r"""
import asyncio, json, resource, sys, tempfile, threading
from pathlib import Path
import kopf
from kubernetes import client
mode, url = sys.argv[1], sys.argv[2]
api = client.ApiClient(client.Configuration(host=url))
registry = kopf.OperatorRegistry()
requests = {}
_request = api.rest_client.request
def counted(method, url, *args, **kwargs):
    kind = method + " " + ("pods" if "/pods" in url else "jobs" if "/jobs" in url else "events" if "/events" in url
                           else "status" if url.split("?")[0].endswith("/status") else "objects")
    requests[kind] = requests.get(kind, 0) + 1
    return _request(method, url, *args, **kwargs)
api.rest_client.request = counted

@kopf.on.login(registry=registry)
def login(**_):
    return kopf.ConnectionInfo(server=url, insecure=True)

settings = kopf.OperatorSettings()
settings.scanning.disabled = True
stop, ready = threading.Event(), threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
threading.Thread(target=lambda: (ready.wait(), print("READY", flush=True)), daemon=True).start()
custom = client.CustomObjectsApi(api)
if mode != "minimal":
    from tests.support.emulator_kubelet import Kubelet
    # the kubelet's own requests (Job status, pods) are not the operator's: its own client
    kubelet_api = client.ApiClient(client.Configuration(host=url))
    Kubelet(kubelet_api, Path(tempfile.mkdtemp()), results={"import": json.loads(sys.argv[4])}).register(registry)
if mode == "minimal":
    @kopf.on.event("modelyard.dev", "v1alpha1", "modelversions", registry=registry)
    def done(body, **_):
        if body.get("kind", "ModelVersion") == "ModelVersion" and (body.get("status") or {}).get("phase") != "Ready":
            custom.patch_namespaced_custom_object_status("modelyard.dev", "v1alpha1", body["metadata"]["namespace"],
                                                         "modelversions", body["metadata"]["name"], {"status": {"phase": "Ready"}})
elif mode == "jobs":
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)

    @kopf.on.event("modelyard.dev", "v1alpha1", "modelversions", registry=registry)
    def start(body, **_):
        meta = body["metadata"]
        if body.get("kind", "ModelVersion") != "ModelVersion" or (body.get("status") or {}).get("phase") == "Ready":
            return
        job = {"apiVersion": "batch/v1", "kind": "Job",
               "metadata": {"name": "import-" + meta["name"], "namespace": meta["namespace"],
                            "labels": {"app.kubernetes.io/component": "import", "bench/version": meta["name"]}},
               "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                   {"name": "worker", "image": "worker", "command": ["python", "-m", "modelyard.worker"]}]}}}}
        try:
            batch.create_namespaced_job(meta["namespace"], job)
        except client.ApiException as error:
            if error.status != 409:
                raise

    @kopf.on.event("batch", "v1", "jobs", registry=registry)
    def finish(body, **_):
        meta, status = body["metadata"], body.get("status") or {}
        if body.get("kind", "Job") != "Job" or not status.get("succeeded"):
            return
        reply = core.list_namespaced_pod(meta["namespace"], label_selector="job-name=" + meta["name"], _preload_content=False)
        pod = [p for p in json.loads(reply.data)["items"] if p["metadata"]["labels"].get("job-name") == meta["name"]][0]
        result = json.loads(pod["status"]["containerStatuses"][0]["state"]["terminated"]["message"])
        custom.patch_namespaced_custom_object_status("modelyard.dev", "v1alpha1", meta["namespace"], "modelversions",
                                                     meta["labels"]["bench/version"], {"status": {"phase": "Ready", "artifact": result["artifact"]}})
if mode == "modelyard":
    from modelyard.config import Settings
    from modelyard.main import run_operator
    asyncio.run(run_operator(Settings(store_uri="s3://bench", namespaces=[sys.argv[3]], resync_seconds=30), api,
                             registry, settings, stop, ready, liveness=False))
else:
    asyncio.run(kopf.operator(registry=registry, settings=settings, standalone=True, namespaces=[sys.argv[3]],
                              stop_flag=stop, ready_flag=ready))
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"rss_mib": usage.ru_maxrss / 1024, "cpu_s": usage.ru_utime + usage.ru_stime, "requests": requests}), flush=True)
"""


def objects(count: int) -> list[tuple[str, str, dict]]:
    model = {"apiVersion": "modelyard.dev/v1alpha1", "kind": "Model",
             "metadata": {"name": "bench", "namespace": NAMESPACE}, "spec": {"task": "other"}}
    items = [("modelyard.dev/v1alpha1/models", "bench", model)]
    for i in range(count):
        name = f"bench-{i}"
        items.append(("modelyard.dev/v1alpha1/modelversions", name, {
            "apiVersion": "modelyard.dev/v1alpha1", "kind": "ModelVersion",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"modelRef": {"name": "bench"}, "version": f"1.0.{i}", "format": "onnx",
                     "source": {"uri": f"s3://bench/models/{i}.onnx"}},
        }))
    return items


async def run_one(mode: str, count: int) -> dict:
    from kmock._internal import apps

    sys.path.insert(0, str(ROOT))
    from tests.support.cluster import Emulator, declare_resources

    async with Emulator() as emulator, apps.Server(emulator) as server:
        declare_resources(emulator)
        for resource, name, body in objects(count):
            emulator.objects[resource, NAMESPACE, name] = body
        env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'operator'}"}
        log = Path(tempfile.gettempdir()) / f"modelyard-bench-operator-{mode}.log"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CHILD, mode, str(server.url).rstrip("/"), NAMESPACE, json.dumps(IMPORTED),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log.open("w"), env=env, cwd=ROOT,
        )
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        if line.strip() != b"READY":
            raise RuntimeError(f"{mode} operator did not start: {line!r}")
        started, emulator_cpu = time.perf_counter(), time.process_time()
        deadline = started + 600
        names = {f"bench-{i}" for i in range(count)}
        while True:
            # One pass over the store: a lookup by key scans it too, and this loop runs on the
            # emulator's event loop, so N lookups per poll would slow the emulator down.
            ready = sum(
                1 for (_, namespace, name), obj in emulator.objects.items()
                if namespace == NAMESPACE and name in names and (obj.get("status") or {}).get("phase") == "Ready"
            )
            if ready == count:
                break
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{mode}: only {ready}/{count} Ready after 600 s")
            await asyncio.sleep(0.05)
        seconds, emulator_cpu = time.perf_counter() - started, time.process_time() - emulator_cpu
        proc.stdin.close()
        out, _ = await asyncio.wait_for(proc.communicate(), 300)
        lines = out.decode().strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"{mode} operator exited with {proc.returncode}; see {log}")
        figures = json.loads(lines[-1])
        return {"seconds": seconds, "per_second": count / seconds, "rss_mib": figures["rss_mib"],
                "requests": figures["requests"], "operator_cpu_s": figures["cpu_s"], "emulator_cpu_s": emulator_cpu}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 versions instead of 500")
    parser.add_argument("--count", type=int, default=None)
    args = parser.parse_args()
    count = args.count or (100 if args.quick else 500)
    runs = {}
    for mode in ("minimal", "jobs", "modelyard"):
        runs[mode] = run = asyncio.run(run_one(mode, count))
        print(f"{mode:9} {count} versions Ready in {run['seconds']:.2f} s ({run['per_second']:.1f}/s), "
              f"peak RSS {run['rss_mib']:.0f} MiB; CPU: operator {run['operator_cpu_s']:.1f} s (with its start), "
              f"emulator {run['emulator_cpu_s']:.1f} s; {sum(run['requests'].values()) / count:.1f} requests/version",
              flush=True)
    ours, minimal, jobs = runs["modelyard"], runs["minimal"], runs["jobs"]
    print(json.dumps({
        "count": count,
        "ratio": round(ours["per_second"] / minimal["per_second"], 3),
        # the same against the least a Job-running operator does (create the Job; on success
        # read the pod's termination message and patch Ready), with the same test kubelet
        "ratio_vs_job_operator": round(ours["per_second"] / jobs["per_second"], 3),
        "seconds": round(ours["seconds"], 2),
        "minimal_seconds": round(minimal["seconds"], 2),
        "job_operator_seconds": round(jobs["seconds"], 2),
        "peak_rss_mib": round(ours["rss_mib"], 1),
        "minimal_peak_rss_mib": round(minimal["rss_mib"], 1),
        # API requests made by the operator (watches aside) per version, by verb and target
        "requests_per_version": round(sum(ours["requests"].values()) / count, 2),
        "minimal_requests_per_version": round(sum(minimal["requests"].values()) / count, 2),
        "job_operator_requests_per_version": round(sum(jobs["requests"].values()) / count, 2),
        "requests": ours["requests"],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
