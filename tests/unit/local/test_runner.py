"""A worker Job manifest becomes the same command, run locally."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from modelyard.api.validation import parse_object
from modelyard.config import Settings
from modelyard.local.runner import LocalRunError, docker_copy_commands, local_process, run_process
from modelyard.workloads.jobs import build_import_job
from modelyard.workloads.profiles import default_profiles
from tests.support import builders as b


def _job(**source):
    version = parse_object({**b.model_version(source=source or {"uri": "file:///models/m.onnx"}),
                            "metadata": {"name": "classifier-1-0-0", "namespace": "default", "uid": "u1"}})
    model = parse_object({**b.model(), "metadata": {"name": "classifier", "namespace": "default", "uid": "u0"}})
    settings = Settings(store_uri="file:///store", store_secret_name="creds")
    return build_import_job(version, model, default_profiles(), settings)


def test_the_job_command_runs_with_this_python_and_local_paths(tmp_path: Path):
    process = local_process(_job(), tmp_path, python="/venv/bin/python")
    assert process.argv == ["/venv/bin/python", "-m", "modelyard.worker", "import"]
    assert process.env["MODELYARD_STORE_URI"] == "file:///store"
    assert '"name":"classifier-1-0-0"' in process.env["MODELYARD_OBJECT"].replace(" ", "")
    assert process.env["MODELYARD_TERMINATION_LOG"] == str(tmp_path / "jobs" / "import-classifier-1-0-0" / "termination-log")
    assert process.env["MODELYARD_WORKDIR"] == str(tmp_path / "work")
    # Secret references are the cluster's; locally the caller's own AWS_* environment applies.
    assert "AWS_ACCESS_KEY_ID" in process.dropped and "AWS_ACCESS_KEY_ID" not in process.env
    assert process.image_copy is None


def test_an_oci_source_uses_the_callers_docker_config_not_the_pull_secret_mount(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    process = local_process(_job(oci={"reference": "r.io/m:1", "pullSecretRef": {"name": "regcred"}}), tmp_path)
    assert "MODELYARD_REGISTRY_AUTH" not in process.env
    assert process.env["DOCKER_CONFIG"] == str(tmp_path / "docker")
    monkeypatch.delenv("DOCKER_CONFIG")
    assert local_process(_job(), tmp_path).env["DOCKER_CONFIG"] == str(Path.home() / ".docker")


def test_an_image_source_copies_with_docker_create_and_cp(tmp_path: Path):
    process = local_process(_job(image={"image": "registry.example.com/m:1", "path": "/models/m.onnx"}), tmp_path)
    assert process.image_copy == ("registry.example.com/m:1", "/models/m.onnx")
    assert docker_copy_commands("registry.example.com/m:1", "/models/m.onnx", tmp_path, "c1") == [
        ["docker", "create", "--name", "c1", "registry.example.com/m:1", "true"],
        ["docker", "cp", "c1:/models/m.onnx", f"{tmp_path}/"],
        ["docker", "rm", "-f", "c1"],
    ]


def test_without_docker_an_image_source_fails_with_what_would_help(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    process = local_process(_job(image={"image": "registry.example.com/m:1", "path": "/models/m.onnx"}), tmp_path)
    status, pod = run_process(process, lambda line: None)
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert status["failed"] == 1 and terminated["exitCode"] == 1
    assert "needs a container engine" in terminated["message"] and "source.uri" in terminated["message"]


def test_only_the_worker_runs_locally(tmp_path: Path):
    job = _job()
    job["spec"]["template"]["spec"]["containers"][0]["command"] = ["sh", "-c", "rm -rf /"]
    with pytest.raises(LocalRunError, match="runs only the Modelyard worker"):
        local_process(job, tmp_path)


def test_a_worker_without_a_result_reports_its_log(tmp_path: Path):
    process = local_process(_job(), tmp_path, python=sys.executable)
    broken = process.__class__(**{**process.__dict__, "argv": [sys.executable, "-c", "import sys; sys.stderr.write('boom\\n'); sys.exit(3)"]})
    lines: list[str] = []
    status, pod = run_process(broken, lines.append)
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert lines == ["boom"] and terminated["exitCode"] == 3 and "boom" in terminated["message"]
    assert status["conditions"][0]["type"] == "Failed"


def _forked_import(tmp_path: Path, argv_tail: list[str] | None = None):
    process = local_process(_job(uri=f"file://{tmp_path}/missing.onnx"), tmp_path, python=sys.executable)
    env = {**process.env, "MODELYARD_STORE_URI": f"file://{tmp_path}/store"}
    argv = process.argv if argv_tail is None else [*process.argv[:3], *argv_tail]
    return process.__class__(**{**process.__dict__, "env": env, "argv": argv})


def test_the_worker_runs_as_a_fork_in_its_own_folder_and_environment(tmp_path: Path):
    """In a fresh interpreter (this one may have threads of other tests, which rule a fork out)."""
    import json
    import subprocess

    script = f"""
import json, os, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[3])!r})
from pathlib import Path
from tests.unit.local.test_runner import _forked_import
from modelyard.local.runner import forkable, run_process
process = _forked_import(Path({str(tmp_path)!r}))
here, environment = os.getcwd(), dict(os.environ)
lines = []
status, pod = run_process(process, lines.append)
print(json.dumps({{"forked": forkable(process), "lines": lines, "status": status, "pod": pod, "log": process.log.read_text(),
                  "same": os.getcwd() == here and dict(os.environ) == environment, "pid": os.getpid()}}))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    seen = json.loads(done.stdout.splitlines()[-1])
    terminated = seen["pod"]["status"]["containerStatuses"][0]["state"]["terminated"]
    result = json.loads(terminated["message"])
    assert seen["forked"], "a process without other threads forks its worker"
    assert terminated["exitCode"] == 1 and result["ok"] is False and "missing.onnx" in result["message"]
    assert any("import failed:" in line for line in seen["lines"]) and seen["log"].count("import failed:") == 1
    assert seen["same"], "the caller's folder and environment are untouched"
    assert seen["status"]["conditions"][0]["type"] == "Failed"


def test_a_forked_worker_that_cannot_start_reports_why(tmp_path: Path):
    lines: list[str] = []
    status, pod = run_process(_forked_import(tmp_path, ["no-such-command"]), lines.append)
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 2 and "invalid choice: 'no-such-command'" in terminated["message"]


def test_no_fork_while_another_thread_runs(tmp_path: Path):
    import threading

    from modelyard.local.runner import forkable

    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert not forkable(_forked_import(tmp_path))
    finally:
        release.set()
        other.join()
