"""Operator throughput and memory: N ModelVersions to Ready, on the real control plane.

Three operators run, one after the other, each in its own process with a fresh control plane
of its own (hack/controlplane.sh: etcd, kube-apiserver, the Job controller, the scheduler; the
process kubelet writes a stand-in worker result for each pod without starting a process) and
its own ServiceAccount; one Model and N ModelVersions are created with one `kubectl create`
once the operator is ready. `--emulator` runs them against the old in-process API emulator
instead (kmock, less its test-assertion costs: tests/support/cluster.py `Emulator`), with the
objects there before the operator starts:

- minimal: a Kopf operator with one handler that patches `status.phase: Ready` per object, the
  least any operator can do;
- jobs: the least a Job-running operator can do: create a Job per version, and when it
  succeeded read its pod's termination message and patch Ready (no finalizer, conditions or
  events);
- modelyard: the real operator (Kopf handlers, core decisions, import Job per version).

On the emulator the last two share a test kubelet in their process that completes each Job at
once with a worker result. Time is measured from the operator's readiness (emulator) or the
start of the `kubectl create` (real) to every version Ready; p50/p95 are, per version, from the
watch event that first showed it to the one that showed it Ready. Requests are counted from the
API server's audit log (user = the operator's ServiceAccount; on the emulator, the operator's
`kubernetes` client calls only).
`ratio` is modelyard throughput / minimal throughput (the issue's target, >= 0.5, cannot be
met by any operator that runs a Job per version: `jobs` reaches about 0.13 at 500 versions);
`ratio_vs_job_operator` compares with `jobs`. Peak RSS is the operator process's (target
<= 200 MiB); `requests_per_version` counts the operator's API requests (watches aside); CPU
seconds of operator and emulator show which one bounds the run (the machine has 2 cores).
Last line: a JSON object.

    python bench/operator_throughput.py                     # 500 versions, real control plane
    python bench/operator_throughput.py --quick             # 100 versions
    python bench/operator_throughput.py --versions 5000 --modes modelyard
    python bench/operator_throughput.py --emulator

(Not `bench/operator.py`: a file of that name shadows the standard library's `operator` module
for every script in bench/.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
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
import asyncio, json, os, resource, sys, tempfile, threading
if os.environ.get("BENCH_TRACEMALLOC"):
    import tracemalloc
    tracemalloc.start(8)
from pathlib import Path
import kopf
from kubernetes import client
mode, url = sys.argv[1], sys.argv[2]
emulated = url.startswith("http")
registry = kopf.OperatorRegistry()
if emulated:
    api = client.ApiClient(client.Configuration(host=url))

    @kopf.on.login(registry=registry)
    def login(**_):
        return kopf.ConnectionInfo(server=url, insecure=True)
else:
    # the real API server: the kubeconfig of the operator's own ServiceAccount
    from kubernetes import config
    config.load_kube_config(url)
    api = client.ApiClient()
    kopf.on.login(registry=registry)(kopf.login_via_client)
requests = {}
_request = api.rest_client.request
def counted(method, url, *args, **kwargs):
    kind = method + " " + ("pods" if "/pods" in url else "jobs" if "/jobs" in url else "events" if "/events" in url
                           else "status" if url.split("?")[0].endswith("/status") else "objects")
    requests[kind] = requests.get(kind, 0) + 1
    return _request(method, url, *args, **kwargs)
api.rest_client.request = counted

settings = kopf.OperatorSettings()
settings.scanning.disabled = True
stop, ready = threading.Event(), threading.Event()
def census():
    # what the running operator holds, by type (cheap beside tracemalloc): to its log
    if os.environ.get("BENCH_CENSUS"):
        import collections, gc
        counts = collections.Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())
        print(*(f"{count:9d} {name}" for name, count in counts.most_common(25)), sep="\n", file=sys.stderr, flush=True)
        # and what the operator's own stores and Kopf's per-object memories hold, deep
        seen_ids = set()
        def size(o):
            if id(o) in seen_ids or isinstance(o, (type, threading.Thread)):
                return 0
            seen_ids.add(id(o))
            total = sys.getsizeof(o)
            if isinstance(o, dict):
                total += sum(size(k) + size(v) for k, v in o.items())
            elif isinstance(o, (list, tuple, set, frozenset)):
                total += sum(size(v) for v in o)
            elif hasattr(o, "__dict__") and not callable(o):
                total += size(vars(o))
                for extra in ("__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"):
                    total += size(getattr(o, extra, None))
            elif hasattr(type(o), "__slots__"):
                total += sum(size(getattr(o, slot, None)) for slot in type(o).__slots__)
            return total
        for o in gc.get_objects():
            name = type(o).__name__
            if name == "Context" and hasattr(o, "seen"):
                for part in ("seen", "written", "finalized", "settled_versions", "locks", "dirty_models"):
                    store = getattr(o, part)
                    inner = vars(store) if part == "seen" else {part: store}
                    for field, value in inner.items():
                        print(f"{size(value) / 2**20:9.1f} MiB ctx.{part}.{field}" if part == "seen" else
                              f"{size(value) / 2**20:9.1f} MiB ctx.{part}", file=sys.stderr, flush=True)
            elif name == "ResourceMemories":
                print(f"{size(o._items) / 2**20:9.1f} MiB kopf memories ({len(o._items)})", file=sys.stderr, flush=True)
def rss_trace():
    # when the operator's memory grows (RSS sampled every second, a line per 8 MiB more): to its log
    import time
    page, top, start = os.sysconf("SC_PAGE_SIZE"), 0, time.monotonic()
    while not stop.wait(1):
        with open("/proc/self/statm") as statm:
            rss = int(statm.read().split()[1]) * page / 2**20
        if rss > top + 8:
            top = rss
            print(f"rss {rss:.0f} MiB at {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
if os.environ.get("BENCH_RSS_TRACE"):
    threading.Thread(target=rss_trace, daemon=True).start()
threading.Thread(target=lambda: (sys.stdin.read(), census(), stop.set()), daemon=True).start()
threading.Thread(target=lambda: (ready.wait(), print("READY", flush=True)), daemon=True).start()
custom = client.CustomObjectsApi(api)
if mode != "minimal" and emulated:
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
               "spec": {"template": {"metadata": {"labels": {"app.kubernetes.io/component": "import"}},
                                     "spec": {"restartPolicy": "Never", "containers": [
                   {"name": "worker", "image": "ghcr.io/modelyard/worker-cpu:bench", "command": ["python", "-m", "modelyard.worker"]}]}}}}
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
if os.environ.get("BENCH_TRACEMALLOC"):
    # where the operator's memory is, by allocating line: to the operator's log (stderr)
    for stat in tracemalloc.take_snapshot().statistics("traceback")[:12]:
        print(f"{stat.size / 2**20:.1f} MiB in {stat.count} blocks", *stat.traceback.format()[-6:], sep="\n  ", file=sys.stderr)
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


async def run_emulator(mode: str, count: int) -> dict:
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



def classify(event: dict) -> str:
    ref = event.get("objectRef") or {}
    if ref.get("subresource") == "status":
        return event["verb"] + " status"
    resource = ref.get("resource", "")
    return event["verb"] + " " + (resource if resource in ("pods", "jobs", "events") else "objects")


def audit_requests(logs: Path, user: str) -> dict[str, int]:
    """The operator's requests as the API server saw them (its audit log), watches aside.
    The server rotates the log every 100 MB (audit-<time>.log): every file is read."""
    counts: dict[str, int] = {}
    for log in sorted(logs.glob("audit*.log")):
        with log.open() as lines:
            for line in lines:
                event = json.loads(line)
                if event.get("user", {}).get("username") == user and event.get("verb") != "watch" \
                        and event.get("stage") == "ResponseComplete":
                    kind = classify(event)
                    counts[kind] = counts.get(kind, 0) + 1
    return counts


def run_cluster(mode: str, count: int) -> dict:
    """One operator against a fresh control plane of its own (hack/controlplane.sh, the process
    kubelet writing the stand-in worker result without starting a process)."""
    import threading

    from kubernetes import client, watch

    sys.path.insert(0, str(ROOT))
    from tests.support.controlplane import ControlPlane, create_namespace, service_account_kubeconfig, start_kubelet

    state = Path(tempfile.mkdtemp(prefix=f"modelyard-bench-{mode}-"))
    os.environ["MODELYARD_CONTROLPLANE_AUDIT"] = "1"
    cp = ControlPlane(state)
    cp.start()
    kubelet = proc = None
    try:
        cp.kubectl("apply", "-f", str(ROOT / "crds"))
        cp.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
        results = state / "kubelet" / "results" / NAMESPACE
        results.mkdir(parents=True)
        (results / "import.json").write_text(json.dumps(IMPORTED))
        kubelet = start_kubelet(cp, None, "--inline-stand-ins")
        create_namespace(cp, NAMESPACE, None)
        core = client.CoreV1Api(cp.api())
        core.create_namespaced_service_account(NAMESPACE, {"metadata": {"name": "bench-operator"}})
        client.RbacAuthorizationV1Api(cp.api()).create_cluster_role_binding({
            "metadata": {"name": "bench-operator"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "bench-operator", "namespace": NAMESPACE}]})
        kubeconfig = service_account_kubeconfig(cp, state / "operator.kubeconfig", NAMESPACE, "bench-operator")
        custom = client.CustomObjectsApi(cp.api())
        seen: dict[str, float] = {}
        ready: dict[str, float] = {}
        done, watching = threading.Event(), threading.Event()

        def record(obj: dict) -> None:
            name, at = obj["metadata"]["name"], time.perf_counter()
            seen.setdefault(name, at)
            if (obj.get("status") or {}).get("phase") == "Ready":
                ready.setdefault(name, at)

        def observe() -> None:
            # list then watch, again after any error: a fresh CRD's watch cache answers 429
            # ("storage is (re)initializing") for a moment, which ended a bare watch
            while not done.is_set():
                try:
                    listed = custom.list_namespaced_custom_object("modelyard.dev", "v1alpha1", NAMESPACE, "modelversions")
                    for obj in listed["items"]:
                        record(obj)
                    watching.set()
                    stream = watch.Watch()
                    for event in stream.stream(custom.list_namespaced_custom_object, "modelyard.dev", "v1alpha1",
                                               NAMESPACE, "modelversions", timeout_seconds=300,
                                               resource_version=listed["metadata"]["resourceVersion"]):
                        record(event["object"])
                        if len(ready) == count:
                            stream.stop()
                            break
                except Exception:  # noqa: BLE001 - listed again, after a moment
                    done.wait(0.5)
                if len(ready) == count:
                    done.set()

        threading.Thread(target=observe, daemon=True).start()
        watching.wait(10)
        log = state / "logs" / f"operator-{mode}.log"
        # KUBECONFIG too: kopf.login_via_client loads the default kubeconfig itself
        env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'operator'}", "KUBECONFIG": str(kubeconfig)}
        proc = subprocess.Popen([sys.executable, "-c", CHILD, mode, str(kubeconfig), NAMESPACE, json.dumps(IMPORTED)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log.open("w"), env=env, cwd=ROOT)
        line = proc.stdout.readline()
        if line.strip() != b"READY":
            raise RuntimeError(f"{mode} operator did not start: {line!r}; see {log}")
        items = objects(count)
        started = time.perf_counter()
        cp.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                          "items": [body for _, _, body in items]}))
        if not done.wait(1800):
            raise RuntimeError(f"{mode}: only {len(ready)}/{count} Ready after 1800 s; see {log}")
        seconds = max(ready.values()) - started
        latencies = sorted(ready[name] - seen[name] for name in ready)
        out, _ = proc.communicate(b"", timeout=300)  # its stdin closed: the operator stops
        lines = out.decode().strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"{mode} operator exited with {proc.returncode}; see {log}")
        figures = json.loads(lines[-1])
        requests = audit_requests(state / "logs", f"system:serviceaccount:{NAMESPACE}:bench-operator")
        return {"seconds": seconds, "per_second": count / seconds, "rss_mib": figures["rss_mib"],
                "requests": requests, "operator_cpu_s": figures["cpu_s"], "emulator_cpu_s": 0.0,
                "p50_s": latencies[len(latencies) // 2], "p95_s": latencies[int(len(latencies) * 0.95) - 1],
                "api_server": client.VersionApi(cp.api()).get_code().git_version}
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        if kubelet is not None:
            kubelet.stop()
        cp.stop()
        kept = state / "logs" / f"operator-{mode}.log"
        if kept.exists():  # the state folder goes; the operator's log stays for a look
            shutil.copy(kept, Path(tempfile.gettempdir()) / f"modelyard-bench-operator-{mode}.log")
        shutil.rmtree(state, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 versions instead of 500")
    parser.add_argument("--versions", type=int, default=None, help="how many ModelVersions (default 500)")
    parser.add_argument("--emulator", action="store_true", help="the in-process API emulator instead of the real control plane")
    parser.add_argument("--modes", default="minimal,jobs,modelyard", help="which operators, comma-separated")
    args = parser.parse_args()
    count = args.versions or (100 if args.quick else 500)
    modes = args.modes.split(",")
    runs = {}
    for mode in modes:
        runs[mode] = run = asyncio.run(run_emulator(mode, count)) if args.emulator else run_cluster(mode, count)
        print(f"{mode:9} {count} versions Ready in {run['seconds']:.2f} s ({run['per_second']:.1f}/s), "
              f"peak RSS {run['rss_mib']:.0f} MiB; CPU: operator {run['operator_cpu_s']:.1f} s (with its start)"
              + (f", emulator {run['emulator_cpu_s']:.1f} s" if args.emulator else
                 f"; apply to Ready p50 {run['p50_s']:.2f} s, p95 {run['p95_s']:.2f} s")
              + f"; {sum(run['requests'].values()) / count:.1f} requests/version", flush=True)
    line: dict = {"count": count, "api_server": "emulator (kmock)" if args.emulator else runs[modes[0]]["api_server"]}
    ours, minimal, jobs = runs.get("modelyard"), runs.get("minimal"), runs.get("jobs")
    if ours and minimal:
        line["ratio"] = round(ours["per_second"] / minimal["per_second"], 3)
    if ours and jobs:
        # against the least a Job-running operator does (create the Job; on success read the
        # pod's termination message and patch Ready), on the same kind of test bed
        line["ratio_vs_job_operator"] = round(ours["per_second"] / jobs["per_second"], 3)
    for mode, run in runs.items():
        prefix = "" if mode == "modelyard" else f"{'job_operator' if mode == 'jobs' else mode}_"
        line[prefix + "seconds"] = round(run["seconds"], 2)
        line[prefix + "peak_rss_mib"] = round(run["rss_mib"], 1)
        # API requests made by the operator (watches aside) per version, by verb and target
        line[prefix + "requests_per_version"] = round(sum(run["requests"].values()) / count, 2)
        if not args.emulator:
            line[prefix + "p50_s"], line[prefix + "p95_s"] = round(run["p50_s"], 3), round(run["p95_s"], 3)
    if ours:
        line["requests"] = ours["requests"]
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
