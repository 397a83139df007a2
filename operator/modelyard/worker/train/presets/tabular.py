"""Preset `tabular-mlp`: a multilayer perceptron for tabular classification.

Reads `train` (csv with a label column, or npz with arrays `x` and `y`) and, when given,
`validation` (else `validationSplit` of train is held out, stratified by a seeded shuffle).
Writes one metrics line per epoch (loss, valLoss, valAccuracy), a checkpoint per epoch (resumed
after a suspension), and the weights as safetensors loaded by the `tabular-mlp` template.

    python -m modelyard.worker.train.presets.tabular      # with $MODELYARD_TRAIN_CONFIG set
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np

from modelyard.worker.train.sdk import BAD_INPUT_EXIT, CHECKPOINT, Metrics, TrainConfig, load_config, write_model_json


class DataError(Exception):
    """A dataset this algorithm cannot read; the message says which and why."""


def _labels(raw: list[str] | np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Class indices; string labels map to sorted order (as evaluation's readers do)."""
    from modelyard.worker.text import TextDataError, label_indices

    try:
        return label_indices([str(v) for v in np.asarray(raw).tolist()], "input")
    except TextDataError:
        raise DataError("labels must be class indices 0..N-1 or class names") from None


def read_table(path: Path, fmt: str, label_column: str, where: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if fmt == "npz":
        with np.load(path, allow_pickle=False) as arrays:
            if "x" not in arrays or "y" not in arrays:
                raise DataError(f"{where}: an npz needs arrays x and y; it has {', '.join(arrays.files)}")
            x, y = arrays["x"], arrays["y"]
        if x.ndim != 2:
            raise DataError(f"{where}: x must be 2-D [samples, features], got shape {list(x.shape)}")
        labels, names = _labels(y)
        return x.astype(np.float32), labels, names
    with path.open(newline="") as stream:
        rows = list(csv.reader(stream))
    if len(rows) < 2:
        raise DataError(f"{where}: a csv needs a header row and at least one sample")
    header, body = rows[0], rows[1:]
    if label_column not in header:
        raise DataError(f"{where}: no column {label_column!r} (labelColumn); columns: {', '.join(header)}")
    index = header.index(label_column)
    try:
        x = np.array([[float(v) for i, v in enumerate(r) if i != index] for r in body], dtype=np.float32)
    except ValueError as error:
        raise DataError(f"{where}: feature columns must be numbers ({error})") from None
    labels, names = _labels([r[index] for r in body])
    return x, labels, names


def _split(x: np.ndarray, y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, ...]:
    order = np.random.default_rng(seed).permutation(len(x))
    held = max(1, int(round(len(x) * fraction)))
    if held >= len(x):
        raise DataError(f"validationSplit {fraction} leaves no training samples out of {len(x)}")
    return x[order[held:]], y[order[held:]], x[order[:held]], y[order[:held]]


Arrays = np.ndarray | tuple[np.ndarray, ...]


def warm_start(model: Any, weights: Path) -> None:
    """Start from a base version's weights (a job `basedOn` another); weights of another shape
    (more classes, other features) are bad input, said as such."""
    from safetensors.torch import load_file

    state = load_file(str(weights))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        detail = str(error).splitlines()[1:3]
        raise DataError(f"spec.basedOn: the base version's weights do not fit this job's model "
                        f"({'; '.join(d.strip() for d in detail) or error}); train it without basedOn") from None
    print(f"warm start from the base version's weights ({weights.name})", file=sys.stderr)


def fit(model: Any, config: TrainConfig, x: Arrays, y: np.ndarray, vx: Arrays, vy: np.ndarray,
        select: Callable[[tuple[Any, ...], Any], tuple[Any, ...]] | None = None) -> None:
    """Train `model` by cross-entropy with the job's optimiser settings: one metrics line and
    one checkpoint per epoch, resuming from `config.resume_from`; writes model.safetensors.
    `x` is the model's one input or a tuple of its inputs; `select(inputs, index)` picks a batch
    (default: the rows at `index`)."""
    import torch
    from safetensors.torch import save_file
    from torch import nn

    hp = config.hyperparameters
    make = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[hp["optimizer"]]
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = make(trainable, lr=float(hp["learningRate"]), weight_decay=float(hp.get("weightDecay", 0.0)))
    epochs, batch = int(hp["epochs"]), int(hp["batchSize"])
    start = 0
    checkpoint = config.resume_from
    if checkpoint is not None and checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=True)  # tensors and numbers only: never unpickles code
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        start = int(state["epoch"])
        print(f"resuming from epoch {start} ({checkpoint.name})", file=sys.stderr)
    elif config.initial_weights is not None:
        warm_start(model, config.initial_weights)
    features = tuple(torch.from_numpy(a) for a in (x if isinstance(x, tuple) else (x,)))
    val_features = tuple(torch.from_numpy(a) for a in (vx if isinstance(vx, tuple) else (vx,)))
    labels, val_labels = torch.from_numpy(y), torch.from_numpy(vy)
    pick = select or (lambda arrays, index: tuple(a[index] for a in arrays))
    generator = torch.Generator().manual_seed(int(hp["seed"]))
    metrics = Metrics(config, total=epochs)
    try:
        for epoch in range(start, epochs):
            model.train()
            order = torch.randperm(len(labels), generator=generator)
            total = 0.0
            for begin in range(0, len(order), batch):
                index = order[begin:begin + batch]
                optimiser.zero_grad()
                loss = nn.functional.cross_entropy(model(*pick(features, index)), labels[index])
                loss.backward()
                optimiser.step()
                total += loss.item() * len(index)
            model.eval()
            with torch.no_grad():
                logits = torch.cat([model(*pick(val_features, torch.arange(b, min(b + batch, len(val_labels)))))
                                    for b in range(0, len(val_labels), batch)])
                val_loss = float(nn.functional.cross_entropy(logits, val_labels))
                accuracy = float((logits.argmax(1) == val_labels).float().mean())
            metrics.log(epoch + 1, loss=total / len(order), valLoss=val_loss, valAccuracy=accuracy)
            config.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            temp = config.checkpoint_dir / f".{CHECKPOINT}"
            torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(), "epoch": epoch + 1}, temp)
            temp.replace(config.checkpoint_dir / CHECKPOINT)
    finally:
        metrics.close()
    config.output_dir.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, config.output_dir / "model.safetensors")


def train(config: TrainConfig) -> dict[str, Any]:
    import torch

    from modelyard.templates.architectures import ARCHITECTURES

    hp = config.hyperparameters
    seed = int(hp["seed"])
    label = str(hp["labelColumn"])
    x, y, names = read_table(config.input("train"), config.inputs["train"]["format"], label, "input train")
    if config.has_input("validation"):
        vx, vy, _ = read_table(config.input("validation"), config.inputs["validation"]["format"], label, "input validation")
        if vx.shape[1] != x.shape[1]:
            raise DataError(f"input validation has {vx.shape[1]} features, train has {x.shape[1]}")
    else:
        x, y, vx, vy = _split(x, y, float(hp["validationSplit"]), seed)
    classes = max(len(names), int(max(y.max(), vy.max())) + 1)
    torch.manual_seed(seed)
    model = ARCHITECTURES["MLP"](num_features=x.shape[1], hidden=int(hp["hidden"]), num_classes=classes)
    fit(model, config, x, y, vx, vy)
    write_model_json(config, "model.safetensors", "safetensors", "tabular-mlp",
                     {"numFeatures": x.shape[1], "numClasses": classes, "hidden": int(hp["hidden"])})
    return {"samples": len(x), "validationSamples": len(vx), "classes": classes}


def run_preset(train: Callable[[TrainConfig], dict[str, Any]]) -> int:
    """A preset's entry point: unreadable data is exit 3 with its reason (BadInputData)."""
    try:
        summary = train(load_config())
    except DataError as error:
        print(f"modelyard: bad input data: {error}", file=sys.stderr)
        return BAD_INPUT_EXIT
    print(f"trained: {summary}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run_preset(train))
