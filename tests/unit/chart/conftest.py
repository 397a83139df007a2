"""Values files the chart is rendered with: the defaults and each file in charts/modelyard/ci/."""

from __future__ import annotations

from pathlib import Path

from tests.support.helm import CHART

CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
VALUES_CASES: list[tuple[Path, ...]] = [(), *[(p,) for p in CI_VALUES]]
VALUES_IDS = ["default", *[p.name.removesuffix("-values.yaml") for p in CI_VALUES]]
