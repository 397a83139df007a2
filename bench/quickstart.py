"""The quickstart's wall time, whole and in parts, in local mode (after install).

Runs what the README's first command runs after `pip install`: the training script, then
`modelyard local apply` on the quickstart (import, three conversions, four evaluations), in a
fresh home. Parts: training, each worker Job (grouped by command) and the orchestration around
them. The baseline measured in the same run is the workers' own time (the processes local mode
starts, the same commands the Jobs run on a cluster): `overhead_ratio` = whole apply / worker
time shows what local mode itself costs (target: close to 1). `seconds` = training + apply
(target < 90 on a 2-core machine).

    python bench/quickstart.py

Last line: a JSON object.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from modelyard.local.engine import LocalMode, Reporter  # noqa: E402
from modelyard.manifests import load  # noqa: E402
from tests.support.quickstart import QUICKSTART, prepare, train  # noqa: E402


class Timer(Reporter):
    def __init__(self) -> None:
        self.started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}
        self.commands: dict[str, str] = {}

    def job_started(self, job: str, command: str) -> None:
        self.started[job] = time.perf_counter()
        self.commands[job] = command

    def job_finished(self, job: str, ok: bool) -> None:
        self.seconds[job] = time.perf_counter() - self.started[job]
        print(f"  {job}: {self.seconds[job]:.2f} s{'' if ok else ' (FAILED)'}", flush=True)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        start = time.perf_counter()
        trained = train(work / "training")
        training = time.perf_counter() - start
        print(f"training: {training:.2f} s", flush=True)
        manifests = prepare(QUICKSTART, work / "manifests", trained)
        timer = Timer()
        start = time.perf_counter()
        mode = LocalMode(work / "home", reporter=timer)
        admission = mode.admit(load([manifests]))
        outcomes = mode.run()
        apply = time.perf_counter() - start
    failed = [f"{o.kind}/{o.name}: {o.message}" for o in outcomes if not o.ok] + [m for _, m in admission.rejected]
    by_command: dict[str, float] = defaultdict(float)
    for job, seconds in timer.seconds.items():
        by_command[timer.commands[job]] += seconds
    workers = sum(timer.seconds.values())
    figures = {
        "seconds": round(training + apply, 2),
        "training_seconds": round(training, 2),
        "apply_seconds": round(apply, 2),
        "worker_seconds": round(workers, 2),
        "orchestration_seconds": round(apply - workers, 2),
        "overhead_ratio": round(apply / workers, 3) if workers else None,
        "jobs": len(timer.seconds),
        **{f"{command}_seconds": round(s, 2) for command, s in sorted(by_command.items())},
        "target_seconds": 90,
        "failed": failed,
    }
    print(json.dumps(figures))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
