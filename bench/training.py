"""Training through Modelyard against the same training loop run bare, in the same run.

Modelyard: `modelyard local apply` of a Model and a TrainingJob (the tabular-mlp preset on the
digits dataset): the operator's reconcile, the worker process (inputs fetched and hashed, the
code followed, checkpoints and curves stored, the model imported and inspected, the report
drawn) and the registration of the version. Bare: the preset's code alone (`python -m
modelyard.worker.train.presets.tabular` with the same configuration), in a fresh process, which
includes its own interpreter start and torch import. Alternating, `--runs` each;
`ratio` = median Modelyard time / median bare time (target <= 1.1).

    python bench/training.py            # 400 epochs
    python bench/training.py --quick    # 100 epochs

The fixed cost per job (worker start, import, report: seconds on two cores) is the same at any
training length, so the ratio falls as training grows; it is printed with its parts.

Last line: a JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
PRESET = [sys.executable, "-m", "modelyard.worker.train.presets.tabular"]


def _data(folder: Path) -> Path:
    from sklearn.datasets import load_digits

    digits = load_digits()
    path = folder / "digits.npz"
    np.savez(path, x=(digits.data / 16.0).astype(np.float32), y=digits.target.astype(np.int64))
    return path


def _hyperparameters(epochs: int) -> dict[str, object]:
    return {"epochs": epochs, "learningRate": 0.01, "batchSize": 64, "hidden": 64, "optimizer": "adam",
            "weightDecay": 0.0, "validationSplit": 0.2, "labelColumn": "label", "seed": 0}


def bare(folder: Path, data: Path, epochs: int) -> float:
    work = Path(tempfile.mkdtemp(dir=folder))
    config = {"hyperparameters": _hyperparameters(epochs), "inputs": {"train": {"path": str(data), "format": "npz"}},
              "outputDir": str(work / "output"), "checkpointDir": str(work / "checkpoints"),
              "metricsFile": str(work / "metrics.jsonl"), "tensorboardDir": None, "resumeFrom": None}
    (work / "config.json").write_text(json.dumps(config))
    started = time.perf_counter()
    subprocess.run(PRESET, env={**os.environ, "MODELYARD_TRAIN_CONFIG": str(work / "config.json")}, check=True,
                   capture_output=True)
    return time.perf_counter() - started


def modelyard(folder: Path, data: Path, epochs: int) -> float:
    work = Path(tempfile.mkdtemp(dir=folder))
    docs = [
        {"apiVersion": "modelyard.dev/v1alpha1", "kind": "Model", "metadata": {"name": "digits"},
         "spec": {"task": "tabular-classification"}},
        {"apiVersion": "modelyard.dev/v1alpha1", "kind": "TrainingJob", "metadata": {"name": "digits-train"},
         "spec": {"algorithmRef": {"name": "tabular-mlp"}, "inputs": [{"name": "train", "uri": data.as_uri()}],
                  "hyperparameters": _hyperparameters(epochs), "output": {"modelRef": {"name": "digits"}}}},
    ]
    (work / "job.yaml").write_text(yaml.safe_dump_all(docs))
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "modelyard", "local", "apply", "-f", str(work / "job.yaml"),
                    "--home", str(work / "home")], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    epochs = 100 if args.quick else 400
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = _data(folder)
        ours, theirs = [], []
        for _ in range(args.runs):
            theirs.append(bare(folder, data, epochs))
            ours.append(modelyard(folder, data, epochs))
    median_ours, median_bare = statistics.median(ours), statistics.median(theirs)
    print(f"epochs {epochs}: modelyard {median_ours:.2f} s (runs {', '.join(f'{t:.2f}' for t in ours)}), "
          f"bare {median_bare:.2f} s (runs {', '.join(f'{t:.2f}' for t in theirs)}), "
          f"fixed cost {median_ours - median_bare:.2f} s", file=sys.stderr)
    print(json.dumps({"bench": "training", "epochs": epochs, "modelyard_s": round(median_ours, 3),
                      "bare_s": round(median_bare, 3), "overhead_s": round(median_ours - median_bare, 3),
                      "ratio": round(median_ours / median_bare, 3), "target": 1.1}))


if __name__ == "__main__":
    main()
