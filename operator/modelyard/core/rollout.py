"""Reconcile a ModelDeployment on the built-in backend: start the chosen variant's servers
beside the ones serving, check the new replicas' live parity, then move the traffic (a canary
share first when asked), and roll back — the previous version still serving — when the new
one never becomes ready or computes something else than what was verified.

The traffic is the Service's selector: one variant's pods, or (a canary) every variant's pods
in proportion to their replicas. A variant's servers are deleted only after another variant
took all the traffic, or when they are rolled back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from modelyard.api import conditions as C
from modelyard.api.conversionjob import ConversionJob
from modelyard.api.model import Model
from modelyard.api.modeldeployment import ModelDeployment
from modelyard.api.modelversion import ModelVersion
from modelyard.config import Settings
from modelyard.core.decision import ChildPatch, ChildRef, Decision, Event
from modelyard.core.jobstate import JobObservation
from modelyard.core.status import StatusBuilder, stamp
from modelyard.core.variants import Choice, NoChoice, choose
from modelyard.workloads.jobs import NoStoreConfigured
from modelyard.workloads.profiles import HardwareProfile
from modelyard.workloads.serving import (build_autoscaler, build_parity_job, build_server, build_service,
                                         canary_split, parity_job_name, replica_count, selector,
                                         service_name)

PROGRESSING = "Progressing"
DEGRADED = "Degraded"
POLL_SECONDS = 3.0
"""How often a rollout in progress is looked at (servers starting, parity running)."""
WAIT_SECONDS = 15.0
PARITY_FILE = "parity.npz"


@dataclass(frozen=True)
class Server:
    """One variant's Deployment as observed."""

    name: str
    uid: str
    replicas: int = 0
    ready: int = 0
    failure: str | None = None
    """Why it will not become ready (progress deadline exceeded, a crash-looping server)."""
    endpoints: tuple[str, ...] = ()
    """`grpc://host:port` of each ready replica."""
    metrics: tuple[str, ...] = ()
    """`http://host:port/metrics` of each ready replica."""


@dataclass(frozen=True)
class Observed:
    servers: dict[str, Server] = field(default_factory=dict)
    """Our server Deployments by name."""
    service: dict[str, Any] | None = None
    """The Service's selector, when it exists."""
    parity: dict[str, JobObservation] = field(default_factory=dict)
    """Parity Jobs by name."""
    url: str | None = None
    grpc: str | None = None


@dataclass(frozen=True)
class Related:
    model: Model | None
    versions: list[ModelVersion]
    conversions: list[ConversionJob]


def digest_of(version: ModelVersion) -> str | None:
    return version.status.artifact.digest if version.status and version.status.artifact else None


def has_parity_samples(variant: ModelVersion) -> bool:
    artifact = variant.status.artifact if variant.status else None
    return bool(artifact and any(f.path == PARITY_FILE for f in artifact.files or []))


def _since(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class Rollout:
    """One reconcile's worth of decisions; `decide()` returns the Decision."""

    def __init__(self, dep: ModelDeployment, related: Related, observed: Observed,
                 profiles: dict[str, HardwareProfile], settings: Settings, now: datetime):
        self.dep, self.related, self.observed = dep, related, observed
        self.profiles, self.settings, self.now = profiles, settings, now
        self.status = StatusBuilder(dep, now)
        self.body = self.status.body
        self.body["backend"] = "builtin"
        self.decision = Decision(status=self.body)
        self.rollout = dep.spec.rollout
        self.total = replica_count(dep)

    # -- small pieces ------------------------------------------------------------------------

    def _versions(self) -> dict[str, ModelVersion]:
        return {v.name: v for v in self.related.versions}

    def _variant_record(self, choice: Choice, **extra: Any) -> dict[str, Any]:
        variant = choice.variant
        record = {"version": choice.version.name, "variant": variant.name, "format": choice.format,
                  "digest": digest_of(variant), "reason": choice.reason, **extra}
        return {k: v for k, v in record.items() if v is not None}

    def _server(self, name: str | None) -> Server | None:
        return self.observed.servers.get(name) if name else None

    def _event(self, type_: str, reason: str, message: str) -> None:
        self.decision.events.append(Event(type_, reason, message))

    def _select(self, server: str | None) -> None:
        """Point the Service at one server Deployment's pods (None: all of them: the canary)."""
        wanted = selector(self.dep, server)
        if self.observed.service is None:
            self.decision.create.append(build_service(self.dep, server))
        elif self.observed.service != wanted:
            body = {"spec": {"selector": {**{k: None for k in self.observed.service}, **wanted}}}
            self.decision.patches.append(ChildPatch(name=service_name(self.dep), body=body, kind="Service"))

    def _scale(self, name: str, replicas: int) -> None:
        server = self._server(name)
        if server is not None and server.replicas != replicas:
            self.decision.patches.append(ChildPatch(name=server.name, body={"spec": {"replicas": replicas}},
                                                    kind="Deployment"))

    def _retire_others(self, keep: set[str]) -> None:
        for name in sorted(self.observed.servers):
            if name not in keep:
                self.decision.deletes.append(ChildRef("Deployment", name))

    def _conditions(self, ready: bool, ready_reason: str, message: str, progressing: bool, degraded: str | None,
                    degraded_message: str = "") -> None:
        self.status.condition(C.READY, ready, ready_reason, message)
        self.status.condition(PROGRESSING, progressing, ready_reason if progressing else "Settled", message)
        if degraded:
            self.status.condition(DEGRADED, True, degraded, degraded_message or message)
        else:
            self.status.drop(DEGRADED)
        if progressing:
            self.status.condition(C.RECONCILING, True, ready_reason, message)
        else:
            self.status.drop(C.RECONCILING)
        self.status.drop(C.STALLED)

    def _finish(self, phase: str, message: str) -> Decision:
        self.status.done(phase, message)
        self.body["observedGeneration"] = self.dep.metadata.generation
        return self.decision

    def _serving_message(self) -> str:
        serving = self.body.get("serving") or {}
        where = self.observed.url or "its Service"
        return f"serving {serving.get('variant')} ({serving.get('format')}) at {where}"

    # -- the decision ------------------------------------------------------------------------

    def decide(self) -> Decision:
        self.body["url"] = self.observed.url
        self.body["grpcAddress"] = self.observed.grpc
        serving = self.body.get("serving")
        if serving and self._server(serving.get("server")) is None and not self.body.get("candidate"):
            # Its servers are gone (deleted by hand): start again from nothing.
            self.body.pop("serving", None)
            serving = None
        choice = self._choose()
        if isinstance(choice, Decision):
            return choice
        rejected = self._rejected(choice)
        if rejected is not None:
            return self._held_back(choice, rejected)
        wanted = self._wanted(choice)
        if isinstance(wanted, Decision):
            return wanted
        if serving and serving.get("server") == wanted["metadata"]["name"]:
            return self._steady(choice)
        return self._roll_to(choice, wanted)

    def _wanted(self, choice: Choice) -> dict[str, Any] | Decision:
        """The server Deployment `choice` runs in, as the spec asks now: a changed template
        (env, resources, the profile) is another Deployment, rolled out like a new version."""
        profile = self.profiles.get(self.dep.spec.hardware)
        if profile is None:
            return self._no_choice(NoChoice("NoHardwareProfile", f"no hardware profile {self.dep.spec.hardware!r} "
                                            "is configured (chart values hardwareProfiles)", final=True))
        replicas = self._canary_replicas() if self.body.get("serving") else self.total
        try:
            return build_server(self.dep, choice.variant, self.related.model, profile, self.settings, replicas)
        except NoStoreConfigured as error:
            return self._no_choice(NoChoice("NoStoreConfigured", str(error), final=True))

    def _choose(self) -> Choice | Decision:
        """The variant to serve, or the decision that says why there is none."""
        choice = choose(self.dep, self.related.versions, self.related.conversions)
        if isinstance(choice, NoChoice):
            return self._no_choice(choice)
        if self.related.model is None:
            return self._no_choice(NoChoice("ModelNotFound", f"Model {self.dep.spec.model_ref.name!r} does not exist"))
        return choice

    def _rejected(self, choice: Choice) -> dict[str, Any] | None:
        """The rollback record when `choice` was rolled back under this spec, artifact and all."""
        rejected = self.body.get("rejected") or {}
        same = (rejected.get("variant") == choice.variant.name and rejected.get("digest") == digest_of(choice.variant)
                and rejected.get("generation") == self.dep.metadata.generation)
        return rejected if same else None

    def _no_choice(self, why: NoChoice) -> Decision:
        self.decision.requeue_after = None if why.final else WAIT_SECONDS
        serving = self.body.get("serving")
        if serving:
            # Whatever serves keeps serving; the deployment says why nothing newer can.
            message = f"{self._serving_message()}; {why.message}"
            self._conditions(True, "Serving", message, False, why.reason, why.message)
            return self._finish("Serving", message)
        if why.final:
            self.status.failed(why.reason, why.message)
            self.status.drop(PROGRESSING)
            self._event("Warning", why.reason, why.message)
            return self._finish("Failed", why.message)
        self._conditions(False, why.reason, why.message, True, None)
        return self._finish("Pending", why.message)

    def _held_back(self, choice: Choice, rejected: dict[str, Any]) -> Decision:
        message = (f"{choice.variant.name} was rolled back ({rejected.get('reason')}: {rejected.get('message')}); "
                   "it is tried again when the spec or the variant changes")
        if self.body.get("serving"):
            return self._steady_on(self.body["serving"].get("server"), degraded=(rejected.get("reason"), message))
        self.status.failed(rejected.get("reason") or "RolledBack", message)
        self.status.drop(PROGRESSING)
        return self._finish("Failed", message)

    def _steady(self, choice: Choice) -> Decision:
        serving = self.body["serving"]
        self.body["serving"] = {**serving, **self._variant_record(choice, since=serving.get("since"),
                                                                  server=serving.get("server"))}
        return self._steady_on(serving.get("server"))

    def _steady_on(self, name: str | None, degraded: tuple[str | None, str] | None = None) -> Decision:
        """The serving Deployment alone takes the traffic; nothing else runs."""
        self.body.pop("candidate", None)
        self.body.pop("canary", None)
        self._select(name)
        self._retire_others({name} if name else set())
        server = self._server(name)
        if server is not None and self.dep.spec.autoscaling is None:
            self._scale(server.name, self.total)
        autoscaler = build_autoscaler(self.dep, name) if name else None
        if autoscaler is not None:
            self.decision.create.append(autoscaler)
            self.decision.patches.append(ChildPatch(name=autoscaler["metadata"]["name"], kind="HorizontalPodAutoscaler",
                                                    body={"spec": autoscaler["spec"]}))
        ready = server.ready if server else 0
        self.body["replicas"] = ready
        message = f"{self._serving_message()}; {ready}/{server.replicas if server else 0} replicas ready"
        if ready == 0:
            self.decision.requeue_after = POLL_SECONDS
            self._conditions(False, "ServerNotReady", message, False, "ServerNotReady", message)
            return self._finish("Serving", message)
        self._conditions(True, "Serving", message, False, degraded[0] if degraded else None,
                         degraded[1] if degraded else "")
        if degraded:
            message += f"; {degraded[1]}"
        return self._finish("Serving", message)

    def _roll_to(self, choice: Choice, manifest: dict[str, Any]) -> Decision:
        variant = choice.variant
        name = manifest["metadata"]["name"]
        candidate = self.body.get("candidate") or {}
        if candidate.get("server") != name:
            candidate = self._variant_record(choice, since=stamp(self.now), server=name)
            self.body.pop("canary", None)
        else:
            candidate = {**candidate, **self._variant_record(choice, since=candidate.get("since"), server=name)}
        self.body["candidate"] = candidate
        server = self._server(name)
        previous = (self.body.get("serving") or {}).get("server")
        self._retire_others({name} | ({previous} if previous else set()))
        self.decision.requeue_after = POLL_SECONDS
        if server is None:
            self.decision.create.append(manifest)
            message = f"starting {variant.name} ({choice.format}): {choice.reason}"
            self._event("Normal", "Deploying", message)
            return self._progress("Deploying", "Deploying", message)
        if server.failure or self._too_slow(candidate):
            why = server.failure or (f"its servers were not ready within {self._ready_timeout()} s "
                                     f"({server.ready}/{server.replicas} ready)")
            return self._roll_back(choice, "ServerNotReady", f"{variant.name} did not become ready: {why}")
        if server.ready < max(1, min(server.replicas, 1)) or not server.endpoints:
            message = f"waiting for {variant.name}'s servers: {server.ready}/{server.replicas} ready"
            return self._progress("Deploying", "ServersStarting", message)
        canary = self.body.get("canary")
        if canary and canary.get("server") == name:
            return self._canary(choice, server, canary)
        return self._verify(choice, server, round_="")

    def _record_rejection(self, variant: ModelVersion, reason: str, message: str) -> None:
        self.body["rejected"] = {k: v for k, v in {
            "variant": variant.name, "digest": digest_of(variant), "reason": reason, "message": message[:4000],
            "generation": self.dep.metadata.generation}.items() if v is not None}

    def _canary_replicas(self) -> int:
        percent = self.rollout.canary_percent if self.rollout else 0
        return canary_split(self.total, percent)[1] if percent else 1

    def _ready_timeout(self) -> int:
        return self.rollout.ready_timeout_seconds if self.rollout else 600

    def _too_slow(self, candidate: dict[str, Any]) -> bool:
        since = _since(candidate.get("since"))
        return since is not None and (self.now - since).total_seconds() > self._ready_timeout()

    def _progress(self, phase: str, reason: str, message: str) -> Decision:
        degraded = None
        if self.body.get("serving"):
            message = f"{self._serving_message()}; {message}"
        self._conditions(bool(self.body.get("serving")), reason if not self.body.get("serving") else "Serving",
                         message, True, degraded)
        self.status.condition(PROGRESSING, True, reason, message)
        return self._finish(phase if not self.body.get("canary") else "Canary", message)

    def _verify(self, choice: Choice, server: Server, round_: str) -> Decision:
        """Live parity of the new replicas; then the traffic moves (or the canary is judged)."""
        variant = choice.variant
        policy = self.rollout.parity if self.rollout else "Required"
        if policy == "Off" or (policy == "IfRecorded" and not has_parity_samples(variant)):
            why = "rollout.parity is Off" if policy == "Off" else f"{variant.name} has no recorded parity samples"
            self.body["parity"] = {"variant": variant.name, "passed": False, "skipped": True,
                                   "message": f"not checked: {why}", "checkedAt": stamp(self.now)}
            return self._passed(choice, server, round_)
        if not has_parity_samples(variant):
            return self._roll_back(choice, "NoParitySamples",
                                   f"{variant.name} has no recorded parity samples ({PARITY_FILE}: versions made by a "
                                   "ConversionJob record them); set rollout.parity to IfRecorded to serve it unchecked")
        name = parity_job_name(self.dep, variant.name, server.uid, round_)
        observed = self.observed.parity.get(name, JobObservation("Missing"))
        if observed.phase == "Missing":
            profile = self.profiles.get(self.dep.spec.hardware) or self.profiles["cpu"]
            # The canary's judgement also reads how many requests its servers failed.
            judged = list(server.metrics) if round_ else []
            limit = (self.rollout.max_error_percent if self.rollout else 1.0) / 100
            self.decision.create.append(build_parity_job(self.dep, variant, self.related.model, list(server.endpoints),
                                                         name, profile, self.settings, metrics=judged, max_error_rate=limit))
            message = f"checking {variant.name}'s live parity on {len(server.endpoints)} replica(s) (Job {name})"
            return self._progress("Verifying", "VerifyingParity", message)
        if observed.phase in ("Pending", "Running", "Foreign"):
            message = f"checking {variant.name}'s live parity (Job {name}: {observed.message or observed.reason})"
            return self._progress("Verifying", "VerifyingParity", message)
        result = observed.result or {}
        outputs = [{k: o.get(k) for k in ("name", "maxAbsDiff", "maxRelDiff", "atol", "rtol", "passed")}
                   for o in result.get("outputs") or []]
        self.body["parity"] = {k: v for k, v in {
            "variant": variant.name, "passed": bool(result.get("passed")), "samples": result.get("samples"),
            "endpoints": list(result.get("endpoints") or server.endpoints)[:64], "outputs": outputs[:64],
            "message": (result.get("message") or observed.message or "")[:4000], "checkedAt": stamp(self.now),
        }.items() if v is not None}
        if observed.phase == "Failed" or not result.get("passed"):
            reason = result.get("reason") or observed.reason or "ParityFailed"
            return self._roll_back(choice, reason, result.get("message") or observed.message or "live parity failed")
        return self._passed(choice, server, round_)

    def _passed(self, choice: Choice, server: Server, round_: str) -> Decision:
        variant = choice.variant.name
        previous = (self.body.get("serving") or {}).get("server")
        percent = self.rollout.canary_percent if self.rollout else 0
        if previous and percent and not round_:
            stable, canary = canary_split(self.total, percent)
            self._scale(previous, stable)
            self._scale(server.name, canary)
            self._select(None)
            self.body["canary"] = {**self.body["candidate"], "percent": percent, "since": stamp(self.now)}
            message = (f"{variant} passed live parity and takes {percent} % as a canary ({canary} of "
                       f"{stable + canary} replicas)")
            self._event("Normal", "CanaryStarted", message)
            return self._progress("Canary", "Canary", message)
        return self._promote(choice, server)

    def _canary(self, choice: Choice, server: Server, canary: dict[str, Any]) -> Decision:
        auto = self.rollout.auto_promote if self.rollout else True
        percent = self.rollout.canary_percent if self.rollout else 0
        if percent >= 100 or percent == 0:
            return self._promote(choice, server)  # the user moved the rest of the traffic
        if not auto:
            return self._progress("Canary", "Canary", f"{choice.variant.name} takes {canary.get('percent')} % as a "
                                  "canary; set rollout.canaryPercent to 100 (or autoPromote) to promote it")
        held = (self.now - (_since(canary.get("since")) or self.now)).total_seconds()
        wait = (self.rollout.analysis_seconds if self.rollout else 60) - held
        if wait > 0:
            self.decision.requeue_after = min(max(wait, 1.0), WAIT_SECONDS)
            return self._progress("Canary", "Canary", f"{choice.variant.name} takes {canary.get('percent')} % as a "
                                  f"canary; judged in {int(wait) + 1} s")
        return self._verify(choice, server, round_="analysis")

    def _promote(self, choice: Choice, server: Server) -> Decision:
        variant = choice.variant.name
        previous = (self.body.get("serving") or {}).get("variant")
        self._scale(server.name, self.total)
        self._select(server.name)
        self.body["serving"] = self._variant_record(choice, since=stamp(self.now), server=server.name)
        self.body.pop("candidate", None)
        self.body.pop("canary", None)
        self.body.pop("rejected", None)
        self._retire_others({server.name})
        message = f"{variant} passed live parity and takes all traffic" + (f" (was {previous})" if previous else "")
        self._event("Normal", "Promoted", message)
        self.decision.requeue_after = POLL_SECONDS
        self.body["replicas"] = server.ready
        self._conditions(True, "Serving", f"{self._serving_message()}; {message}", False, None)
        return self._finish("Serving", f"{self._serving_message()}; {message}")

    def _roll_back(self, choice: Choice, reason: str, message: str) -> Decision:
        variant = choice.variant
        serving = self.body.get("serving") or {}
        previous = serving.get("server")
        candidate = (self.body.get("candidate") or {}).get("server")
        self._record_rejection(variant, reason, message)
        self.body.pop("candidate", None)
        self.body.pop("canary", None)
        if candidate:
            self.decision.deletes.append(ChildRef("Deployment", candidate))
        self.decision.requeue_after = None
        if previous:
            said = f"rolled back {variant.name}: {message}; {serving.get('variant')} keeps serving"
            self._event("Warning", reason, said)
            self._select(previous)
            self._scale(previous, self.total)
            server = self._server(previous)
            self.body["replicas"] = server.ready if server else 0
            self._conditions(True, "Serving", f"{self._serving_message()}; {said}", False, reason, said)
            return self._finish("Serving", f"{self._serving_message()}; {said}")
        said = f"rolled back {variant.name}: {message}; nothing serves"
        self._event("Warning", reason, said)
        self.status.failed(reason, said)
        self.status.condition(DEGRADED, True, reason, said)
        self.status.drop(PROGRESSING)
        return self._finish("Failed", said)


def decide_rollout(dep: ModelDeployment, related: Related, observed: Observed, profiles: dict[str, HardwareProfile],
                   settings: Settings, now: datetime) -> Decision:
    return Rollout(dep, related, observed, profiles, settings, now).decide()
