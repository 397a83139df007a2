"""The integration tier's test bed by hand: control plane, process kubelet, moto S3, the chart
installed with helm, and the operator with the chart's ServiceAccount, until Ctrl-C.

    python -m tests.support.testbed STATE_DIR [--no-operator]

Then `export KUBECONFIG=STATE_DIR/kubeconfig` and use kubectl as on any cluster; a namespace for
models needs the store Secret and the worker ServiceAccount (`--namespace NAME` prepares one).
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

import boto3

from tests.support.controlplane import ControlPlane, Operator, create_namespace, install_chart, start_kubelet
from tests.support.s3server import ACCESS_KEY, SECRET_KEY, free_port


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.support.testbed", description=__doc__.split("\n\n")[0])
    parser.add_argument("state", type=Path)
    parser.add_argument("--namespace", action="append", default=[], help="prepare a namespace for models")
    parser.add_argument("--no-operator", action="store_true", help="install the chart but run no operator")
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer

    port = free_port()
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    s3.start()
    endpoint = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                 region_name="us-east-1").create_bucket(Bucket="models")
    cp = ControlPlane(args.state.resolve())
    cp.start()
    kubelet = operator = None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        kubelet = start_kubelet(cp)
        install_chart(cp, {"store.uri": "s3://models/modelyard", "store.endpoint": endpoint,
                           "store.addressingStyle": "path", "store.secretName": "model-store-credentials"})
        for name in args.namespace:
            create_namespace(cp, name, {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY})
        if not args.no_operator:
            operator = Operator(cp, cp.state / "operator")
            operator.start()
        print(f"ready: export KUBECONFIG={cp.kubeconfig}  (S3 at {endpoint}, bucket models; "
              f"logs in {cp.state / 'logs'} and {cp.state / 'operator'}); Ctrl-C stops everything", flush=True)
        stop.wait()
    finally:
        if operator is not None:
            operator.stop()
        if kubelet is not None:
            kubelet.stop()
        cp.stop()
        s3.stop()


if __name__ == "__main__":
    main()
