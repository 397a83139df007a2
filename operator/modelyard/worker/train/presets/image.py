"""Preset `image-cnn`: a small convolutional image classifier trained on an imagefolder.

Reads `train` (one folder per class, as a folder or a .tar/.tar.gz/.zip) and, when given,
`validation` (else `validationSplit` of train is held out by a seeded shuffle). Images go
through the `image-classification-cnn` template's own preprocessing (resize, scale, mean/std),
the same code the evaluation worker runs, so a trained version is evaluated on the inputs it was
trained on. Writes loss, valLoss and valAccuracy per epoch, a checkpoint per epoch (resumed after
a suspension), and safetensors weights for the template.

    python -m modelyard.worker.train.presets.image      # with $MODELYARD_TRAIN_CONFIG set
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from modelyard.worker.train.presets.tabular import DataError, fit, run_preset
from modelyard.worker.train.sdk import TrainConfig, write_model_json

TEMPLATE = "image-classification-cnn"


def read_images(path: Path, channels: int, size: int, workdir: Path, where: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from modelyard.templates import load_catalog
    from modelyard.worker.evaluate.datasets.imagefolder import ImageFolderDataset
    from modelyard.worker.evaluate.datasets.preprocessing import image_preprocessing
    from modelyard.worker.evaluate.errors import EvaluationError
    from modelyard.worker.evaluate.tensors import TensorInfo

    template = load_catalog().get(TEMPLATE).resolve({"channels": str(channels), "inputSize": str(size)})
    tensor = TensorInfo("input", "float32", (-1, channels, size, size))
    try:
        dataset = ImageFolderDataset(path, "input", image_preprocessing(tensor, template.preprocessing), workdir, where)
        if len(dataset.class_names) < 2 or dataset.count == 0:
            raise DataError(f"{where}: an imagefolder needs at least two class folders with images; found "
                            f"{len(dataset.class_names)} class(es), {dataset.count} image(s)")
        images, labels = [], []
        for batch in dataset.batches(256):
            images.append(batch.inputs["input"])
            labels.append(batch.labels)
    except EvaluationError as error:
        raise DataError(error.message) from None
    return np.concatenate(images).astype(np.float32), np.concatenate(labels), dataset.class_names


def train(config: TrainConfig) -> dict[str, Any]:
    import torch

    from modelyard.templates.architectures import ARCHITECTURES

    hp = config.hyperparameters
    channels, size = int(hp["channels"]), int(hp["inputSize"])
    scratch = config.checkpoint_dir.parent / "images"
    x, y, names = read_images(config.input("train"), channels, size, scratch / "train", "input train")
    if config.has_input("validation"):
        vx, vy, val_names = read_images(config.input("validation"), channels, size, scratch / "validation", "input validation")
        if val_names != names:
            raise DataError(f"input validation has classes {', '.join(val_names)}; train has {', '.join(names)}")
    else:
        order = np.random.default_rng(int(hp["seed"])).permutation(len(x))
        held = max(1, int(round(len(x) * float(hp["validationSplit"]))))
        if held >= len(x):
            raise DataError(f"validationSplit {hp['validationSplit']} leaves no training images out of {len(x)}")
        x, y, vx, vy = x[order[held:]], y[order[held:]], x[order[:held]], y[order[:held]]
    torch.manual_seed(int(hp["seed"]))
    model = ARCHITECTURES["SmallCNN"](num_classes=len(names), channels=channels)
    fit(model, config, x, y, vx, vy)
    write_model_json(config, "model.safetensors", "safetensors", TEMPLATE,
                     {"numClasses": len(names), "channels": channels, "inputSize": size})
    return {"images": len(x), "validationImages": len(vx), "classes": names}


if __name__ == "__main__":
    sys.exit(run_preset(train))
