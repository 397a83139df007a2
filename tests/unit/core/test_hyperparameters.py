"""Typed hyperparameter checks: values as YAML types them or as strings, each problem named."""

from __future__ import annotations

import pytest

from modelyard.api.validation import parse_object
from modelyard.core.hyperparameters import check_hyperparameters
from tests.support import builders

PARAMETERS = parse_object(builders.algorithm()).spec.parameters


def check(**given):
    return check_hyperparameters(PARAMETERS, given, "ClusterAlgorithm tabular-mlp")


def test_defaults_fill_what_is_not_set_and_strings_are_read_as_their_type():
    checked = check(epochs="30", learningRate="0.5", shuffle="false", optimizer="sgd")
    assert checked.errors == []
    assert checked.values == {"epochs": 30, "learningRate": 0.5, "optimizer": "sgd", "shuffle": False, "labelColumn": "label"}
    assert type(checked.values["epochs"]) is int and type(checked.values["learningRate"]) is float


@pytest.mark.parametrize(("given", "message"), [
    ({"epochs": 0}, "spec.hyperparameters.epochs: Invalid value: 0: expected an integer in [1, 1000]"),
    ({"epochs": 2.5}, "spec.hyperparameters.epochs: Invalid value: 2.5: expected an integer in [1, 1000]"),
    ({"epochs": "ten"}, "spec.hyperparameters.epochs: Invalid value: 'ten': expected an integer in [1, 1000]"),
    ({"epochs": True}, "spec.hyperparameters.epochs: Invalid value: True: expected an integer in [1, 1000]"),
    ({"learningRate": 2}, "spec.hyperparameters.learningRate: Invalid value: 2: expected a number in [0.0, 1.0]"),
    ({"learningRate": "nan"}, "spec.hyperparameters.learningRate: Invalid value: 'nan': expected a number in [0.0, 1.0]"),
    ({"optimizer": "rmsprop"}, "spec.hyperparameters.optimizer: Invalid value: 'rmsprop': expected one of adam, sgd"),
    ({"shuffle": "yes"}, "spec.hyperparameters.shuffle: Invalid value: 'yes': expected true or false"),
    ({"labelColumn": 3}, "spec.hyperparameters.labelColumn: Invalid value: 3: expected a string"),
    ({"lr": 0.1}, "spec.hyperparameters.lr: unknown parameter; ClusterAlgorithm tabular-mlp takes: epochs, labelColumn, "
                  "learningRate, optimizer, shuffle"),
])
def test_each_wrong_value_names_the_parameter_and_what_was_expected(given, message):
    assert check(**given).errors == [message]


def test_a_required_parameter_without_default_is_missing():
    spec = builders.algorithm(parameters=[{"name": "classes", "type": "int", "required": True, "min": 2}])
    checked = check_hyperparameters(parse_object(spec).spec.parameters, {}, "Algorithm a")
    assert checked.errors == ["spec.hyperparameters.classes: Required value: Algorithm a needs an integer >= 2"]


def test_every_problem_is_reported_at_once():
    assert len(check(epochs=0, optimizer="x", lr=1).errors) == 3
