"""What training code uses to talk to Modelyard: its configuration, metrics, checkpoints and the
model it leaves. The presets use it; custom code may (or may write the same files itself).

The contract, for code in any language:
- `$MODELYARD_TRAIN_CONFIG` names a JSON file: `hyperparameters` (typed values), `inputs`
  (name -> {path, format}), `outputDir`, `checkpointDir`, `metricsFile`, `tensorboardDir` and
  `resumeFrom` (a checkpoint file to continue from, or null) and `initialWeights` (for a job
  `basedOn` another: the base version's weights file, verified against its manifest, to start
  from when there is no checkpoint; or null).
- Each metrics line is one JSON object: `step`, optionally `total` (steps in the run), and the
  metric values, e.g. `{"step": 3, "total": 20, "loss": 0.41, "valAccuracy": 0.88}`.
- The model goes to `outputDir`, with `model.json`: {"file": ..., "format": ...,
  "template": {"name": ..., "parameters": {...}}} (template only when the algorithm has one).
- Exit code 0 on success; 3 when an input cannot be read as the algorithm needs it (the last
  line on stderr says why: it becomes the job's `BadInputData` failure); anything else fails
  the job with the log's tail.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_ENV = "MODELYARD_TRAIN_CONFIG"
MODEL_JSON = "model.json"
CHECKPOINT = "checkpoint.pt"
BAD_INPUT_EXIT = 3
PROGRESS_PREFIX = "MODELYARD_PROGRESS "
"""Progress lines of the worker's log (step, total, percent, ETA, metrics): the console draws
them, the operator copies the latest into a running TrainingJob's status."""


@dataclass(frozen=True)
class TrainConfig:
    hyperparameters: dict[str, Any]
    inputs: dict[str, dict[str, str]]
    output_dir: Path
    checkpoint_dir: Path
    metrics_file: Path
    tensorboard_dir: Path | None
    resume_from: Path | None
    initial_weights: Path | None = None

    def input(self, name: str) -> Path:
        return Path(self.inputs[name]["path"])

    def has_input(self, name: str) -> bool:
        return name in self.inputs


def load_config(path: str | None = None) -> TrainConfig:
    body = json.loads(Path(path or os.environ[CONFIG_ENV]).read_text())
    return TrainConfig(
        hyperparameters=body["hyperparameters"],
        inputs=body["inputs"],
        output_dir=Path(body["outputDir"]),
        checkpoint_dir=Path(body["checkpointDir"]),
        metrics_file=Path(body["metricsFile"]),
        tensorboard_dir=Path(body["tensorboardDir"]) if body.get("tensorboardDir") else None,
        resume_from=Path(body["resumeFrom"]) if body.get("resumeFrom") else None,
        initial_weights=Path(body["initialWeights"]) if body.get("initialWeights") else None,
    )


class Metrics:
    """Appends metric lines (flushed at once: the worker follows the file while training runs)
    and mirrors them into TensorBoard event files when asked for."""

    def __init__(self, config: TrainConfig, total: int):
        self.total = total
        self._file = config.metrics_file.open("a")
        self._board = None
        if config.tensorboard_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self._board = SummaryWriter(str(config.tensorboard_dir))

    def log(self, step: int, **values: float) -> None:
        # NaN and infinities are written as such (Python's JSON reads them): a diverged run
        # is then seen, not mistaken for a missing value.
        line = {"step": step, "total": self.total, "time": round(time.time(), 3), **{k: float(v) for k, v in values.items()}}
        self._file.write(json.dumps(line) + "\n")
        self._file.flush()
        if self._board is not None:
            for name, value in values.items():
                self._board.add_scalar(name, float(value), step)
            self._board.flush()

    def close(self) -> None:
        self._file.close()
        if self._board is not None:
            self._board.close()


def write_model_json(config: TrainConfig, file: str, fmt: str, template: str | None = None,
                     parameters: dict[str, Any] | None = None) -> None:
    body: dict[str, Any] = {"file": file, "format": fmt}
    if template:
        body["template"] = {"name": template, "parameters": {k: str(v) for k, v in (parameters or {}).items()}}
    (config.output_dir / MODEL_JSON).write_text(json.dumps(body, indent=2))
