"""A process kubelet for the real control plane (hack/controlplane.sh): registers Nodes shaped
like a cluster with the four hardware profiles, keeps them Ready, and runs every Pod the real
scheduler binds to them as local processes, writing pod status back as a kubelet does.

What a kubelet would do and this one does: node registration with labels, capacity, taints and
the Ready condition; node leases renewed every 10 s; volumes (emptyDir, configMap, secret,
projected with a TokenRequest service-account token) resolved from the API, a missing one
reported as `FailedMount` with the pod left Pending; env (value, `$(VAR)`, secretKeyRef,
configMapKeyRef, fieldRef, envFrom) resolved from the API, a missing one reported as the
container waiting with `CreateContainerConfigError`; init containers in order, then the main
containers; `terminationMessagePath` with `FallbackToLogsOnError`; pod status with phases,
conditions and container states (exit codes, reasons, messages); graceful deletion (SIGTERM,
then SIGKILL after the grace period, then the final delete).

Long-running pods (`restartPolicy: Always`: Deployments, ReplicaSets): all main containers run
at once and stay Running; one that exits is restarted with a kubelet's back-off (the first
restart at once, then 10 s doubling to 5 minutes, `--crash-backoff` to change the first step),
reported as `restartCount`, `lastState.terminated` and the waiting reason `CrashLoopBackOff`;
the pod is never Succeeded or Failed until it is deleted. Probes (tests/support/probes.py):
startup, readiness and liveness, by httpGet, tcpSocket, grpc or exec, with their delays,
periods, timeouts and thresholds, decide each container's `started` and `ready` and the pod's
`ContainersReady` and `Ready` conditions (a container without a readiness probe is ready once
running); a failed liveness or startup probe restarts the container (`Unhealthy` and `Killing`
events, as a kubelet writes them).

Pod network (tests/support/podnet.py): every pod gets an address of its own, its
`status.podIP`/`podIPs` (and `fieldRef: status.podIP`), which probes and clients use. No pod
has a network namespace here: the stand-in is that every container process is given the address
as `MODELYARD_SERVE_HOST` and its servers bind it, so two pods serving the same containerPort do
not collide. The addresses come from a block of 198.18.0.0/15 made local with one route on lo
when the kubelet may add routes (root), which the EndpointSlice controller can publish, or else
from 127.X.0.0/16, which it cannot (the API server refuses loopback endpoint addresses). There
is no kube-proxy: a Service's ClusterIP does not route; its EndpointSlices name the pods' IPs.
A `hostNetwork` pod has 127.0.0.1.

What stands in for a container runtime (named as such, since no container can run here):
- images: an image matching a `--host-image` pattern runs on this machine (its `python` is
  this interpreter, so worker images run the installed workers); an image given with
  `--image NAME=DIR` is a folder holding its filesystem (absolute paths in its command that
  are not mounts resolve inside DIR); any other image cannot be pulled (`ErrImagePull`, then
  `ImagePullBackOff`), as with a registry that does not have it;
- mounts: paths are not mounted but rewritten: a command argument or env value naming a mount
  path (or the termination message path) names the host folder that backs it;
- not enforced: memory limits, user ids and the read-only root filesystem.

A stand-in worker for operator-logic tests: when `ROOT/results/NAMESPACE/COMPONENT.json` exists
for a pod's namespace and its `app.kubernetes.io/component` label, the main container writes
that worker result as its termination message and exits 0 (or 1 when `"ok": false`) instead of
running the worker (`--inline-stand-ins`: the kubelet writes it without starting a process).

Run: `python -m tests.support.kubelet --kubeconfig K --root DIR [--image NAME=DIR ...]
[--crash-backoff SECONDS]`.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from tests.support.podnet import PodNetwork
from tests.support.probes import LABEL, LIVENESS, READINESS, STARTUP, Probe, Tracker

log = logging.getLogger("kubelet")
MERGE = "application/merge-patch+json"
LEASE_SECONDS = 40
RENEW_SECONDS = 10
HOST_IMAGES = ("ghcr.io/modelyard/worker-*", "modelyard/worker-*")
FALLBACK_LINES, FALLBACK_BYTES, MESSAGE_BYTES = 80, 2048, 4096
CRASH_BACKOFF, MAX_CRASH_BACKOFF = 10.0, 300.0  # a kubelet's: doubling from 10 s to 5 min


@dataclass(frozen=True)
class NodeShape:
    name: str
    arch: str
    labels: dict[str, str] = field(default_factory=dict)
    extended: dict[str, str] = field(default_factory=dict)
    taints: tuple[dict[str, str], ...] = ()


# A cluster with the four hardware profiles (the chart's default profiles select these).
NODES = (
    NodeShape("cpu-amd64", "amd64"),
    NodeShape("cpu-arm64", "arm64"),
    NodeShape("gpu-a100", "amd64", labels={"nvidia.com/gpu.present": "true"},
              extended={"nvidia.com/gpu": "2"},
              taints=({"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},)),
    NodeShape("ascend-910", "arm64", labels={"accelerator": "huawei-Ascend910"},
              extended={"huawei.com/Ascend910": "8"},
              taints=({"key": "huawei.com/Ascend910", "value": "present", "effect": "NoSchedule"},)),
)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def now_micro() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def crash_backoff(crashes: int, initial: float = CRASH_BACKOFF) -> float:
    """Seconds before restarting a container that exited `crashes + 1` times in a row: the first
    restart is at once, then 10 s, 20 s, 40 s ... up to 5 minutes (a kubelet's back-off)."""
    return 0.0 if crashes == 0 else min(initial * 2 ** (crashes - 1), MAX_CRASH_BACKOFF)


class WaitingError(Exception):
    """A container cannot start yet (e.g. a missing Secret): reported as its waiting state."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


class Kubelet:
    def __init__(self, api: client.ApiClient, root: Path, images: dict[str, Path] | None = None,
                 host_images: tuple[str, ...] = HOST_IMAGES, nodes: tuple[NodeShape, ...] = NODES,
                 env: dict[str, str] | None = None, inline_stand_ins: bool = False,
                 network: PodNetwork | None = None, crash_backoff: float = CRASH_BACKOFF) -> None:
        self.api, self.root = api, root
        self.network = network or PodNetwork.claim()
        self.crash_backoff = crash_backoff
        self.inline_stand_ins = inline_stand_ins
        self.core = client.CoreV1Api(api)
        self.coordination = client.CoordinationV1Api(api)
        self.images = images or {}
        self.host_images = host_images
        self.nodes = {n.name: n for n in nodes}
        self.env = env or {}
        self.stop = threading.Event()
        self.logs_port = 0
        self.pods: dict[str, PodWorker] = {}
        self.lock = threading.Lock()

    # -- nodes ------------------------------------------------------------------------------
    def node_body(self, shape: NodeShape) -> dict[str, Any]:
        capacity = {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "200Gi", **shape.extended}
        labels = {"kubernetes.io/arch": shape.arch, "kubernetes.io/os": "linux", "kubernetes.io/hostname": shape.name,
                  "beta.kubernetes.io/arch": shape.arch, "beta.kubernetes.io/os": "linux", **shape.labels}
        return {
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": shape.name, "labels": labels},
            "spec": {"taints": [dict(t) for t in shape.taints]} if shape.taints else {},
            "status": {"capacity": capacity, "allocatable": capacity, "conditions": self.conditions(),
                       # No Hostname address: the API server dials the first of Hostname and
                       # InternalIP for pods/log, and the node names do not resolve here.
                       "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": self.logs_port}},
                       "nodeInfo": {"architecture": shape.arch, "operatingSystem": "linux",
                                    "kubeletVersion": "v1.37.2", "kubeProxyVersion": "", "osImage": "modelyard process kubelet",
                                    "containerRuntimeVersion": "process://local", "kernelVersion": os.uname().release,
                                    "machineID": shape.name, "systemUUID": shape.name, "bootID": shape.name}}}

    @staticmethod
    def conditions() -> list[dict[str, str]]:
        stamp = now()
        ok = [("MemoryPressure", "False", "KubeletHasSufficientMemory"), ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
              ("PIDPressure", "False", "KubeletHasSufficientPID"), ("Ready", "True", "KubeletReady")]
        return [{"type": t, "status": s, "reason": r, "message": f"process kubelet: {r}",
                 "lastHeartbeatTime": stamp, "lastTransitionTime": stamp} for t, s, r in ok]

    def register(self) -> None:
        for shape in self.nodes.values():
            body = self.node_body(shape)
            try:
                self.core.create_node(body)
            except ApiException as error:
                if error.status != 409:
                    raise
                self.core.patch_node(shape.name, {"metadata": {"labels": body["metadata"]["labels"]},
                                                  "spec": body["spec"] or {"taints": None}})
            self.core.patch_node_status(shape.name, {"status": body["status"]}, _content_type=MERGE)

    def heartbeat_forever(self) -> None:
        beats = 0
        while not self.stop.is_set():
            try:
                for name in self.nodes:
                    self.renew_lease(name)
                    if beats % 3 == 0:
                        self.core.patch_node_status(name, {"status": {"conditions": self.conditions()}},
                                                    _content_type=MERGE)
                beats += 1
            except Exception as error:  # noqa: BLE001 - the API server may be restarting
                log.warning("heartbeat failed: %s", error)
            self.stop.wait(RENEW_SECONDS)

    def renew_lease(self, name: str) -> None:
        body = {"metadata": {"name": name, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": name, "leaseDurationSeconds": LEASE_SECONDS, "renewTime": now_micro()}}
        try:
            self.coordination.patch_namespaced_lease(name, "kube-node-lease", {"spec": body["spec"]}, _content_type=MERGE)
        except ApiException as error:
            if error.status != 404:
                raise
            self.coordination.create_namespaced_lease("kube-node-lease", body)

    # -- pods -------------------------------------------------------------------------------
    def watch_forever(self) -> None:
        while not self.stop.is_set():
            try:
                listed = self.core.list_pod_for_all_namespaces(_preload_content=False)
                payload = json.loads(listed.data)
                for pod in payload["items"]:
                    self.observe("ADDED", pod)
                version = payload["metadata"]["resourceVersion"]
                stream = watch.Watch()
                for event in stream.stream(self.core.list_pod_for_all_namespaces, resource_version=version,
                                           timeout_seconds=60, _preload_content=False):
                    if self.stop.is_set():
                        stream.stop()
                        break
                    if event["type"] == "ERROR":
                        break
                    self.observe(event["type"], event["raw_object"])
            except Exception as error:  # noqa: BLE001 - reconnect as a kubelet does
                if not self.stop.is_set():
                    log.warning("pod watch broke (%s); relisting", error)
                    self.stop.wait(1)

    def observe(self, kind: str, pod: dict[str, Any]) -> None:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        if spec.get("nodeName") not in self.nodes:
            return
        uid = meta["uid"]
        with self.lock:
            worker = self.pods.get(uid)
            if kind == "DELETED":
                if worker:
                    worker.terminate(0)
                    self.pods.pop(uid, None)
                return
            if worker is None:
                phase = (pod.get("status") or {}).get("phase", "Pending")
                if meta.get("deletionTimestamp") and phase in ("Succeeded", "Failed", "Pending"):
                    self.finish_deletion(pod)
                    return
                if phase != "Pending":
                    return  # ran under an earlier kubelet process; nothing left to do
                worker = self.pods[uid] = PodWorker(self, pod)
                worker.thread = threading.Thread(target=worker.run, name=f"pod-{meta['name']}", daemon=True)
                worker.thread.start()
            worker.latest = pod
            if meta.get("deletionTimestamp"):
                worker.terminate(int(spec.get("terminationGracePeriodSeconds") or 30))

    def finish_deletion(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        try:
            self.core.delete_namespaced_pod(meta["name"], meta["namespace"], grace_period_seconds=0,
                                            body=client.V1DeleteOptions(grace_period_seconds=0,
                                                                        preconditions={"uid": meta["uid"]}))
        except ApiException as error:
            if error.status not in (404, 409):
                log.warning("final delete of %s failed: %s", meta["name"], error)

    def event(self, pod: dict[str, Any], kind: str, reason: str, message: str) -> None:
        meta = pod["metadata"]
        body = {"metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
                "involvedObject": {"kind": "Pod", "apiVersion": "v1", "name": meta["name"],
                                   "namespace": meta["namespace"], "uid": meta["uid"]},
                "type": kind, "reason": reason, "message": message, "source": {"component": "kubelet",
                                                                              "host": pod["spec"]["nodeName"]},
                "firstTimestamp": now(), "lastTimestamp": now(), "count": 1, "reportingComponent": "kubelet",
                "reportingInstance": pod["spec"]["nodeName"]}
        try:
            self.core.create_namespaced_event(meta["namespace"], body)
        except ApiException as error:  # e.g. 403 in a namespace being deleted: dropped, as a kubelet's are
            log.warning("event %s on %s not written: %s %s", reason, meta["name"], error.status, error.reason)

    def container_log(self, namespace: str, pod: str, container: str) -> Path | None:
        with self.lock:
            worker = next((w for w in self.pods.values() if (w.namespace, w.name) == (namespace, pod)), None)
        return None if worker is None else worker.dir / "logs" / container

    def serve(self) -> None:
        from tests.support.kubelet_logs import serve_logs

        # pods/log: the API server proxies it to this port of the node (daemonEndpoints).
        self.logs_port = serve_logs(self.root / "tls", self.container_log).server_port
        self.register()
        threads = [threading.Thread(target=self.heartbeat_forever, name="heartbeat", daemon=True),
                   threading.Thread(target=self.watch_forever, name="pods", daemon=True)]
        for thread in threads:
            thread.start()
        self.stop.wait()
        with self.lock:
            workers = list(self.pods.values())
        for worker in workers:
            worker.terminate(0)
        deadline = time.monotonic() + 10
        for worker in workers:  # their processes end before the kubelet does, not orphaned
            if worker.thread is not None:
                worker.thread.join(max(0.0, deadline - time.monotonic()))
        self.network.close()


class PodWorker:
    """Runs one pod: init containers in order, then its main containers; with `restartPolicy:
    Always` (Deployments, ReplicaSets) each main container is kept running, restarted with a
    kubelet's back-off when it exits, until the pod is deleted; otherwise they run to a
    terminal phase."""

    def __init__(self, kubelet: Kubelet, pod: dict[str, Any]) -> None:
        self.kubelet, self.latest = kubelet, pod
        meta = pod["metadata"]
        self.name, self.namespace, self.uid = meta["name"], meta["namespace"], meta["uid"]
        self.dir = kubelet.root / "pods" / self.uid
        self.thread: threading.Thread | None = None
        self.stopping = threading.Event()
        self.status_lock = threading.RLock()
        self.grace = 30
        self.ip: str | None = None
        self.statuses: dict[str, dict[str, Any]] = {}
        self.init_statuses: dict[str, dict[str, Any]] = {}
        # Per container (names are unique across a pod's containers): probe results, restarts,
        # the last terminated state, and how its paths map onto this machine (for exec probes).
        self.ready: dict[str, bool] = {}
        self.started: dict[str, bool] = {}
        self.restarts: dict[str, int] = {}
        self.last_state: dict[str, dict[str, Any]] = {}
        self.exec_context: dict[str, tuple[dict[str, str], Any]] = {}
        self.running_once = False
        self.reported: set[str] = set()
        self.pulls_failed: dict[str, int] = {}

    @property
    def spec(self) -> dict[str, Any]:
        return self.latest["spec"]

    @property
    def always(self) -> bool:
        return self.spec.get("restartPolicy", "Always") == "Always"

    def terminate(self, grace: int) -> None:
        self.grace = min(grace, 10)
        self.stopping.set()

    # -- status -----------------------------------------------------------------------------
    def write_status(self, phase: str, **extra: Any) -> None:
        with self.status_lock:
            self._write_status(phase, **extra)

    def _write_status(self, phase: str, **extra: Any) -> None:
        current = {c["type"]: c for c in (self.latest.get("status") or {}).get("conditions") or []}
        initialized = all("terminated" in s["state"] and s["state"]["terminated"]["exitCode"] == 0
                          for s in self.init_statuses.values()) and \
            len(self.init_statuses) == len(self.spec.get("initContainers") or [])
        for name, status in list(self.statuses.items()):  # containers start in threads of their own
            running = "running" in status["state"]
            status["ready"] = running and self.ready.get(name, False)
            status["started"] = running and self.started.get(name, False)
            status["restartCount"] = self.restarts.get(name, 0)
            if name in self.last_state:
                status["lastState"] = {"terminated": self.last_state[name]}
        unready = [c["name"] for c in self.spec["containers"] if not (self.statuses.get(c["name"]) or {}).get("ready")]
        wanted = {"PodReadyToStartContainers": (initialized or bool(self.init_statuses), ""),
                  "Initialized": (initialized, ""),
                  "ContainersReady": (not unready, f"containers with unready status: [{' '.join(unready)}]"),
                  "Ready": (not unready, f"containers with unready status: [{' '.join(unready)}]")}
        for kind, (ok, message) in wanted.items():
            value = "True" if ok else "False"
            if current.get(kind, {}).get("status") != value:
                current[kind] = {"type": kind, "status": value, "lastTransitionTime": now(),
                                 **({} if ok else {"reason": "PodCompleted" if phase in ("Succeeded", "Failed")
                                                   else "ContainersNotReady"}),
                                 **({"message": message} if message and not ok else {})}
        addresses = {"podIP": self.ip, "podIPs": [{"ip": self.ip}]} if self.ip else {}
        status = {"phase": phase, "conditions": list(current.values()), "hostIP": "127.0.0.1",
                  "hostIPs": [{"ip": "127.0.0.1"}], **addresses,
                  "startTime": (self.latest.get("status") or {}).get("startTime") or now(),
                  "containerStatuses": [self.statuses[c["name"]] for c in self.spec["containers"]
                                        if c["name"] in self.statuses] or None,
                  "initContainerStatuses": [self.init_statuses[c["name"]] for c in self.spec.get("initContainers") or []
                                            if c["name"] in self.init_statuses] or None, **extra}
        try:
            updated = self.kubelet.core.patch_namespaced_pod_status(self.name, self.namespace, {"status": status},
                                                                    _content_type=MERGE, _preload_content=False)
            self.latest = json.loads(updated.data)
        except ApiException as error:
            if error.status == 404:
                self.stopping.set()
            else:
                log.warning("status of %s failed: %s", self.name, error)

    def waiting(self, statuses: dict[str, dict[str, Any]], container: dict[str, Any], reason: str, message: str) -> None:
        statuses[container["name"]] = self.container_status(container, {"waiting": {"reason": reason, "message": message}})

    @staticmethod
    def container_status(container: dict[str, Any], state: dict[str, Any], restarts: int = 0) -> dict[str, Any]:
        return {"name": container["name"], "image": container["image"], "imageID": f"process://{container['image']}",
                "ready": False, "started": False, "restartCount": restarts, "state": state,
                "containerID": f"process://{container['name']}"}

    # -- what a container needs -------------------------------------------------------------
    def read(self, kind: str, name: str) -> dict[str, str] | None:
        try:
            if kind == "secret":
                data = self.kubelet.core.read_namespaced_secret(name, self.namespace).data or {}
                return {k: base64.b64decode(v).decode() for k, v in data.items()}
            return self.kubelet.core.read_namespaced_config_map(name, self.namespace).data or {}
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def volumes(self) -> dict[str, Path]:
        """Back every volume with a host folder; a missing ConfigMap/Secret raises WaitingError."""
        found: dict[str, Path] = {}
        for volume in self.spec.get("volumes") or []:
            path = self.dir / "volumes" / volume["name"]
            path.mkdir(parents=True, exist_ok=True)
            found[volume["name"]] = path
            if "emptyDir" in volume:
                continue
            sources = []
            if "configMap" in volume:
                sources = [("configMap", volume["configMap"])]
            elif "secret" in volume:
                sources = [("secret", {**volume["secret"], "name": volume["secret"]["secretName"]})]
            elif "projected" in volume:
                sources = [(k, v) for s in volume["projected"]["sources"] for k, v in s.items()]
            else:
                raise WaitingError("ContainerCreating", f"volume {volume['name']!r}: this kubelet mounts emptyDir, "
                                   "configMap, secret and projected volumes only")
            for kind, source in sources:
                self.fill(path, volume["name"], kind, source)
        return found

    def fill(self, path: Path, volume: str, kind: str, source: dict[str, Any]) -> None:
        if kind == "serviceAccountToken":
            request = {"spec": {"audiences": [source["audience"]] if source.get("audience") else None,
                                "expirationSeconds": source.get("expirationSeconds", 3600),
                                "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": self.name, "uid": self.uid}}}
            token = self.kubelet.core.create_namespaced_service_account_token(
                self.spec.get("serviceAccountName", "default"), self.namespace, request)
            (path / source["path"]).write_text(token.status.token)
            return
        if kind == "downwardAPI":
            for item in source.get("items") or []:
                (path / item["path"]).write_text(str(self.field(item["fieldRef"]["fieldPath"])))
            return
        label = "configmap" if kind == "configMap" else "secret"
        data = self.read("configMap" if kind == "configMap" else "secret", source["name"])
        if data is None:
            if source.get("optional"):
                return
            message = f'MountVolume.SetUp failed for volume "{volume}" : {label} "{source["name"]}" not found'
            raise WaitingError("ContainerCreating", message)
        items = source.get("items") or [{"key": k, "path": k} for k in data]
        for item in items:
            if item["key"] not in data:
                if source.get("optional"):
                    continue
                raise WaitingError("ContainerCreating", f'MountVolume.SetUp failed for volume "{volume}" : '
                                   f'configmap references non-existent config key: {item["key"]}')
            target = path / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(data[item["key"]])

    def field(self, path: str) -> str:
        meta = self.latest["metadata"]
        values = {"metadata.name": meta["name"], "metadata.namespace": meta["namespace"], "metadata.uid": meta["uid"],
                  "spec.nodeName": self.spec.get("nodeName", ""), "spec.serviceAccountName": self.spec.get("serviceAccountName", ""),
                  "status.hostIP": "127.0.0.1", "status.hostIPs": "127.0.0.1",
                  "status.podIP": self.ip or "", "status.podIPs": self.ip or ""}
        match = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
        if match:
            return (meta.get(match.group(1)) or {}).get(match.group(2), "")
        return values.get(path, "")

    def environment(self, container: dict[str, Any]) -> dict[str, str]:
        env: dict[str, str] = {}
        for source in container.get("envFrom") or []:
            kind = "configMap" if "configMapRef" in source else "secret"
            ref = source.get("configMapRef") or source.get("secretRef")
            data = self.read(kind, ref["name"])
            if data is None:
                if ref.get("optional"):
                    continue
                raise WaitingError("CreateContainerConfigError",
                                   f'{"configmap" if kind == "configMap" else "secret"} "{ref["name"]}" not found')
            env.update({source.get("prefix", "") + k: v for k, v in data.items()})
        for item in container.get("env") or []:
            if "value" in item:
                env[item["name"]] = re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                                           lambda m: env.get(m.group(1), m.group(0)), item["value"])
                continue
            source = item.get("valueFrom") or {}
            if "fieldRef" in source:
                env[item["name"]] = self.field(source["fieldRef"]["fieldPath"])
            elif "secretKeyRef" in source or "configMapKeyRef" in source:
                kind = "secret" if "secretKeyRef" in source else "configMap"
                ref = source.get("secretKeyRef") or source.get("configMapKeyRef")
                data = self.read(kind, ref["name"])
                label = "Secret" if kind == "secret" else "ConfigMap"
                if data is None:
                    if ref.get("optional"):
                        continue
                    raise WaitingError("CreateContainerConfigError", f'{label.lower()} "{ref["name"]}" not found')
                if ref["key"] not in data:
                    if ref.get("optional"):
                        continue
                    raise WaitingError("CreateContainerConfigError",
                                       f"couldn't find key {ref['key']} in {label} {self.namespace}/{ref['name']}")
                env[item["name"]] = data[ref["key"]]
            else:
                env[item["name"]] = ""
        return env

    def image_root(self, image: str) -> Path | None:
        """None for an image that runs on the host; raises WaitingError when it cannot be pulled."""
        if any(fnmatch.fnmatch(image, pattern) for pattern in self.kubelet.host_images):
            return None
        if image in self.kubelet.images:
            return self.kubelet.images[image]
        raise WaitingError("ErrImagePull", f'Failed to pull image "{image}": rpc error: code = NotFound desc = '
                           f'failed to pull and unpack image "{image}": not found')

    # -- running ----------------------------------------------------------------------------
    def prepare(self, container: dict[str, Any], statuses: dict[str, dict[str, Any]],
                volumes: dict[str, Path]) -> tuple[list[str], dict[str, str], Path, Path] | None:
        """Everything a container needs, or None when it must wait (its status says why)."""
        try:
            root = self.image_root(container["image"])
        except WaitingError as error:
            self.pulls_failed[container["name"]] = self.pulls_failed.get(container["name"], 0) + 1
            if self.pulls_failed[container["name"]] > 1:  # as a kubelet backs off after the first failure
                error = WaitingError("ImagePullBackOff", f'Back-off pulling image "{container["image"]}": {error.message}')
            self.report_once(statuses, container, error, "Failed")
            return None
        try:
            env = self.environment(container)
        except WaitingError as error:
            self.report_once(statuses, container, error, "Failed")
            return None
        logs = self.dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        termination = self.dir / "termination" / container["name"]
        termination.parent.mkdir(parents=True, exist_ok=True)
        termination.write_text("")
        mapping = {m["mountPath"].rstrip("/"): str(volumes[m["name"]]) for m in container.get("volumeMounts") or []}
        mapping[container.get("terminationMessagePath", "/dev/termination-log")] = str(termination)

        def host(value: str) -> str:
            for mount in sorted(mapping, key=len, reverse=True):
                if value == mount or value.startswith(mount + "/"):
                    return mapping[mount] + value[len(mount):]
            if root is not None and value.startswith("/") and not value.startswith("/dev/"):
                return str(root) + value
            return value

        command = [host(a) for a in (container.get("command") or []) + (container.get("args") or [])]
        if not command:
            self.report_once(statuses, container, WaitingError("CreateContainerError", "no command specified"), "Failed")
            return None
        if command[0] in ("python", "python3") and root is None:
            command[0] = sys.executable
        elif shutil.which(command[0]) is None:
            message = (f'failed to create containerd task: exec: "{command[0]}": executable file not found in $PATH')
            statuses[container["name"]] = self.container_status(container, {"terminated": {
                "exitCode": 128, "reason": "StartError", "message": message, "startedAt": now(), "finishedAt": now()}})
            return [], {}, termination, logs / container["name"]
        env = {k: host(v) for k, v in env.items()}
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "PYTHONHASHSEED")
                or k.startswith(("OPENBLAS_", "OMP_", "MKL_"))}
        if "/tmp" in mapping:
            base["TMPDIR"] = mapping["/tmp"]
        if self.ip:  # the pod's own address: its servers bind it (there is no network namespace)
            base["MODELYARD_SERVE_HOST"] = self.ip
        env = {**base, "HOSTNAME": self.name, **self.kubelet.env, **env}
        self.exec_context[container["name"]] = (env, host)
        return command, env, termination, logs / container["name"]

    def report_once(self, statuses: dict[str, dict[str, Any]], container: dict[str, Any], error: WaitingError,
                    event_reason: str) -> None:
        self.waiting(statuses, container, error.reason, error.message)
        if error.message not in self.reported:
            self.reported.add(error.message)
            self.kubelet.event(self.latest, "Warning", event_reason, error.message)

    def run_container(self, container: dict[str, Any], statuses: dict[str, dict[str, Any]],
                      volumes: dict[str, Path], stand_in: dict[str, Any] | None) -> int | None:
        """Run one container to its end: its exit code, or None when the pod was stopped first."""
        while True:
            if self.stopping.is_set():
                return None
            prepared = self.prepare(container, statuses, volumes)
            if prepared is not None:
                break
            self.write_status("Running" if self.running_once else "Pending")
            self.stopping.wait(2)
        command, env, termination, logfile = prepared
        if not command:  # could not start
            return statuses[container["name"]]["state"]["terminated"]["exitCode"]
        started = now()
        if stand_in is not None and self.kubelet.inline_stand_ins:
            termination.write_text(json.dumps(stand_in))
            terminated = {"exitCode": 0 if stand_in.get("ok") else 1, "startedAt": started, "finishedAt": now(),
                          "reason": "Completed" if stand_in.get("ok") else "Error",
                          "message": json.dumps(stand_in)[-MESSAGE_BYTES:], "containerID": f"process://{container['name']}"}
            statuses[container["name"]] = self.container_status(container, {"terminated": terminated})
            return terminated["exitCode"]
        if stand_in is not None:
            command = [sys.executable, "-c", "import json,os,sys; r=json.loads(sys.argv[1]); "
                       "open(sys.argv[2],'w').write(json.dumps(r)); sys.exit(0 if r.get('ok') else 1)",
                       json.dumps(stand_in), str(termination)]
        name = container["name"]
        trackers = self.trackers(container)
        self.started[name] = STARTUP not in trackers
        self.ready[name] = self.started[name] and READINESS not in trackers
        with open(logfile, "ab") as out:  # appended across restarts, as `logs --previous` would show
            process = subprocess.Popen(command, env=env, cwd=self.dir, stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
            statuses[name] = self.container_status(container, {"running": {"startedAt": started}})
            if statuses is self.statuses:
                self.running_once = True
            self.write_status("Pending" if statuses is self.init_statuses else "Running")
            self.kubelet.event(self.latest, "Normal", "Started", f"Started container {name}")
            killed = unhealthy = False
            while process.poll() is None:
                if self.stopping.wait(0.2) and not killed:
                    killed = True
                    self.kubelet.event(self.latest, "Normal", "Killing", f"Stopping container {name}")
                    self.kill(process, self.grace)
                elif not killed and not unhealthy and trackers:
                    failed = self.probe(container, trackers)
                    if failed:
                        unhealthy = True
                        self.kubelet.event(self.latest, "Normal", "Killing", f"Container {name} failed {failed} "
                                           "probe, will be restarted")
                        self.kill(process, int(trackers[failed].probe.spec.get("terminationGracePeriodSeconds")
                                               or self.spec.get("terminationGracePeriodSeconds") or 30))
            code = process.wait()
        self.ready[name] = self.started[name] = False
        code = 128 - code if code < 0 else code
        message = termination.read_text()[-MESSAGE_BYTES:] if termination.exists() else ""
        if not message and code != 0 and container.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            lines = logfile.read_bytes().decode(errors="replace").splitlines()[-FALLBACK_LINES:]
            message = "\n".join(lines)[-FALLBACK_BYTES:]
        terminated = {"exitCode": code, "reason": "Completed" if code == 0 else "Error", "startedAt": started,
                      "finishedAt": now(), "containerID": f"process://{name}"}
        if message:
            terminated["message"] = message
        statuses[name] = self.container_status(container, {"terminated": terminated})
        return None if killed else code

    def kill(self, process: subprocess.Popen, grace: float) -> None:
        """SIGTERM to the container's process group, SIGKILL after the grace period."""
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(min(grace, 10))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    # -- probes -----------------------------------------------------------------------------
    def trackers(self, container: dict[str, Any]) -> dict[str, Tracker]:
        started = time.monotonic()
        found = {}
        for kind, key in ((STARTUP, "startupProbe"), (READINESS, "readinessProbe"), (LIVENESS, "livenessProbe")):
            if container.get(key):
                found[kind] = Tracker(Probe(kind, container[key]), started)
        return found

    def probe(self, container: dict[str, Any], trackers: dict[str, Tracker]) -> str | None:
        """Run the probes that are due; the kind of a failed liveness or startup probe, if any
        (the container is then restarted)."""
        name, moment = container["name"], time.monotonic()
        ports = {p["name"]: int(p["containerPort"]) for p in container.get("ports") or [] if p.get("name")}
        order = [STARTUP] if not self.started[name] else [READINESS, LIVENESS]
        for kind in order:
            tracker = trackers.get(kind)
            if tracker is None or not tracker.due(moment):
                continue
            ok, why = tracker.probe.check(self.ip or "127.0.0.1", ports, lambda c, t: self.exec_probe(name, c, t))
            turned = tracker.record(ok, time.monotonic())
            if not ok:
                self.unhealthy(name, kind, why)
            if tracker.failed and kind in (STARTUP, LIVENESS):
                return kind
            if turned and kind == STARTUP:
                self.started[name] = True
                self.ready[name] = READINESS not in trackers
                self.write_status("Running")
            elif turned and kind == READINESS:
                self.ready[name] = tracker.result
                self.write_status("Running")
        return None

    def unhealthy(self, container: str, kind: str, why: str) -> None:
        """The `Unhealthy` event, once per distinct failure (a kubelet counts repeats into one)."""
        key = f"probe:{container}:{kind}:{why}"
        if key not in self.reported:
            self.reported.add(key)
            self.kubelet.event(self.latest, "Warning", "Unhealthy", f"{LABEL[kind]} probe failed: {why}")

    def exec_probe(self, container: str, command: list[str], timeout: float) -> int:
        env, host = self.exec_context[container]
        args = [host(a) for a in command]
        if args and args[0] in ("python", "python3"):
            args[0] = sys.executable
        return subprocess.run(args, env=env, cwd=self.dir, capture_output=True, timeout=timeout).returncode

    def stand_in(self, container: dict[str, Any]) -> dict[str, Any] | None:
        component = (self.latest["metadata"].get("labels") or {}).get("app.kubernetes.io/component", "")
        path = self.kubelet.root / "results" / self.namespace / f"{component}.json"
        if component and path.exists():
            return json.loads(path.read_text())
        return None

    def run(self) -> None:
        try:
            self.lifecycle()
        except Exception:  # noqa: BLE001 - a kubelet never dies of one pod
            log.exception("pod %s/%s", self.namespace, self.name)
        finally:
            if self.latest["metadata"].get("deletionTimestamp") or self.stopping.is_set():
                self.kubelet.finish_deletion(self.latest)
            with self.kubelet.lock:
                self.kubelet.pods.pop(self.uid, None)
            if self.ip and not self.spec.get("hostNetwork"):
                self.kubelet.network.release(self.ip)
            shutil.rmtree(self.dir / "volumes", ignore_errors=True)

    def lifecycle(self) -> None:
        while True:
            try:
                volumes = self.volumes()
                break
            except WaitingError as error:
                for container in self.spec.get("initContainers") or self.spec["containers"]:
                    statuses = self.init_statuses if self.spec.get("initContainers") else self.statuses
                    self.waiting(statuses, container, "ContainerCreating", "")
                if error.message not in self.reported:
                    self.reported.add(error.message)
                    self.kubelet.event(self.latest, "Warning", "FailedMount", error.message)
                self.write_status("Pending")
                if self.stopping.wait(2):
                    return self.stopped()
        # The pod's sandbox: its address, before any container starts (init containers see it too).
        if self.spec.get("hostNetwork"):
            self.ip = "127.0.0.1"
        else:
            ports = {int(p["containerPort"]) for c in self.spec["containers"] for p in c.get("ports") or []}
            self.ip = self.kubelet.network.allocate(sorted(ports))
        for container in self.spec.get("initContainers") or []:
            code = self.run_container(container, self.init_statuses, volumes, None)
            if code is None:
                return self.stopped()
            if code != 0:
                for main in self.spec["containers"]:
                    self.waiting(self.statuses, main, "PodInitializing", "")
                return self.write_status("Failed")
        if self.always:
            return self.keep_running(volumes)
        codes = []
        for container in self.spec["containers"]:
            codes.append(self.run_container(container, self.statuses, volumes, self.stand_in(container)))
            if codes[-1] is None:
                return self.stopped()
        self.write_status("Succeeded" if all(c == 0 for c in codes) else "Failed")

    def keep_running(self, volumes: dict[str, Path]) -> None:
        """`restartPolicy: Always`: every main container at once, each restarted when it exits,
        until the pod is deleted; the pod stays Running meanwhile."""
        threads = [threading.Thread(target=self.restart_forever, args=(c, volumes), daemon=True,
                                    name=f"pod-{self.name}-{c['name']}") for c in self.spec["containers"]]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.stopped()

    def restart_forever(self, container: dict[str, Any], volumes: dict[str, Path]) -> None:
        name, crashes = container["name"], 0
        while not self.stopping.is_set():
            if name in self.last_state:  # restartCount counts the restarts made, not the exits
                self.restarts[name] = self.restarts.get(name, 0) + 1
            began = time.monotonic()
            code = self.run_container(container, self.statuses, volumes, None)
            if code is None:
                return
            if time.monotonic() - began > 2 * MAX_CRASH_BACKOFF:
                crashes = 0  # a kubelet forgets the back-off of a container that ran for a while
            delay = crash_backoff(crashes, self.kubelet.crash_backoff)
            crashes += 1
            self.last_state[name] = self.statuses[name]["state"]["terminated"]
            if delay:
                message = (f"back-off {delay:g}s restarting failed container={name} "
                           f"pod={self.name}_{self.namespace}({self.uid})")
                self.waiting(self.statuses, container, "CrashLoopBackOff", message)
                self.kubelet.event(self.latest, "Warning", "BackOff",
                                   f"Back-off restarting failed container {name} in pod {self.name}_{self.namespace}({self.uid})")
                self.write_status("Running")
                if self.stopping.wait(delay):
                    return

    def stopped(self) -> None:
        """A pod stopped by deletion: terminal phase first, as the Job controller expects."""
        for status in [*self.statuses.values(), *self.init_statuses.values()]:
            if "terminated" not in status["state"]:
                status["state"] = {"terminated": {"exitCode": 137, "reason": "Error", "finishedAt": now()}}
        self.write_status("Failed")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.support.kubelet", description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--image", action="append", default=[], metavar="NAME=DIR",
                        help="an image whose filesystem is the folder DIR")
    parser.add_argument("--inline-stand-ins", action="store_true",
                        help="write stand-in worker results without starting a process (benches)")
    parser.add_argument("--crash-backoff", type=float, default=CRASH_BACKOFF, metavar="SECONDS",
                        help="the first back-off before restarting a crashing container (doubles up to 5 minutes)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s kubelet %(message)s")
    api = config.new_client_from_config(args.kubeconfig)
    images = dict(item.split("=", 1) for item in args.image)
    kubelet = Kubelet(api, args.root, images={k: Path(v) for k, v in images.items()},
                      inline_stand_ins=args.inline_stand_ins, crash_backoff=args.crash_backoff)
    signal.signal(signal.SIGTERM, lambda *_: kubelet.stop.set())
    signal.signal(signal.SIGINT, lambda *_: kubelet.stop.set())
    kubelet.serve()


if __name__ == "__main__":
    main()
