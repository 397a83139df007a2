"""A TrainingJob's TensorBoard server: created with the training Job, kept until
ttlSeconds after the job finished (the job looked at again then), then deleted."""

from __future__ import annotations

from datetime import timedelta

from modelyard.api.validation import parse_object
from modelyard.config import Settings
from modelyard.core.decision import ChildRef
from modelyard.core.jobstate import JobObservation
from modelyard.core.trainingjob import decide_training
from modelyard.workloads.profiles import default_profiles
from tests.support import builders
from tests.unit.core.test_trainingjob import NOW, decide, related, started

BOARD = {"enabled": True, "ttlSeconds": 600}
URL = "http://tensorboard-digits-train.default.svc:80/"


def board_job(**status):
    body = started(builders.training_job(tensorboard=BOARD), **status)
    body["metadata"]["uid"] = "job-uid"
    return body


def test_created_with_the_training_job_and_not_while_the_job_waits():
    decision = decide(builders.training_job(tensorboard=BOARD))
    assert [c["kind"] for c in decision.create] == ["Job", "Deployment", "Service"]
    waiting = decide(builders.training_job(tensorboard=BOARD), model=None)
    assert waiting.create == [] and "tensorboard" not in waiting.status


def test_created_with_the_training_job_running_and_only_once():
    decision = decide(board_job(), JobObservation("Running"))
    assert [c["kind"] for c in decision.create] == ["Deployment", "Service"]
    assert decision.status["tensorboard"] == {"phase": "Running", "url": URL, "service": "tensorboard-digits-train"}
    again = decide(board_job(tensorboard=decision.status["tensorboard"]), JobObservation("Running"))
    assert again.create == [] and again.status["tensorboard"]["phase"] == "Running"


def test_kept_until_the_ttl_after_the_job_finished_then_deleted():
    done = board_job(phase="Succeeded", completionTime="2026-12-03T11:55:00Z",
                     tensorboard={"phase": "Running", "url": URL, "service": "tensorboard-digits-train"})
    decision = decide(done)
    assert decision.status["tensorboard"]["expiresAt"] == "2026-12-03T12:05:00Z"
    assert decision.requeue_after == 300 and decision.create == [] and decision.deletes == []
    later = decide_training(parse_object(done), related(), JobObservation("Missing"), default_profiles(),
                            Settings(store_uri="s3://models"), NOW + timedelta(minutes=5))
    assert later.deletes == [ChildRef("Deployment", "tensorboard-digits-train"), ChildRef("Service", "tensorboard-digits-train")]
    assert later.status["tensorboard"] == {"phase": "Expired", "service": "tensorboard-digits-train",
                                           "expiresAt": "2026-12-03T12:05:00Z"}
    expired = board_job(phase="Succeeded", completionTime="2026-12-03T11:00:00Z", tensorboard=later.status["tensorboard"])
    assert decide(expired).deletes == []


def test_not_run_when_the_operator_runs_no_servers():
    decision = decide_training(parse_object(board_job()), related(), JobObservation("Running"), default_profiles(),
                               Settings(store_uri="s3://models", tensorboard_servers=False), NOW)
    assert decision.create == [] and "tensorboard" not in decision.status
