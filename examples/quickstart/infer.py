"""One inference call against the quickstart's ModelDeployment, as a client application would
make it: the Open Inference Protocol (KServe v2) over REST with tritonclient, a few held-out
digits in, the predicted classes out, next to their labels.

    python examples/quickstart/infer.py [--deployment digits] [--data /tmp/modelyard-quickstart/digits-test.npz]

The URL comes from the deployment's status (`modelyard local get mdep digits -o json`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import tritonclient.http as httpclient


def deployment_url(name: str, home: Path | None) -> str:
    where = ["--home", str(home)] if home else []
    done = subprocess.run([sys.executable, "-m", "modelyard", "local", "get", "mdep", name, "-o", "json", *where],
                          check=True, capture_output=True, text=True)
    status = json.loads(done.stdout).get("status") or {}
    if status.get("phase") != "Serving" or not status.get("url"):
        raise SystemExit(f"ModelDeployment {name} does not serve (phase {status.get('phase')}): {status.get('message')}")
    return status["url"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deployment", default="digits")
    parser.add_argument("--data", type=Path, default=Path("/tmp/modelyard-quickstart/digits-test.npz"))
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--home", type=Path, help="local mode's state folder (.modelyard when unset)")
    args = parser.parse_args()

    url = deployment_url(args.deployment, args.home)
    parsed = urlparse(url)
    model = parsed.path.rstrip("/").rsplit("/", 1)[-1]
    client = httpclient.InferenceServerClient(parsed.netloc)
    metadata = client.get_model_metadata(model)
    (tensor,) = metadata["inputs"]
    data = np.load(args.data)
    x, y = data["x"][: args.count].astype(np.float32), data["y"][: args.count]
    request = httpclient.InferInput(tensor["name"], list(x.shape), tensor["datatype"])
    request.set_data_from_numpy(x)
    reply = client.infer(model, [request])
    scores = reply.as_numpy(metadata["outputs"][0]["name"])
    print(f"POST {url}/infer  ({metadata['name']} version {metadata['versions'][0] if metadata.get('versions') else '?'})")
    print(f"predicted {scores.argmax(axis=1).tolist()}")
    print(f"labels    {y.tolist()}")


if __name__ == "__main__":
    main()
