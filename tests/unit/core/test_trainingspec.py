"""A job's resolved spec: template parameters, the overrides it allows, and saving it back."""

from __future__ import annotations

from modelyard.api.validation import parse_object
from modelyard.core.trainingspec import resolve_spec, template_from_job
from tests.support import builders


def job(**spec):
    body = builders.training_job(**spec)
    return parse_object(body)


def template(**spec):
    return parse_object(builders.training_template(**spec))


def from_template(**spec):
    body = builders.training_job(templateRef={"name": "digits-template"}, **spec)
    for key in ("algorithmRef", "inputs", "hyperparameters", "output"):
        if key not in spec:
            del body["spec"][key]
    return parse_object(body)


def test_a_job_without_template_resolves_to_its_own_fields():
    resolved, errors = resolve_spec(job(), None)
    assert errors == [] and resolved["hyperparameters"] == {"epochs": 20} and "suspend" not in resolved


def test_hyperparameters_and_inputs_merge_by_name():
    extra = [{"name": "validation", "uri": "s3://datasets/val.npz"}]
    resolved, errors = resolve_spec(from_template(hyperparameters={"epochs": 5}, inputs=extra), template())
    assert errors == []
    assert resolved["hyperparameters"] == {"epochs": 5, "learningRate": 0.05}
    assert [i["name"] for i in resolved["inputs"]] == ["train", "validation"]
    assert resolved["hardware"] == "cpu" and resolved["algorithmRef"]["name"] == "tabular-mlp"


def test_an_override_the_template_forbids_names_the_field():
    locked = template(allowOverrides=["hyperparameters"])
    _, errors = resolve_spec(from_template(hardware="gpu"), locked)
    assert errors == ["spec.hardware: TrainingTemplate 'digits-template' does not allow overriding hardware (it allows: hyperparameters)"]
    _, errors = resolve_spec(from_template(algorithmRef={"name": "other"}), template())
    assert "sets the algorithm" in errors[0]


def test_the_output_version_is_always_the_jobs_own():
    locked = template(allowOverrides=[])
    resolved, errors = resolve_spec(from_template(output={"modelRef": {"name": "classifier"}, "version": "2.0.0"}), locked)
    assert errors == [] and resolved["output"] == {"modelRef": {"name": "classifier"}, "version": "2.0.0"}


def test_a_job_needs_an_algorithm_and_an_output_somewhere():
    body = builders.training_job()
    del body["spec"]["algorithmRef"], body["spec"]["output"]
    _, errors = resolve_spec(parse_object(body), None)
    assert [e.split(":")[0] for e in errors] == ["spec.algorithmRef", "spec.output.modelRef"]


def test_a_template_saved_from_a_job_reproduces_its_resolved_spec():
    original = job(hardware="cpu", maxRuntimeSeconds=600, output={"modelRef": {"name": "classifier"}, "version": "1.2.0"},
                   inputs=[{"name": "train", "uri": "s3://datasets/digits.npz", "sha256": "a" * 64}])
    resolved, _ = resolve_spec(original, None)
    saved = parse_object(template_from_job(original, resolved, "saved"))
    assert saved.metadata.annotations == {"modelyard.dev/saved-from": "trainingjob/digits-train"}
    again = from_template(output={"modelRef": {"name": "classifier"}, "version": "1.2.0"})
    again.spec.template_ref.name = "saved"
    assert resolve_spec(again, saved) == (resolved, [])
