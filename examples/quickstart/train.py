"""Plays the training job of the quickstart: trains a small MLP on scikit-learn's bundled digits
dataset (no download) and writes what a real training job would leave in object storage:

    <out>/digits-train/model.safetensors   the weights (the tabular-mlp template's architecture)
    <out>/digits-test.npz                  the held-out split (x: float32 [n, 64], y: int64 [n])
    <out>/digits-calibration.npz           inputs for static INT8 calibration

The quickstart's manifests name these files with file:///tmp/modelyard-quickstart/...; on a
cluster, copy them to your bucket and use s3:// URIs instead.

    python examples/quickstart/train.py [--out /tmp/modelyard-quickstart]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

SEED = 0
HIDDEN = 64
EPOCHS = 300


def mlp(num_features: int, hidden: int, num_classes: int) -> nn.Module:
    """The architecture of the catalog's tabular-mlp template (modelyard.templates.architectures)."""
    return nn.Sequential(
        nn.Linear(num_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/modelyard-quickstart"))
    args = parser.parse_args()

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)  # pixel intensities 0..16 -> 0..1
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=SEED, stratify=y)

    torch.manual_seed(SEED)
    model = mlp(x.shape[1], HIDDEN, 10)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    features, labels = torch.from_numpy(x_train), torch.from_numpy(y_train)
    for _ in range(EPOCHS):
        optimiser.zero_grad()
        loss = nn.functional.cross_entropy(model(features), labels)
        loss.backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        accuracy = float((model(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean())

    job = args.out / "digits-train"
    job.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, job / "model.safetensors")
    np.savez(args.out / "digits-test.npz", x=x_test, y=y_test)
    np.savez(args.out / "digits-calibration.npz", features=x_train[:256])
    print(f"trained on {len(x_train)} digits, held-out accuracy {accuracy:.4f}; wrote {job}/model.safetensors, "
          f"{args.out}/digits-test.npz, {args.out}/digits-calibration.npz")


if __name__ == "__main__":
    main()
