"""Containers tier (opt-in: `pytest -m containers`): Modelyard's own images, built without a
container engine (tests/support/images.py), pushed to the loopback registry, pulled by
containerd 1.6 (`ctr image pull --plain-http`) and run by runc with the chart's security context
and volumes. Needs root (mmdebstrap, chroot, containerd); where containerd, runc or mmdebstrap
cannot be installed from Debian's packages, every test here skips with the reason."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.support import images
from tests.support.registry import RegistryServer, registry  # noqa: F401 - the session's registry fixture

PACKAGES = {"containerd": "containerd", "ctr": "containerd", "runc": "runc", "mmdebstrap": "mmdebstrap"}
# The capabilities containerd's default spec grants: `ctr run --cap-drop` takes names, not ALL.
DEFAULT_CAPS = ("CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID", "SETFCAP",
                "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE")
NAMESPACE = "modelyard-tests"


def _install() -> str | None:
    """None when containerd, ctr, runc and mmdebstrap are there (installed from Debian if not),
    else why not."""
    missing = sorted({package for tool, package in PACKAGES.items() if shutil.which(tool) is None})
    if not missing:
        return None
    if os.geteuid() != 0:
        return f"{', '.join(missing)} missing and installing needs root"
    done = subprocess.run(["flock", "/tmp/modelyard-containers-install.lock", "apt-get", "install", "-y", "-qq",
                           "--no-install-recommends", *missing], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if done.returncode != 0:
        return f"apt-get install {' '.join(missing)} failed: {done.stderr.strip()[-500:]}"
    return None


@dataclass
class Containerd:
    """A containerd of the test session (own root, state and socket; the CRI plugin off)."""

    folder: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.folder / "containerd.sock"

    def start(self, timeout: float = 30) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "config.toml"
        config.write_text(f'''version = 2
root = "{self.folder}/root"
state = "{self.folder}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{self.socket}"
[ttrpc]
  address = "{self.socket}.ttrpc"
''')
        log = (self.folder / "containerd.log").open("wb")
        self.process = subprocess.Popen(["containerd", "--config", str(config)], stdout=log, stderr=log,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while self.ctr("version", check=False, timeout=5).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"containerd did not serve within {timeout}s:\n{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self) -> str:
        return "\n".join((self.folder / "containerd.log").read_text(errors="replace").splitlines()[-30:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)

    def ctr(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["ctr", "--address", str(self.socket), "--namespace", NAMESPACE, *args],
                              capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"ctr {' '.join(args[:3])} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def pull(self, reference: str, timeout: float = 300) -> float:
        """`ctr image pull --plain-http` from the loopback registry; returns the seconds it took."""
        started = time.monotonic()
        self.ctr("image", "pull", "--plain-http", reference, timeout=timeout)
        return time.monotonic() - started

    def run_args(self, reference: str, name: str, pod: PodSpec) -> list[str]:
        args = ["run", "--rm", "--net-host", "--seccomp"]
        if pod.read_only_root:
            args.append("--read-only")
        for cap in pod.dropped_caps:
            args += ["--cap-drop", f"CAP_{cap}"]
        for key, value in pod.env.items():
            args += ["--env", f"{key}={value}"]
        for source, target, read_only in pod.mounts:
            args += ["--mount", f"type=bind,src={source},dst={target},options=rbind:{'ro' if read_only else 'rw'}"]
        return [*args, reference, name, *pod.command]

    def run(self, reference: str, name: str, pod: PodSpec, timeout: float) -> subprocess.CompletedProcess[str]:
        """Run to the end (`ctr run --rm`), failing the test at `timeout` seconds."""
        try:
            return self.ctr(*self.run_args(reference, name, pod), check=False, timeout=timeout)
        finally:
            self.remove(name)

    def start_task(self, reference: str, name: str, pod: PodSpec, log: Path) -> subprocess.Popen[bytes]:
        """Run in the background (ctr stays attached; its output goes to `log`)."""
        stream = log.open("wb")
        return subprocess.Popen(["ctr", "--address", str(self.socket), "--namespace", NAMESPACE,
                                 *self.run_args(reference, name, pod)], stdout=stream, stderr=stream,
                                stdin=subprocess.DEVNULL, start_new_session=True)

    def remove(self, name: str) -> None:
        """End the container's task and delete it (after `run --rm`, it is gone already)."""
        self.ctr("task", "kill", "--signal", "SIGKILL", name, check=False, timeout=30)
        self.ctr("task", "delete", "--force", name, check=False, timeout=30)
        self.ctr("container", "delete", name, check=False, timeout=30)


@dataclass
class PodSpec:
    """What a Kubernetes container spec asks of the runtime, in `ctr run` terms."""

    command: list[str]
    env: dict[str, str]
    mounts: list[tuple[Path, str, bool]] = field(default_factory=list)
    read_only_root: bool = True
    dropped_caps: tuple[str, ...] = DEFAULT_CAPS

    @classmethod
    def from_container(cls, container: dict[str, Any], volumes: dict[str, Path], secrets: dict[str, dict[str, str]],
                       extra_env: dict[str, str] | None = None) -> "PodSpec":
        """A container of a pod template: command and args, env (secretKeyRef resolved from
        `secrets`), each volumeMount bound to its volume's host folder, and the securityContext
        (which must be the restricted one: the test holds the runtime to it)."""
        security = container.get("securityContext") or {}
        assert security.get("runAsNonRoot") and security.get("runAsUser") == 65532, security
        assert security.get("allowPrivilegeEscalation") is False, "ctr run sets NoNewPrivileges unless told not to"
        assert security.get("capabilities", {}).get("drop") == ["ALL"], security
        env: dict[str, str] = {}
        for item in container.get("env") or []:
            if "value" in item:
                env[item["name"]] = item["value"]
                continue
            ref = item["valueFrom"]["secretKeyRef"]
            value = secrets.get(ref["name"], {}).get(ref["key"])
            if value is None and not ref.get("optional"):
                raise AssertionError(f"secret {ref['name']} has no key {ref['key']}")
            if value is not None:
                env[item["name"]] = value
        env.update(extra_env or {})
        mounts = [(volumes[m["name"]], m["mountPath"], bool(m.get("readOnly"))) for m in container.get("volumeMounts") or []]
        command = list(container.get("command") or []) + list(container.get("args") or [])
        return cls(command, env, mounts, bool(security.get("readOnlyRootFilesystem")))


def empty_dir(path: Path) -> Path:
    """A folder as the kubelet makes an emptyDir: world-writable, owned by root."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)
    return path


@dataclass
class Built:
    """An image built by tests/support/images.py and pushed: its reference and measurements."""

    reference: str
    image: images.Image
    build_s: float
    push_s: float
    pull_s: float = 0.0


def report(name: str, built: Built) -> None:
    """Build and pull times and sizes, for the terminal summary (`-rA` / `-s`)."""
    print(json.dumps({"image": name, "reference": built.reference, "compressed_bytes": built.image.compressed_size,
                      "build_s": round(built.build_s, 1), "push_s": round(built.push_s, 1),
                      "pull_s": round(built.pull_s, 1), **{k: round(v, 1) for k, v in built.image.timings.items()}}))


@pytest.fixture(scope="session")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Containerd]:
    if os.geteuid() != 0:
        pytest.skip("the containers tier needs root (mmdebstrap, chroot, containerd)")
    why = _install()
    if why:
        pytest.skip(f"containerd/runc/mmdebstrap unavailable: {why}")
    # containerd's overlay snapshots need a folder on a real filesystem, not overlay or tmpfs;
    # a short path keeps the socket under the 108-byte limit of a Unix socket address.
    running = Containerd(Path(tmp_path_factory.mktemp("ctd")))
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _build_and_push(name: str, registry: RegistryServer, containerd: Containerd) -> Built:  # noqa: F811
    started = time.monotonic()
    image = images.build(images.IMAGES[name])
    built_s = time.monotonic() - started
    reference = f"{registry.open}/modelyard/{name}:test"
    started = time.monotonic()
    images.push(image, reference)
    built = Built(reference, image, built_s, time.monotonic() - started)
    built.pull_s = containerd.pull(reference)
    report(name, built)
    return built


@pytest.fixture(scope="session")
def operator_image(registry: RegistryServer, containerd: Containerd) -> Built:  # noqa: F811
    return _build_and_push("operator", registry, containerd)


@pytest.fixture(scope="session")
def worker_image(registry: RegistryServer, containerd: Containerd) -> Built:  # noqa: F811
    return _build_and_push("worker-cpu", registry, containerd)
