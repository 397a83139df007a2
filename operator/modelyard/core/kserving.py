"""Reconcile a ModelDeployment on KServe: one InferenceService whose predictor serves the chosen
variant (workloads/kserve.py picks the runtime), KServe's readiness read back, then the same
live parity as the built-in backend against the InferenceService's in-cluster address, and a
roll back to the previous variant's predictor when the new one never becomes ready or fails it.

KServe moves the traffic itself: in Standard (RawDeployment) mode its Deployment rolls to the
new predictor as soon as the spec changes, so the check runs after the roll and a mismatch puts
the previous predictor back; in Knative mode `rollout.canaryPercent` becomes KServe's
`canaryTrafficPercent` (the check then reaches both revisions in that proportion)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelyard.api.modeldeployment import ModelDeployment
from modelyard.config import Settings
from modelyard.core.decision import ChildPatch, ChildRef, Decision
from modelyard.core.jobstate import JobObservation
from modelyard.core.rollout import PARITY_FILE, Related, Rollout, has_parity_samples
from modelyard.core.status import stamp
from modelyard.core.variants import Choice, NoChoice
from modelyard.workloads.kserve import (KIND, InferenceServiceState, UnsupportedVariant,
                                        build_inference_service, inference_service_state, served_model_name)
from modelyard.workloads.naming import label_value
from modelyard.workloads.profiles import HardwareProfile
from modelyard.workloads.serving import (DEPLOYMENT_LABEL, VARIANT_LABEL, build_parity_job, parity_job_name,
                                         replica_count, service_name)

KSERVE_NOT_INSTALLED = ("backend kserve: KServe's InferenceService CRD (serving.kserve.io/v1beta1) is not installed "
                        "in this cluster; install KServe, or use backend builtin (auto chooses builtin where KServe "
                        "is absent)")


@dataclass(frozen=True)
class KServeObserved:
    installed: bool
    """Whether the InferenceService CRD is served."""
    service: dict[str, Any] | None = None
    """Our InferenceService as the API has it."""
    parity: dict[str, JobObservation] | None = None


def isvc_variant(body: dict[str, Any]) -> str | None:
    return ((body.get("metadata") or {}).get("annotations") or {}).get(VARIANT_LABEL)


def kserve_parity_name_for(dep: ModelDeployment, variant: str, body: dict[str, Any]) -> str:
    """One parity Job per InferenceService and generation: each new predictor is checked anew."""
    meta = body.get("metadata") or {}
    return parity_job_name(dep, variant, f"{(meta.get('uid') or '')[:4]}g{meta.get('generation') or 0}")


class KServeRollout(Rollout):
    def __init__(self, *args: Any, kserve: KServeObserved, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.kserve = kserve
        self.body["backend"] = "kserve"
        self.isvc = kserve.service
        self.state: InferenceServiceState | None = inference_service_state(self.isvc) if self.isvc else None

    def decide(self) -> Decision:
        if not self.kserve.installed:
            return self._no_choice(NoChoice("KServeNotInstalled", KSERVE_NOT_INSTALLED, final=True))
        self.body["url"] = (self.state.address or self.state.url) if self.state else None
        self.body.pop("grpcAddress", None)
        return self._decide_choice()

    # the built-in pieces that a single InferenceService replaces --------------------------------

    def _serving_message(self) -> str:
        serving = self.body.get("serving") or {}
        return f"serving {serving.get('variant')} ({serving.get('format')}) on KServe at {self.body.get('url') or 'its address'}"

    def _manifest(self, choice: Choice) -> dict[str, Any] | NoChoice:
        dep, variant = self.dep, choice.variant
        profile = self.profiles.get(dep.spec.hardware)
        if profile is None:
            return NoChoice("NoHardwareProfile", f"no hardware profile {dep.spec.hardware!r} is configured", final=True)
        auto = dep.spec.autoscaling
        low, high = (auto.min_replicas, auto.max_replicas) if auto else (replica_count(dep), replica_count(dep))
        previous = (self.body.get("serving") or {}).get("variant")
        percent = self.rollout.canary_percent if self.rollout and previous and previous != variant.name else 0
        mode = self.settings.kserve_deployment_mode
        artifact = variant.status.artifact.uri if variant.status and variant.status.artifact else None
        try:
            manifest = build_inference_service(
                name=service_name(dep), namespace=dep.namespace,
                owner={"apiVersion": dep.api_version, "kind": dep.kind, "name": dep.name, "uid": dep.metadata.uid or ""},
                model_name=dep.spec.model_ref.name, version=variant.name, artifact_uri=artifact or "",
                model_format=choice.format, profile=profile, min_replicas=low, max_replicas=high,
                resources=dep.spec.resources.to_dict() if dep.spec.resources else None,
                service_account=self.settings.kserve_service_account,
                labels={DEPLOYMENT_LABEL: label_value(dep.name)}, canary_percent=percent or None,
                deployment_mode=mode)
        except (UnsupportedVariant, ValueError) as error:
            return NoChoice("UnsupportedOnKServe", str(error), final=True)
        manifest["metadata"].setdefault("annotations", {})[VARIANT_LABEL] = variant.name
        return manifest

    def _put(self, manifest: dict[str, Any]) -> None:
        if self.isvc is None:
            self.decision.create.append(manifest)
        else:
            body = {"metadata": {"annotations": manifest["metadata"]["annotations"]}, "spec": manifest["spec"]}
            self.decision.patches.append(ChildPatch(name=manifest["metadata"]["name"], body=body, kind=KIND))

    def _decide_choice(self) -> Decision:
        choice = self._choose()
        if isinstance(choice, Decision):
            return choice
        rejected = self._rejected(choice)
        serving = (self.body.get("serving") or {}).get("variant")
        held = rejected is not None
        if rejected is not None:
            choice = self._previous_choice() or choice
            if serving is None:
                return self._held_back(choice, rejected)
        manifest = self._manifest(choice)
        if isinstance(manifest, NoChoice):
            return self._no_choice(manifest)
        running = isvc_variant(self.isvc) if self.isvc else None
        if serving == choice.variant.name and running == choice.variant.name:
            return self._kserve_steady(choice, manifest, rejected if held else None)
        return self._kserve_roll(choice, manifest)

    def _previous_choice(self) -> Choice | None:
        serving = self.body.get("serving") or {}
        version = next((v for v in self.related.versions if v.name == serving.get("variant")), None)
        if version is None:
            return None
        return Choice(version=version, variant=version, format=serving.get("format") or version.spec.format,
                      reason=serving.get("reason") or "")

    def _kserve_steady(self, choice: Choice, manifest: dict[str, Any], rejected: dict[str, Any] | None) -> Decision:
        self.body.pop("candidate", None)
        self.body.pop("canary", None)
        if self.isvc is not None and self.isvc.get("spec") != manifest["spec"]:
            self._put(manifest)  # replicas, resources or the profile changed: KServe rolls it
        ready = bool(self.state and self.state.ready)
        message = self._serving_message()
        if not ready:
            why = (self.state.message if self.state else None) or "KServe has not reported it ready"
            self.decision.requeue_after = 3.0
            self._conditions(False, "ServerNotReady", f"{message}; {why}", False, "ServerNotReady", why)
            return self._finish("Serving", f"{message}; {why}")
        degraded = (rejected.get("reason"), f"{rejected.get('variant')} was rolled back: {rejected.get('message')}") if rejected else None
        self._conditions(True, "Serving", message, False, degraded[0] if degraded else None, degraded[1] if degraded else "")
        return self._finish("Serving", message + (f"; {degraded[1]}" if degraded else ""))

    def _kserve_roll(self, choice: Choice, manifest: dict[str, Any]) -> Decision:
        variant = choice.variant
        candidate = self.body.get("candidate") or {}
        if candidate.get("variant") != variant.name:
            candidate = self._variant_record(choice, since=stamp(self.now))
        self.body["candidate"] = candidate
        self.decision.requeue_after = 3.0
        if self.isvc is None or isvc_variant(self.isvc) != variant.name:
            self._put(manifest)
            return self._progress("Deploying", "Deploying", f"applying {variant.name} ({choice.format}) to KServe: {choice.reason}")
        state = self.state
        current = bool(state and state.current)
        failed = current and state is not None and not state.ready and state.reason not in (None, "Pending")
        if failed or self._too_slow(candidate):
            why = (state.message if state else None) or f"not ready within {self._ready_timeout()} s"
            return self._kserve_roll_back(choice, "ServerNotReady", f"{variant.name} did not become ready on KServe: {why}")
        if not (state and state.ready and (state.address or state.url)):
            return self._progress("Deploying", "ServersStarting", f"waiting for KServe to report {variant.name} ready")
        return self._kserve_verify(choice, state)

    def _kserve_verify(self, choice: Choice, state: InferenceServiceState) -> Decision:
        variant = choice.variant
        policy = self.rollout.parity if self.rollout else "Required"
        if policy == "Off" or (policy == "IfRecorded" and not has_parity_samples(variant)):
            self.body["parity"] = {"variant": variant.name, "passed": False, "skipped": True,
                                   "message": "not checked", "checkedAt": stamp(self.now)}
            return self._kserve_promote(choice)
        if not has_parity_samples(variant):
            return self._kserve_roll_back(choice, "NoParitySamples", f"{variant.name} has no recorded parity samples "
                                          f"({PARITY_FILE}); set rollout.parity to IfRecorded to serve it unchecked")
        name = kserve_parity_name_for(self.dep, variant.name, self.isvc or {})
        observed = (self.kserve.parity or {}).get(name, JobObservation("Missing"))
        address = (state.address or state.url or "").rstrip("/")
        served = served_model_name(self.dep.spec.model_ref.name, variant.name, choice.format)
        if observed.phase == "Missing":
            profile = self.profiles.get(self.dep.spec.hardware) or self.profiles["cpu"]
            job = build_parity_job(self.dep, variant, self.related.model, [address], name, profile, self.settings)
            command = job["spec"]["template"]["spec"]["containers"][0]["command"]
            command[command.index("--model-name") + 1] = served
            self.decision.create.append(job)
            return self._progress("Verifying", "VerifyingParity", f"checking {variant.name}'s live parity at {address} (Job {name})")
        if observed.phase in ("Pending", "Running", "Foreign"):
            return self._progress("Verifying", "VerifyingParity", f"checking {variant.name}'s live parity (Job {name})")
        result = observed.result or {}
        self.body["parity"] = {k: v for k, v in {
            "variant": variant.name, "passed": bool(result.get("passed")), "samples": result.get("samples"),
            "endpoints": [address], "message": (result.get("message") or observed.message or "")[:4000],
            "outputs": [{k: o.get(k) for k in ("name", "maxAbsDiff", "maxRelDiff", "atol", "rtol", "passed")}
                        for o in result.get("outputs") or []][:64],
            "checkedAt": stamp(self.now)}.items() if v is not None}
        if observed.phase == "Failed" or not result.get("passed"):
            return self._kserve_roll_back(choice, result.get("reason") or observed.reason or "ParityFailed",
                                          result.get("message") or observed.message or "live parity failed")
        return self._kserve_promote(choice)

    def _kserve_promote(self, choice: Choice) -> Decision:
        previous = (self.body.get("serving") or {}).get("variant")
        self.body["serving"] = self._variant_record(choice, since=stamp(self.now))
        for key in ("candidate", "canary", "rejected"):
            self.body.pop(key, None)
        spec = (self.isvc or {}).get("spec") or {}
        if "canaryTrafficPercent" in (spec.get("predictor") or {}):
            # parity passed: the rest of the traffic moves
            self.decision.patches.append(ChildPatch(name=service_name(self.dep), kind=KIND,
                                                    body={"spec": {"predictor": {"canaryTrafficPercent": None}}}))
        message = f"{choice.variant.name} passed live parity and takes all traffic" + (f" (was {previous})" if previous else "")
        self._event("Normal", "Promoted", message)
        self._conditions(True, "Serving", f"{self._serving_message()}; {message}", False, None)
        return self._finish("Serving", f"{self._serving_message()}; {message}")

    def _kserve_roll_back(self, choice: Choice, reason: str, message: str) -> Decision:
        variant = choice.variant
        self._record_rejection(variant, reason, message)
        self.body.pop("candidate", None)
        self.body.pop("canary", None)
        self.decision.requeue_after = 3.0
        previous = self._previous_choice()
        if previous is not None:
            manifest = self._manifest(previous)
            if not isinstance(manifest, NoChoice):
                self._put(manifest)
            said = f"rolled back {variant.name}: {message}; {previous.variant.name} is put back"
            self._event("Warning", reason, said)
            self._conditions(True, "Serving", f"{self._serving_message()}; {said}", False, reason, said)
            return self._finish("Serving", f"{self._serving_message()}; {said}")
        self.decision.deletes.append(ChildRef(KIND, service_name(self.dep)))
        said = f"rolled back {variant.name}: {message}; nothing serves"
        self._event("Warning", reason, said)
        self.decision.requeue_after = None
        self.status.failed(reason, said)
        return self._finish("Failed", said)


def decide_kserve(dep: ModelDeployment, related: Related, observed: KServeObserved,
                  profiles: dict[str, HardwareProfile], settings: Settings, now: Any) -> Decision:
    from modelyard.core.rollout import Observed

    return KServeRollout(dep, related, Observed(), profiles, settings, now, kserve=observed).decide()
