"""The emulator-side test kubelet (for the kmock emulator only; on the real control plane
Pods run under tests/support/kubelet.py): runs each worker Job's container command as a local
process, for real, and writes the pod (with its termination message) and the Job's status back to the API.

It is a Kopf handler on batch/v1 Jobs, registered beside the operator's handlers in tests, so
it reacts to events instead of polling.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import kopf
from kubernetes import client


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Kubelet:
    """Runs Jobs for real, or, when `results` has an entry for the Job's component (import,
    convert, evaluate), completes it at once with that worker result (exit code from `ok`).
    With `hold=True` it leaves Jobs pending (to stop the operator in between)."""

    api: client.ApiClient
    root: Path
    env: dict[str, str] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    hold: bool = False
    started: list[str] = field(default_factory=list)

    def register(self, registry: kopf.OperatorRegistry) -> None:
        def is_job(body: Any, **_: Any) -> bool:
            return body.get("kind", "Job") == "Job" and "template" in (body.get("spec") or {})

        @kopf.on.event("batch", "v1", "jobs", registry=registry, id="test-kubelet", when=is_job)
        def run_job(body: Any, event: dict[str, Any], **_: Any) -> None:
            if event.get("type") == "DELETED":
                return
            name = body["metadata"]["name"]
            if self.hold or (body.get("status") or {}).get("startTime") or name in self.started:
                return
            self.started.append(name)
            self.run(dict(body))

    def _container_env(self, container: dict[str, Any], workdir: Path, termination: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODELYARD_")}
        for item in container.get("env") or []:
            if "value" in item:
                env[item["name"]] = item["value"]
        env.update(self.env)
        env.update(MODELYARD_WORKDIR=str(workdir), MODELYARD_TERMINATION_LOG=str(termination), HOME=str(workdir))
        return env

    def run(self, job: dict[str, Any]) -> None:
        batch = client.BatchV1Api(self.api)
        core = client.CoreV1Api(self.api)
        meta = job["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        batch.patch_namespaced_job_status(name, namespace, {"status": {"startTime": _now(), "active": 1}})
        container = job["spec"]["template"]["spec"]["containers"][0]
        component = (meta.get("labels") or {}).get("app.kubernetes.io/component", "")
        if component in self.results:
            result = self.results[component]
            code, message = (0 if result.get("ok") else 1), json.dumps(result)
        else:
            with tempfile.TemporaryDirectory(dir=self.root) as scratch:
                workdir = Path(scratch)
                termination = workdir / "termination-log"
                command = [sys.executable, *container["command"][1:]]
                done = subprocess.run(command, env=self._container_env(container, workdir, termination),
                                      capture_output=True, text=True, cwd=workdir, timeout=300)
                code = done.returncode
                message = termination.read_text() if termination.exists() else (done.stdout + done.stderr)[-4096:]
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"{name}-pod", "namespace": namespace, "labels": {"job-name": name},
                         "creationTimestamp": _now()},
            "spec": {"containers": [{"name": container["name"], "image": container["image"]}]},
            "status": {"phase": "Succeeded" if code == 0 else "Failed", "containerStatuses": [{
                "name": container["name"], "image": container["image"], "imageID": "", "ready": False,
                "restartCount": 0, "state": {"terminated": {"exitCode": code, "message": message,
                                                             "reason": "Completed" if code == 0 else "Error"}},
            }]},
        }
        core.create_namespaced_pod(namespace, pod)
        condition = {"type": "Complete" if code == 0 else "Failed", "status": "True", "lastTransitionTime": _now(),
                     "reason": "" if code == 0 else "PodFailurePolicy", "message": ""}
        status: dict[str, Any] = {"active": 0, "conditions": [condition]}
        if code == 0:
            status.update(succeeded=1, completionTime=_now())
        else:
            status["failed"] = 1
        batch.patch_namespaced_job_status(name, namespace, {"status": status})
