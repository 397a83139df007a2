"""The condition vocabulary, shared by the operator, local mode and the docs.

`Ready` summarises every kind. `Reconciling` is True while work is in progress and `Stalled`
while a person must act (a bad reference, a failed verification); each exists only while it
holds. Jobs also carry `Complete`. A ModelVersion carries `Evaluated` once an EvaluationJob
judged it: True when its gates passed, so that Argo CD, Flux or a promotion script can act.
"""

from __future__ import annotations

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
COMPLETE = "Complete"
EVALUATED = "Evaluated"

TERMINAL_PHASES = frozenset({"Ready", "Succeeded", "Failed"})
"""Phases after which nothing more happens to an object (until its spec or a dependency changes)."""

TYPES = {
    READY: "The object reached its goal: a Model has a Ready version, a ModelVersion is stored "
    "and verified, a job finished successfully.",
    RECONCILING: "Work is in progress (an import, conversion or evaluation Job is running, or "
    "a dependency is awaited).",
    STALLED: "Progress needs a person: the spec refers to something invalid, or the work "
    "failed in a way that retrying will not fix. The message says what to change.",
    COMPLETE: "A ConversionJob or EvaluationJob ran to the end (True) or failed (False).",
    EVALUATED: "Set on a ModelVersion by its latest EvaluationJob: True when all gates passed, "
    "False when any failed; the reason names the EvaluationJob's verdict.",
}
