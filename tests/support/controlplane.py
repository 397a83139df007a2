"""The real control plane in tests: hack/controlplane.sh, the process kubelet, the chart
installed with helm, and the operator as a local process authenticated as the chart's
ServiceAccount (so every call it makes is authorised by the chart's RBAC and nothing more).

A component that fails to start fails the tier with that component's log tail.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from tests.support.helm import CHART, RELEASE, ROOT, tool
from tests.support.s3server import free_port

SCRIPT = ROOT / "hack" / "controlplane.sh"
RELEASE_NAMESPACE = "modelyard-system"
OPERATOR_SA = "modelyard-operator"


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return f"({path} does not exist)"


def wait_until(what: str, check: Callable[[], Any], timeout: float = 60, every: float = 0.1,
               log: Path | None = None) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` (and a log tail) at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            extra = f"\nthe end of {log}:\n{tail(log)}" if log else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{extra}")
        time.sleep(every)


@dataclass
class Process:
    """A background process with its log file; `stop()` ends its whole process group."""

    name: str
    command: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(self.command, env={**os.environ, **self.env}, cwd=ROOT, stdout=out,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def check_alive(self) -> None:
        if not self.alive():
            raise AssertionError(f"{self.name} exited ({self.popen and self.popen.returncode}); "
                                 f"the end of {self.log}:\n{tail(self.log)}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if not self.alive():
            return
        os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


@dataclass
class ControlPlane:
    state: Path

    @property
    def kubeconfig(self) -> Path:
        return self.state / "kubeconfig"

    def script(self, *args: str) -> None:
        done = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True)
        if done.returncode != 0:
            raise AssertionError(f"hack/controlplane.sh {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> None:
        self.script("start", str(self.state))

    def stop(self) -> None:
        self.script("stop", str(self.state))

    def restart(self, component: str) -> None:
        self.script("restart", str(self.state), component)

    def api(self) -> client.ApiClient:
        return config.new_client_from_config(str(self.kubeconfig))

    def kubectl(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([kubectl_binary(), "--kubeconfig", str(self.kubeconfig), *args], capture_output=True,
                              text=True, input=input)
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def helm(self, *args: str) -> str:
        done = subprocess.run([tool("helm"), "--kubeconfig", str(self.kubeconfig), *args], capture_output=True,
                              text=True, cwd=ROOT)
        if done.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout


@functools.cache
def kubectl_binary() -> str:
    """kubectl of the control plane's own release (built beside it)."""
    done = subprocess.run(["bash", str(SCRIPT), "build"], capture_output=True, text=True)
    if done.returncode != 0:
        raise AssertionError(f"hack/controlplane.sh build failed:\n{done.stderr}")
    return str(Path(done.stdout.strip()) / "kubectl")


def start_kubelet(cp: ControlPlane, images: dict[str, Path] | None = None, *flags: str) -> Process:
    args = [sys.executable, "-m", "tests.support.kubelet", "--kubeconfig", str(cp.kubeconfig),
            "--root", str(cp.state / "kubelet"), *flags]
    for name, path in (images or {}).items():
        args += ["--image", f"{name}={path}"]
    kubelet = Process("kubelet", args, cp.state / "logs" / "kubelet.log")
    kubelet.start()
    core = client.CoreV1Api(cp.api())

    def ready() -> bool:
        kubelet.check_alive()
        nodes = core.list_node().items
        return len(nodes) >= 4 and all(
            any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or []) for n in nodes)

    wait_until("four Ready nodes", ready, timeout=30, log=kubelet.log)
    return kubelet


def install_chart(cp: ControlPlane, sets: dict[str, str]) -> None:
    """`helm install` as the README says; the operator then runs as a local process (below), so
    the chart's Deployment is scaled to zero, as one does to run an operator out of cluster."""
    args = ["install", RELEASE, str(CHART), "--namespace", RELEASE_NAMESPACE, "--create-namespace"]
    for key, value in sets.items():
        args += ["--set", f"{key}={value}"]
    cp.helm(*args)
    cp.kubectl("-n", RELEASE_NAMESPACE, "scale", "deployment/modelyard-operator", "--replicas=0")


def service_account_kubeconfig(cp: ControlPlane, target: Path, namespace: str = RELEASE_NAMESPACE,
                               account: str = OPERATOR_SA) -> Path:
    """A kubeconfig with a TokenRequest token of the ServiceAccount (what its pod would mount)."""
    core = client.CoreV1Api(cp.api())
    token = core.create_namespaced_service_account_token(
        account, namespace, {"spec": {"expirationSeconds": 24 * 3600}}).status.token
    admin = yaml.safe_load(cp.kubeconfig.read_text())
    cluster = admin["clusters"][0]
    target.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "clusters": [cluster],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": account, "context": {"cluster": cluster["name"], "user": account}}],
        "current-context": account}))
    return target


def operator_environment(cp: ControlPlane, folder: Path) -> dict[str, str]:
    """The environment the chart's Deployment gives the operator, with its mounted files made local."""
    apps = client.AppsV1Api(cp.api())
    deployment = apps.read_namespaced_deployment("modelyard-operator", RELEASE_NAMESPACE)
    container = deployment.spec.template.spec.containers[0]
    core = client.CoreV1Api(cp.api())
    env: dict[str, str] = {}
    for source in container.env_from or []:  # the store settings' ConfigMap
        env.update(core.read_namespaced_config_map(source.config_map_ref.name, RELEASE_NAMESPACE).data or {})
    env.update({item.name: item.value for item in container.env or [] if item.value is not None})
    profiles = core.read_namespaced_config_map("modelyard-profiles", RELEASE_NAMESPACE)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "profiles.yaml").write_text(profiles.data["profiles.yaml"])
    env["MODELYARD_PROFILES_FILE"] = str(folder / "profiles.yaml")
    env.pop("MODELYARD_TEMPLATES_DIR", None)
    return env


@dataclass
class Operator:
    """The operator (`modelyard operator`) as a local process with the chart's identity and settings."""

    cp: ControlPlane
    folder: Path
    overrides: dict[str, str] = field(default_factory=dict)
    process: Process | None = None
    health_port: int = 0

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        kubeconfig = service_account_kubeconfig(self.cp, self.folder / "kubeconfig")
        env = operator_environment(self.cp, self.folder)
        self.health_port = free_port()
        env.update(KUBECONFIG=str(kubeconfig), MODELYARD_HEALTH_PORT=str(self.health_port),
                   MODELYARD_METRICS_PORT=str(free_port()), **self.overrides)
        self.process = Process("operator", [sys.executable, "-m", "modelyard", "operator"],
                               self.folder / "operator.log", env)
        self.process.start()
        wait_until("the operator's liveness endpoint", self.healthy, timeout=60, log=self.process.log)

    def healthy(self) -> bool:
        assert self.process is not None
        self.process.check_alive()
        import urllib.request

        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=2) as reply:
                return reply.status == 200
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            self.process.stop(sig)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        assert self.process is not None
        return self.process.log.read_text(errors="replace")


def create_namespace(cp: ControlPlane, name: str, secret: dict[str, str] | None, worker_account: bool = True) -> None:
    """A namespace as a platform team prepares one: the store credentials and the worker account."""
    core = client.CoreV1Api(cp.api())
    core.create_namespace({"metadata": {"name": name, "labels": {"modelyard.dev/test": "true"}}})
    if secret is not None:
        core.create_namespaced_secret(name, {"metadata": {"name": "model-store-credentials"}, "stringData": secret})
    if worker_account:
        core.create_namespaced_service_account(name, {"metadata": {"name": "modelyard-worker"},
                                                      "automountServiceAccountToken": False})


def delete_namespace(cp: ControlPlane, name: str) -> None:
    try:
        client.CoreV1Api(cp.api()).delete_namespace(name)
    except ApiException as error:
        if error.status != 404:
            raise


def events_for(cp: ControlPlane, namespace: str, name: str) -> list[dict[str, Any]]:
    raw = client.CoreV1Api(cp.api()).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}", _preload_content=False)
    return json.loads(raw.data)["items"]


@dataclass
class Kube:
    """The whole test bed: control plane, kubelet, chart, operator, and the store's bucket."""

    cp: ControlPlane
    kubelet: Process
    operator: Operator
    bucket: str
    s3_endpoint: str

    @property
    def store_uri(self) -> str:
        return f"s3://{self.bucket}/store"


@dataclass
class Namespace:
    """One test's namespace, read and written as a user would: kubectl and the API."""

    kube: Kube
    name: str

    @property
    def cp(self) -> ControlPlane:
        return self.kube.cp

    def kubectl(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.cp.kubectl("-n", self.name, *args, check=check, input=input)

    def apply(self, *manifests: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        return self.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(manifests))

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        done = self.kubectl("get", kind, name, "-o", "json", check=False)
        if done.returncode != 0:
            if "NotFound" in done.stderr:
                return None
            raise AssertionError(done.stderr)
        return json.loads(done.stdout)

    def read(self, plural: str, name: str) -> dict[str, Any] | None:
        """An object of ours straight from the API (cheaper than kubectl in a polling loop)."""
        from modelyard.api import GROUP, VERSION

        try:
            return client.CustomObjectsApi(self.cp.api()).get_namespaced_custom_object(
                GROUP, VERSION, self.name, plural, name)
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def status(self, plural: str, name: str) -> dict[str, Any]:
        return dict((self.read(plural, name) or {}).get("status") or {})

    def wait_phase(self, plural: str, name: str, *phases: str, timeout: float = 60) -> dict[str, Any]:
        return self.wait_status(plural, name, f"phase {phases}", lambda s: s.get("phase") in phases, timeout)

    def wait_status(self, plural: str, name: str, what: str, check: Callable[[dict[str, Any]], Any],
                    timeout: float = 60) -> dict[str, Any]:
        """Wait until `check(status)`; on the deadline, fail with what a user would look at."""
        def reached() -> dict[str, Any] | None:
            self.kube.operator.process.check_alive()
            status = self.status(plural, name)
            return status if check(status) else None
        try:
            return wait_until(f"{plural}/{name}: {what}", reached, timeout=timeout, every=0.2)
        except AssertionError as error:
            raise AssertionError(f"{error}\nits status: {json.dumps(self.status(plural, name))[:2000]}\n"
                                 f"the operator's log:\n{tail(self.kube.operator.process.log)}\n"
                                 f"the namespace:\n{self.describe()}") from None

    def describe(self) -> str:
        """What a user would look at when something hangs: our objects, Jobs, pods, events."""
        lines = []
        done = self.kubectl("get", "modelyard,jobs,pods", "-o", "json", check=False)
        for item in json.loads(done.stdout or '{"items": []}')["items"]:
            meta, status = item["metadata"], item.get("status") or {}
            facts = {"phase": status.get("phase"), "message": (status.get("message") or "")[:300],
                     "finalizers": meta.get("finalizers"), "deleting": meta.get("deletionTimestamp"),
                     "owners": [o["kind"] + "/" + o["name"] for o in meta.get("ownerReferences") or []],
                     "conditions": [f"{c['type']}={c['status']}:{c.get('reason', '')}" for c in status.get("conditions") or []]}
            lines.append(f"{item['kind']}/{meta['name']}: {json.dumps({k: v for k, v in facts.items() if v})}")
        events = self.kubectl("get", "events", "--sort-by=.lastTimestamp", check=False).stdout
        return "\n".join(lines) + "\n" + events[-3000:]

    def names(self, resource: str) -> list[str]:
        done = self.kubectl("get", resource, "-o", "jsonpath={.items[*].metadata.name}")
        return sorted(done.stdout.split())

    def events(self, name: str) -> list[dict[str, Any]]:
        return events_for(self.cp, self.name, name)

    def stand_in(self, component: str, result: dict[str, Any]) -> None:
        """The worker of `component` Jobs in this namespace ends at once with `result`."""
        folder = self.cp.state / "kubelet" / "results" / self.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{component}.json").write_text(json.dumps(result))
