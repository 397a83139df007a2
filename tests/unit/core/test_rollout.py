"""A ModelDeployment's rollout on the built-in backend: start beside, verify live, move the
traffic, roll back with the previous version still serving."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from modelyard.api.validation import parse_object
from modelyard.config import Settings
from modelyard.core.jobstate import JobObservation
from modelyard.core.rollout import Observed, Related, Server, decide_rollout
from modelyard.workloads.profiles import default_profiles
from modelyard.workloads.serving import build_server, parity_job_name
from modelyard.workloads.serving import selector as by_server
from tests.support import builders
from tests.support.builders import served_version

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)
MODEL = parse_object({**builders.model(), "metadata": {"name": "classifier", "uid": "model-uid"}})
A = served_version("classifier-1-0-0")
B = served_version("classifier-2-0-0", version="2.0.0")
SETTINGS = Settings(store_uri="s3://models")


def dep(status=None, **spec):
    body = builders.model_deployment(**spec)
    if status:
        body["status"] = status
    return parse_object(body)


def decide(d, versions=(A, B), servers=(), service=None, parity=None, now=NOW):
    observed = Observed(servers={s.name: s for s in servers}, service=service, parity=parity or {},
                        url="http://serve-classifier.default.svc:8080/v2/models/classifier")
    related = Related(model=MODEL, versions=[parse_object(v) for v in versions], conversions=[])
    return decide_rollout(d, related, observed, default_profiles(), SETTINGS, now)


VERSIONS = {b["metadata"]["name"]: b for b in (A, B)}


def server_name(d, variant, body=None):
    """The Deployment the rollout runs `variant` (or the version `body`) in under `d`'s spec."""
    manifest = build_server(d, parse_object(body or VERSIONS[variant]), MODEL, default_profiles()["cpu"], SETTINGS, 1)
    return manifest["metadata"]["name"]


def candidate(d, variant, since="2026-12-06T11:59:00Z", body=None):
    return {"version": variant, "variant": variant, "since": since, "server": server_name(d, variant, body)}


def selector(d, variant):
    return by_server(d, server_name(d, variant) if variant else None)


def server(d, variant, ready=1, replicas=1, failure=None, body=None):
    return Server(name=server_name(d, variant, body), uid=f"{variant}-uid", replicas=replicas, ready=ready, failure=failure,
                  endpoints=tuple(f"grpc://127.0.0.{i + 2}:8081" for i in range(ready)),
                  metrics=tuple(f"http://127.0.0.{i + 2}:8080/metrics" for i in range(ready)))


def parity_result(passed, message="", reason=None):
    return JobObservation("Succeeded", result={
        "ok": True, "passed": passed, "samples": 8, "endpoints": ["grpc://127.0.0.2:8081"],
        "outputs": [{"name": "y", "maxAbsDiff": 0.0 if passed else 0.31, "atol": 1e-4, "rtol": 1e-3, "passed": passed}],
        "reason": reason or ("ParityPassed" if passed else "ParityFailed"), "message": message})


def conditions(decision):
    return {c["type"]: c for c in decision.status["conditions"]}


def test_first_rollout_starts_servers_then_verifies_then_serves():
    d = dep()
    first = decide(d)
    (deployment,) = first.create
    assert deployment["kind"] == "Deployment" and deployment["metadata"]["name"] == server_name(d, "classifier-1-0-0")
    assert first.status["phase"] == "Deploying" and first.status["candidate"]["variant"] == "classifier-1-0-0"
    assert conditions(first)["Ready"]["status"] == "False"
    assert not [m for m in first.create if m["kind"] == "Service"], "no traffic before parity"

    d = dep(status=first.status)
    starting = decide(d, servers=[server(d, "classifier-1-0-0", ready=0)])
    assert starting.status["phase"] == "Deploying" and not starting.create and starting.requeue_after

    ready = server(d, "classifier-1-0-0")
    verifying = decide(d, servers=[ready])
    (job,) = verifying.create
    assert job["kind"] == "Job" and job["metadata"]["name"] == parity_job_name(d, "classifier-1-0-0", ready.uid)
    assert "--endpoint" in job["spec"]["template"]["spec"]["containers"][0]["command"]
    assert verifying.status["phase"] == "Verifying"

    name = parity_job_name(d, "classifier-1-0-0", ready.uid)
    served = decide(dep(status=verifying.status), servers=[ready], parity={name: parity_result(True)})
    assert served.status["phase"] == "Serving" and served.status["serving"]["variant"] == "classifier-1-0-0"
    (service,) = [m for m in served.create if m["kind"] == "Service"]
    assert service["spec"]["selector"] == selector(d, "classifier-1-0-0")
    assert conditions(served)["Ready"]["status"] == "True" and served.status["parity"]["passed"]
    assert [e.reason for e in served.events] == ["Promoted"]


def serving_a(**spec):
    status = {"phase": "Serving", "serving": {"version": "classifier-1-0-0", "variant": "classifier-1-0-0", "format": "onnx",
                                              "server": server_name(dep(**spec), "classifier-1-0-0")}}
    return dep(status=status, **spec)


def test_a_new_version_starts_beside_the_old_and_the_old_keeps_the_traffic_until_promotion():
    d = serving_a(versionRef={"name": "classifier-2-0-0"})
    old = server(d, "classifier-1-0-0")
    started = decide(d, servers=[old], service=selector(d, "classifier-1-0-0"))
    assert [m["metadata"]["name"] for m in started.create] == [server_name(d, "classifier-2-0-0")]
    assert not started.deletes and not started.patches
    assert started.status["phase"] == "Deploying" and conditions(started)["Ready"]["status"] == "True"

    new = server(d, "classifier-2-0-0")
    d = dep(status=started.status, versionRef={"name": "classifier-2-0-0"})
    name = parity_job_name(d, "classifier-2-0-0", new.uid)
    promoted = decide(d, servers=[old, new], service=selector(d, "classifier-1-0-0"), parity={name: parity_result(True)})
    assert promoted.status["serving"]["variant"] == "classifier-2-0-0"
    (patch,) = [p for p in promoted.patches if p.kind == "Service"]
    assert patch.body["spec"]["selector"]["modelyard.dev/server"] == server_name(d, "classifier-2-0-0")
    assert [r.name for r in promoted.deletes] == [server_name(d, "classifier-1-0-0")]


def test_parity_mismatch_rolls_back_and_the_old_version_keeps_serving():
    d = serving_a(versionRef={"name": "classifier-2-0-0"})
    d = dep(status={**d.status.to_dict(), "candidate": candidate(d, "classifier-2-0-0")},
            versionRef={"name": "classifier-2-0-0"})
    old, new = server(d, "classifier-1-0-0"), server(d, "classifier-2-0-0")
    name = parity_job_name(d, "classifier-2-0-0", new.uid)
    message = "output y differs by 0.31 (atol 0.0001, rtol 0.001) at grpc://127.0.0.2:8081"
    back = decide(d, servers=[old, new], service=selector(d, "classifier-1-0-0"),
                  parity={name: parity_result(False, message)})
    assert back.status["serving"]["variant"] == "classifier-1-0-0"
    assert back.status["rejected"]["variant"] == "classifier-2-0-0" and back.status["rejected"]["reason"] == "ParityFailed"
    assert [r.name for r in back.deletes] == [server_name(d, "classifier-2-0-0")]
    assert conditions(back)["Degraded"]["status"] == "True" and "differs by 0.31" in conditions(back)["Degraded"]["message"]
    assert conditions(back)["Ready"]["status"] == "True"
    assert [e.reason for e in back.events] == ["ParityFailed"]
    # and it is not tried again under the same spec
    d = dep(status=back.status, versionRef={"name": "classifier-2-0-0"})
    again = decide(d, servers=[old], service=selector(d, "classifier-1-0-0"))
    assert not again.create and again.status["phase"] == "Serving"
    assert "rolled back" in again.status["message"]


def test_a_server_that_never_becomes_ready_is_rolled_back():
    d = serving_a(versionRef={"name": "classifier-2-0-0"})
    d = dep(status={**d.status.to_dict(), "candidate": candidate(d, "classifier-2-0-0")},
            versionRef={"name": "classifier-2-0-0"})
    old = server(d, "classifier-1-0-0")
    crashing = server(d, "classifier-2-0-0", ready=0, failure="the server exits (3 restarts): digest mismatch")
    back = decide(d, servers=[old, crashing], service=selector(d, "classifier-1-0-0"))
    assert back.status["rejected"]["reason"] == "ServerNotReady" and "digest mismatch" in back.status["rejected"]["message"]
    slow = server(d, "classifier-2-0-0", ready=0)
    late = decide(d, servers=[old, slow], service=selector(d, "classifier-1-0-0"), now=NOW + timedelta(seconds=700))
    assert late.status["rejected"]["reason"] == "ServerNotReady"


def test_nothing_serving_and_a_failed_first_version_is_failed_not_a_crash_loop():
    d = dep(status={"candidate": candidate(dep(), "classifier-1-0-0")})
    new = server(d, "classifier-1-0-0")
    name = parity_job_name(d, "classifier-1-0-0", new.uid)
    failed = decide(d, servers=[new], parity={name: parity_result(False, "output y differs")})
    assert failed.status["phase"] == "Failed" and conditions(failed)["Stalled"]["status"] == "True"
    assert failed.requeue_after is None


def test_a_version_without_parity_samples_is_refused_unless_the_policy_allows():
    bare = served_version("classifier-1-0-0", parity=False)
    d = dep(status={"candidate": candidate(dep(), "classifier-1-0-0", body=bare)})
    refused = decide(d, versions=(bare,), servers=[server(d, "classifier-1-0-0", body=bare)])
    assert refused.status["rejected"]["reason"] == "NoParitySamples" and "IfRecorded" in refused.status["rejected"]["message"]
    d = dep(status=d.status.to_dict(), rollout={"parity": "IfRecorded"})
    served = decide(d, versions=(bare,), servers=[server(d, "classifier-1-0-0", body=bare)])
    assert served.status["phase"] == "Serving" and served.status["parity"]["skipped"]


def test_canary_takes_its_share_of_replicas_then_is_judged_again_and_promoted():
    spec = {"versionRef": {"name": "classifier-2-0-0"}, "replicas": 4,
            "rollout": {"canaryPercent": 25, "analysisSeconds": 60}}
    d = serving_a(**spec)
    d = dep(status={**d.status.to_dict(), "candidate": candidate(d, "classifier-2-0-0")}, **spec)
    old, new = server(d, "classifier-1-0-0", ready=4, replicas=4), server(d, "classifier-2-0-0")
    first = parity_job_name(d, "classifier-2-0-0", new.uid)
    canary = decide(d, servers=[old, new], service=selector(d, "classifier-1-0-0"), parity={first: parity_result(True)})
    assert canary.status["phase"] == "Canary" and canary.status["canary"]["percent"] == 25
    scaled = {p.name: p.body["spec"]["replicas"] for p in canary.patches if p.kind == "Deployment"}
    assert scaled == {server_name(d, "classifier-1-0-0"): 3}
    (service,) = [p for p in canary.patches if p.kind == "Service"]
    assert service.body["spec"]["selector"]["modelyard.dev/server"] is None  # both variants behind it
    d = dep(status=canary.status, **spec)
    waiting = decide(d, servers=[old, new], service=selector(d, None), parity={first: parity_result(True)},
                     now=NOW + timedelta(seconds=10))
    assert waiting.status["phase"] == "Canary" and not waiting.create
    later = NOW + timedelta(seconds=61)
    analysis = decide(d, servers=[old, new], service=selector(d, None), parity={first: parity_result(True)}, now=later)
    second = parity_job_name(d, "classifier-2-0-0", new.uid, "analysis")
    assert [m["metadata"]["name"] for m in analysis.create] == [second]
    command = analysis.create[0]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--metrics") + 1] == "http://127.0.0.2:8080/metrics"  # its error rate is judged too
    assert command[command.index("--max-error-rate") + 1] == "0.01"
    done = decide(d, servers=[old, new], service=selector(d, None),
                  parity={first: parity_result(True), second: parity_result(True)}, now=later)
    assert done.status["serving"]["variant"] == "classifier-2-0-0" and "canary" not in done.status
    assert [r.name for r in done.deletes] == [server_name(d, "classifier-1-0-0")]


def test_track_latest_passing_moves_when_a_newer_version_passes():
    spec = {"versionRef": None, "track": "LatestPassing"}
    d = serving_a(**spec)
    old = server(d, "classifier-1-0-0")
    ungated = served_version("classifier-2-0-0", version="2.0.0", gates=None)
    stays = decide(d, versions=(A, ungated), servers=[old], service=selector(d, "classifier-1-0-0"))
    assert not stays.create and stays.status["serving"]["variant"] == "classifier-1-0-0"
    moves = decide(d, versions=(A, B), servers=[old], service=selector(d, "classifier-1-0-0"))
    assert [m["metadata"]["name"] for m in moves.create] == [server_name(d, "classifier-2-0-0")]


def test_waiting_for_a_version_is_pending_and_says_so():
    d = dep(versionRef={"name": "classifier-3-0-0"})
    waiting = decide(d)
    assert waiting.status["phase"] == "Pending" and "classifier-3-0-0" in waiting.status["message"]
    assert waiting.requeue_after and not waiting.create



def test_a_changed_pod_template_is_a_new_rollout_checked_live_with_the_old_one_kept():
    before = serving_a()
    old = server(before, "classifier-1-0-0")
    changed = dep(status=before.status.to_dict(), env=[{"name": "OMP_NUM_THREADS", "value": "2"}])
    started = decide(changed, servers=[old], service=selector(before, "classifier-1-0-0"))
    (manifest,) = started.create
    assert manifest["metadata"]["name"] != old.name  # same variant, another Deployment
    assert {"name": "OMP_NUM_THREADS", "value": "2"} in manifest["spec"]["template"]["spec"]["containers"][0]["env"]
    assert not started.deletes and started.status["candidate"]["variant"] == "classifier-1-0-0"
    new = server(changed, "classifier-1-0-0")
    d = dep(status=started.status, env=[{"name": "OMP_NUM_THREADS", "value": "2"}])
    verifying = decide(d, servers=[old, new], service=selector(before, "classifier-1-0-0"))
    assert [m["kind"] for m in verifying.create] == ["Job"]  # parity before the traffic moves
    name = parity_job_name(d, "classifier-1-0-0", new.uid)
    done = decide(d, servers=[old, new], service=selector(before, "classifier-1-0-0"), parity={name: parity_result(True)})
    assert done.status["serving"]["server"] == new.name and [r.name for r in done.deletes] == [old.name]
