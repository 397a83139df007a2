"""values.schema.json refuses bad values at install with a message naming the value, and
values.yaml documents every value."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from modelyard.config import JobDefaults
from modelyard.storage.config import S3Settings
from tests.support import helm
from tests.support.helm import CHART

SCHEMA = json.loads((CHART / "values.schema.json").read_text())


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (("store.addressingStyle=sideways",), "/store/addressingStyle"),
        (("store.uri=gs://bucket/prefix",), "/store/uri"),
        (("store.partSizeMiB=2",), "/store/partSizeMiB"),
        (("watchNamespaces={Team_A}",), "/watchNamespaces/0"),
        (("profiles.tpu.image.repository=x",), "'tpu' not allowed"),
        (("profiles.gpu.accelerator.resource=gpu",), "/profiles/gpu/accelerator"),
        (("profiles.gpu.accelerator.count=0",), "/profiles/gpu/accelerator"),
        (("profiles.cpu.tolerations[0].key=a", "profiles.cpu.tolerations[0].effect=Sometimes"), "/profiles/cpu/tolerations/0/effect"),
        (("jobs.backoffLimit=11",), "/jobs/backoffLimit"),
        (("resyncSeconds=0",), "/resyncSeconds"),
        (("storeUri=s3://x/y",), "'storeUri' not allowed"),  # a typo is an error, not a silent default
    ],
)
def test_bad_values_fail_at_install_naming_the_value(sets, message):
    error = helm.template_error(sets=sets)
    assert "values don't meet the specifications of the schema" in error
    assert message in error


def test_schema_ranges_agree_with_the_settings():
    """The chart refuses what Settings would refuse, before the operator starts."""
    store = SCHEMA["properties"]["store"]["properties"]
    jobs = SCHEMA["properties"]["jobs"]["properties"]
    pairs = [
        (store["partSizeMiB"], S3Settings.model_fields["part_size_mib"]),
        (store["concurrency"], S3Settings.model_fields["concurrency"]),
        (store["maxAttempts"], S3Settings.model_fields["max_attempts"]),
        (jobs["backoffLimit"], JobDefaults.model_fields["backoff_limit"]),
        (jobs["activeDeadlineSeconds"], JobDefaults.model_fields["active_deadline_seconds"]),
    ]
    for schema, field in pairs:
        bounds = {type(m).__name__: m for m in field.metadata}
        if "Ge" in bounds:
            assert schema["minimum"] == bounds["Ge"].ge
        if "Le" in bounds:
            assert schema["maximum"] == bounds["Le"].le
    assert store["addressingStyle"]["enum"] == list(S3Settings.model_fields["addressing_style"].annotation.__args__)
    assert store["checksums"]["enum"] == list(S3Settings.model_fields["checksums"].annotation.__args__)


def test_every_value_is_documented():
    """Each key of values.yaml has a `# --` comment on it or on a parent (helm-docs style)."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    documented: set[str] = set()
    stack: list[tuple[int, str]] = []
    pending = False
    for line in lines:
        if line.strip().startswith("# --"):
            pending = True
            continue
        match = re.match(r"^(\s*)([A-Za-z][\w.-]*):", line)
        if not match or line.strip().startswith("#"):
            continue
        indent = len(match.group(1))
        stack = [(i, k) for i, k in stack if i < indent]
        path = ".".join([k for _, k in stack] + [match.group(2)])
        stack.append((indent, match.group(2)))
        if pending:
            documented.add(path)
            pending = False

    def leaves(node, prefix=""):
        if isinstance(node, dict) and node:
            for key, value in node.items():
                yield from leaves(value, f"{prefix}{key}.")
        else:
            yield prefix[:-1]

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    undocumented = [
        leaf for leaf in leaves(values)
        if not any(leaf == d or leaf.startswith(d + ".") for d in documented)
        and not leaf.startswith("profiles.")  # documented once, at `profiles`, with the format
    ]
    assert not undocumented, f"values without a `# --` comment: {undocumented}"
