"""The quickstart's data preparation: scikit-learn's bundled digits dataset (no download), split
into the files a data pipeline would leave in object storage:

    <out>/digits-train.npz        training split (x: float32 [n, 64] in 0..1, y: int64 [n])
    <out>/digits-test.npz         the held-out split the evaluations use
    <out>/digits-calibration.npz  inputs for static INT8 calibration

The quickstart's TrainingJob trains on digits-train.npz; its manifests name these files with
file:///tmp/modelyard-quickstart/...; on a cluster, copy them to your bucket and use s3:// URIs.

    python examples/quickstart/prepare.py [--out /tmp/modelyard-quickstart]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SEED = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/modelyard-quickstart"))
    args = parser.parse_args()

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)  # pixel intensities 0..16 -> 0..1
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=SEED, stratify=y)
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(args.out / "digits-train.npz", x=x_train, y=y_train)
    np.savez(args.out / "digits-test.npz", x=x_test, y=y_test)
    np.savez(args.out / "digits-calibration.npz", features=x_train[:256])
    print(f"wrote {len(x_train)} training and {len(x_test)} held-out digits to {args.out}/digits-train.npz, "
          f"digits-test.npz and digits-calibration.npz")


if __name__ == "__main__":
    main()
