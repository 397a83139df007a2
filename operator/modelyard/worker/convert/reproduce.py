"""reproduce.sh: re-runs the conversion with the same worker, objects and tool versions, and
lists the steps and external commands it took (run it against a store holding the source)."""

from __future__ import annotations

import json
import shlex
from typing import Any

HEADER = """#!/bin/sh
# Re-runs ConversionJob {job} ({source} -> {output}).
# Usage: MODELYARD_STORE_URI=<store holding the source version> sh reproduce.sh
# The output version is immutable: to compare, run against a copy of the store without it, or
# change spec.output.version in conversionjob.json below.
set -eu
"""


def script(job: str, source: str, output: str, conversion_job: dict[str, Any], source_version: dict[str, Any],
           steps: list[str], commands: list[str], tools: dict[str, str]) -> str:
    pins = " ".join(shlex.quote(f"{name}=={version}") for name, version in sorted(tools.items()) if name not in ("python", "modelyard"))
    lines = [HEADER.format(job=job, source=source, output=output)]
    lines.append(f"# Tools of the original run: python {tools.get('python', '?')}, modelyard {tools.get('modelyard', '?')}")
    lines.append(f"# pip install {pins}")
    lines.append("# Steps of the original run:")
    lines += [f"#   {i}. {step}" for i, step in enumerate(steps, 1)]
    if commands:
        lines.append("# External commands of the original run (paths were in its work folder):")
        lines += [f"#   {command}" for command in commands]
    for name, body in (("conversionjob.json", conversion_job), ("source-version.json", source_version)):
        lines.append(f"cat > {name} <<'MODELYARD_EOF'")
        lines.append(json.dumps(body, indent=2, sort_keys=True))
        lines.append("MODELYARD_EOF")
    lines.append(
        'python -m modelyard.worker convert --object conversionjob.json --source-version source-version.json '
        '--store "${MODELYARD_STORE_URI:?set MODELYARD_STORE_URI}" --termination-log /dev/null'
    )
    return "\n".join(lines) + "\n"
