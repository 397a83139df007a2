"""Import throughput and memory versus a raw boto3 copy, measured in the same run.

For each S3 server (moto's server mode always; s3rver when `npx s3rver` is available; Ceph RGW
when radosgw is installed: `hack/rgw.sh install`) and each size, the same source object (a
safetensors file) is copied from bucket `src` to bucket `dst`:

- raw, managed: boto3's `upload_fileobj` fed by a streamed GET (no hashing);
- raw, stream: a streamed GET piped into a hand-rolled multipart PUT (no hashing);
- raw, ranges: parallel ranged GETs, each part uploaded as it arrives (no hashing): the other
  GET strategy, measured on each server to choose the import's;
- modelyard: `python -m modelyard.worker import` of a ModelVersion whose source is the object
  (format checked at its first bytes, streamed, hashed, inspected, manifest written).

Every transfer runs in its own process so that peak RSS is per transfer and each side pays the
same interpreter start; throughput is measured inside each process around the transfer. The
ratio is modelyard throughput / the fastest raw throughput of a single-stream GET (managed or
stream: the strategy the import uses); `ranges_vs_stream` says whether parallel ranged GETs
would pay on that server. Last line: a JSON object.

    python bench/storage.py            # 256 MiB, 1 GiB and 4 GiB; moto, s3rver and rgw
    python bench/storage.py --quick    # 64 MiB and 256 MiB; moto and rgw
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[1]
PART_MIB = 16
CONCURRENCY = 4
RANGES_UP_TO = 1024 * MIB

RAW = r"""
import json, os, sys, time, boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
mode, key, part, conc = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = boto3.client("s3", endpoint_url=os.environ["MODELYARD_S3_ENDPOINT"], config=Config(
    s3={"addressing_style": "path"}, max_pool_connections=conc + 4,
    request_checksum_calculation="when_required", response_checksum_validation="when_required"))
from concurrent.futures import ThreadPoolExecutor
t = time.perf_counter()
if mode == "ranges":
    size = c.head_object(Bucket="src", Key=key)["ContentLength"]
    uid = c.create_multipart_upload(Bucket="dst", Key=key)["UploadId"]
    def copy(n):
        start = (n - 1) * part
        data = c.get_object(Bucket="src", Key=key, Range=f"bytes={start}-{min(start + part, size) - 1}")["Body"].read()
        return {"PartNumber": n, "ETag": c.upload_part(Bucket="dst", Key=key, UploadId=uid, PartNumber=n, Body=data)["ETag"]}
    with ThreadPoolExecutor(conc) as pool:
        parts = list(pool.map(copy, range(1, -(-size // part) + 1)))
    c.complete_multipart_upload(Bucket="dst", Key=key, UploadId=uid, MultipartUpload={"Parts": parts})
elif mode == "managed":
    body = c.get_object(Bucket="src", Key=key)["Body"]
    c.upload_fileobj(body, "dst", key, Config=TransferConfig(multipart_chunksize=part, max_concurrency=conc, multipart_threshold=part))
else:
    body = c.get_object(Bucket="src", Key=key)["Body"]
    uid = c.create_multipart_upload(Bucket="dst", Key=key)["UploadId"]
    parts, futures, n = [], [], 1
    with ThreadPoolExecutor(conc) as pool:
        while True:
            data = body.read(part)
            if not data:
                break
            futures.append(pool.submit(lambda n, d: {"PartNumber": n, "ETag": c.upload_part(Bucket="dst", Key=key, UploadId=uid, PartNumber=n, Body=d)["ETag"]}, n, data))
            if len(futures) >= conc:
                parts.append(futures.pop(0).result())
            n += 1
        parts += [f.result() for f in futures]
    c.complete_multipart_upload(Bucket="dst", Key=key, UploadId=uid, MultipartUpload={"Parts": parts})
seconds = time.perf_counter() - t
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({"seconds": seconds, "rss_mib": hwm / 1024}))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start within {deadline_s} s")


class Server:
    """A running S3 server for the bench, and how to stop it and reclaim deleted objects."""

    def __init__(self, kind: str, workdir: Path, largest: int):
        self.kind = kind
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        if kind == "rgw":
            # The memstore holds the source and one copy at a time, deleted copies reclaimed.
            memstore = str(3 * largest // MIB + 1024)
            state = workdir / "rgw"
            done = subprocess.run([str(ROOT / "hack" / "rgw.sh"), "start", str(state)], capture_output=True, text=True,
                                  env={**os.environ, "MODELYARD_RGW_MEMSTORE_MIB": memstore})
            if done.returncode != 0:
                raise RuntimeError(done.stderr[-2000:])
            values = dict(line.split("=", 1) for line in (state / "env").read_text().splitlines())
            self.endpoint = values["MODELYARD_RGW_ENDPOINT"]
            self.creds = {"AWS_ACCESS_KEY_ID": values["MODELYARD_RGW_ACCESS_KEY"],
                          "AWS_SECRET_ACCESS_KEY": values["MODELYARD_RGW_SECRET_KEY"]}
        else:
            self.proc, self.endpoint, self.creds = start_server(kind, workdir)

    def reclaim(self) -> None:
        """Free what deleted objects hold (RGW keeps them until its garbage collector runs)."""
        if self.kind == "rgw":
            subprocess.run(["radosgw-admin", "-c", str(self.workdir / "rgw" / "ceph.conf"), "gc", "process",
                            "--include-all"], capture_output=True, timeout=300)

    def stop(self) -> None:
        if self.kind == "rgw":
            subprocess.run([str(ROOT / "hack" / "rgw.sh"), "stop", str(self.workdir / "rgw")], capture_output=True)
        elif self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)


def start_server(kind: str, workdir: Path) -> tuple[subprocess.Popen, str, dict[str, str]]:
    port = free_port()
    if kind == "moto":
        cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        creds = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    else:
        data = workdir / "s3rver"
        data.mkdir()
        cmd = ["npx", "--yes", "s3rver", "-d", str(data), "-a", "127.0.0.1", "-p", str(port), "--silent"]
        creds = {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER"}
    # Own process group: npx starts node as a child, which must stop with it.
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir,
                            start_new_session=True)
    wait_for_port(port)
    return proc, f"http://127.0.0.1:{port}", creds


def safetensors_stream(size: int):
    """A valid safetensors file of about `size` bytes: one float32 tensor."""
    count = size // 4
    header = json.dumps({"weight": {"dtype": "F32", "shape": [count], "data_offsets": [0, count * 4]}}).encode()
    header += b" " * (-len(header) % 8)
    yield struct.pack("<Q", len(header)) + header
    block = os.urandom(16 * MIB)
    left = count * 4
    while left:
        chunk = block[: min(left, len(block))]
        left -= len(chunk)
        yield chunk


class _Iter:
    """A file-like view of a chunk generator (for upload_fileobj)."""

    def __init__(self, it):
        self.it, self.buf = it, bytearray()

    def read(self, n=-1):
        while n < 0 or len(self.buf) < n:
            try:
                self.buf.extend(next(self.it))
            except StopIteration:
                break
        size = len(self.buf) if n < 0 else min(n, len(self.buf))
        data = bytes(self.buf[:size])
        del self.buf[:size]
        return data


def run_json(cmd: list[str], env: dict[str, str]) -> dict:
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(server: Server, size: int, workdir: Path, env: dict[str, str], client) -> dict:
    key = f"model-{size // MIB}m.safetensors"
    client.upload_fileobj(_Iter(safetensors_stream(size)), "src", key)
    real_size = client.head_object(Bucket="src", Key=key)["ContentLength"]
    raw = {}
    # Ranged GETs are measured up to 1 GiB: on servers that re-read the object for every range
    # (moto) they slow to a crawl as objects grow, and the choice is made by then.
    for mode in ("managed", "stream", "ranges") if size <= RANGES_UP_TO else ("managed", "stream"):
        figures = run_json([sys.executable, "-c", RAW, mode, key, str(PART_MIB * MIB), str(CONCURRENCY)], env)
        client.delete_object(Bucket="dst", Key=key)
        server.reclaim()
        raw[mode] = {"mib_s": real_size / MIB / figures["seconds"], "rss_mib": figures["rss_mib"]}
    obj = {
        "apiVersion": "modelyard.dev/v1alpha1", "kind": "ModelVersion",
        "metadata": {"name": f"bench-{size // MIB}", "namespace": "bench"},
        "spec": {"modelRef": {"name": "bench"}, "version": f"1.0.{size // MIB}", "format": "safetensors",
                 "source": {"uri": f"s3://src/{key}"},
                 "signature": {"inputs": [{"name": "x", "shape": [-1]}], "outputs": [{"name": "y", "shape": [-1]}]}},
    }
    spec_file = workdir / f"{key}.json"
    spec_file.write_text(json.dumps(obj))
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child would report the
    # bench's own peak. The worker ends with os._exit once its result is out: the probe
    # reports its peak there.
    probe = (
        "import json, os, runpy, sys\n"
        "sys.argv = ['modelyard.worker'] + sys.argv[1:]\n"
        "real_exit = os._exit\n"
        "def report(code):\n"
        " hwm = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
        " print(json.dumps({'rss_mib': hwm / 1024, 'code': code}), flush=True)\n"
        " real_exit(code)\n"
        "os._exit = report\n"
        "runpy.run_module('modelyard.worker', run_name='__main__')\n"
    )
    scratch = workdir / "scratch"
    scratch.mkdir(exist_ok=True)
    out = subprocess.run(
        [sys.executable, "-c", probe, "import", "--object", str(spec_file), "--store", "s3://dst/store",
         "--workdir", str(scratch), "--termination-log", str(workdir / "termination")],
        env=env, capture_output=True, text=True, cwd=ROOT,
    )
    lines = out.stdout.strip().splitlines()
    result, rss = json.loads(lines[-2]), json.loads(lines[-1])
    if not result.get("ok"):
        raise RuntimeError(f"modelyard import failed: {result}\n{out.stderr[-2000:]}")
    ours = {"mib_s": real_size / MIB / result["durationSeconds"], "rss_mib": rss["rss_mib"]}
    for item in client.list_objects_v2(Bucket="dst").get("Contents", []):
        client.delete_object(Bucket="dst", Key=item["Key"])
    client.delete_object(Bucket="src", Key=key)
    server.reclaim()
    best = max(raw["managed"]["mib_s"], raw["stream"]["mib_s"])
    ranges = raw["ranges"]["mib_s"] / best if "ranges" in raw else None
    return {"server": server.kind, "size_mib": size // MIB, "raw": raw, "modelyard": ours,
            "ratio": ours["mib_s"] / best, "ranges_vs_stream": ranges}


def hashing_figures(size: int = 256 * MIB) -> dict:
    import io

    from modelyard.storage.base import HashingReader

    data = os.urandom(size)
    t = time.perf_counter()
    digest = hashlib.sha256()
    for i in range(0, size, MIB):
        digest.update(data[i : i + MIB])
    bare = size / MIB / (time.perf_counter() - t)
    t = time.perf_counter()
    reader = HashingReader(io.BytesIO(data))
    while reader.read(MIB):
        pass
    ours = size / MIB / (time.perf_counter() - t)
    return {"hashlib_mib_s": bare, "modelyard_mib_s": ours, "ratio": ours / bare}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 and 256 MiB; moto and rgw")
    parser.add_argument("--servers", help="comma-separated subset of moto,s3rver,rgw")
    parser.add_argument("--sizes-mib", help="comma-separated sizes in MiB")
    args = parser.parse_args()
    sizes = [64 * MIB, 256 * MIB] if args.quick else [256 * MIB, 1024 * MIB, 4096 * MIB]
    if args.sizes_mib:
        sizes = [int(s) * MIB for s in args.sizes_mib.split(",")]
    servers = ["moto"]
    if shutil.which("npx") and not args.quick:
        servers.append("s3rver")
    if shutil.which("radosgw"):
        servers.append("rgw")
    else:
        print("rgw: radosgw is not installed (hack/rgw.sh install); not measured", file=sys.stderr)
    if args.servers:
        servers = [s for s in servers if s in args.servers.split(",")]

    import boto3
    from botocore.config import Config

    runs = []
    for server in servers:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            try:
                running = Server(server, workdir, max(sizes))
            except RuntimeError as error:
                print(f"skipping {server}: {error}", file=sys.stderr)
                continue
            endpoint, creds = running.endpoint, running.creds
            try:
                env = {**os.environ, **creds, "AWS_DEFAULT_REGION": "us-east-1",
                       "MODELYARD_S3_ENDPOINT": endpoint, "MODELYARD_S3_ADDRESSING_STYLE": "path",
                       "MODELYARD_S3_PART_SIZE_MIB": str(PART_MIB), "MODELYARD_S3_CONCURRENCY": str(CONCURRENCY),
                       "PYTHONPATH": str(ROOT / "operator")}
                client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                      aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                                      aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                                      config=Config(s3={"addressing_style": "path"},
                                                    request_checksum_calculation="when_required"))
                for bucket in ("src", "dst"):
                    client.create_bucket(Bucket=bucket)
                for size in sizes:
                    run = measure(running, size, workdir, env, client)
                    runs.append(run)
                    raw = run["raw"]
                    ranges = f"{raw['ranges']['mib_s']:6.1f}" if "ranges" in raw else "     -"
                    print(f"{server:7} {run['size_mib']:5} MiB  raw managed {raw['managed']['mib_s']:6.1f}, "
                          f"stream {raw['stream']['mib_s']:6.1f}, ranges {ranges} MiB/s  "
                          f"modelyard {run['modelyard']['mib_s']:6.1f} MiB/s  ratio {run['ratio']:.2f}  "
                          f"rss {run['modelyard']['rss_mib']:.0f} MiB (raw {raw['stream']['rss_mib']:.0f})", flush=True)
            finally:
                running.stop()
    hashing = hashing_figures()
    print(f"sha256: hashlib {hashing['hashlib_mib_s']:.0f} MiB/s, modelyard reader "
          f"{hashing['modelyard_mib_s']:.0f} MiB/s (ratio {hashing['ratio']:.2f})")
    largest = max(r["size_mib"] for r in runs)
    summary = {
        "ratio": round(min(r["ratio"] for r in runs if r["size_mib"] == largest), 3),
        "ratio_by_server": {r["server"]: round(r["ratio"], 3) for r in runs if r["size_mib"] == largest},
        "ratio_by_run": {f"{r['server']}-{r['size_mib']}": round(r["ratio"], 3) for r in runs},
        "ranges_vs_stream_by_run": {f"{r['server']}-{r['size_mib']}": round(r["ranges_vs_stream"], 3)
                                    for r in runs if r["ranges_vs_stream"] is not None},
        "mib_s_by_run": {f"{r['server']}-{r['size_mib']}": {"modelyard": round(r["modelyard"]["mib_s"], 1),
                                                             **{m: round(v["mib_s"], 1) for m, v in r["raw"].items()}}
                         for r in runs},
        "peak_rss_mib": round(max(r["modelyard"]["rss_mib"] for r in runs), 1),
        "peak_rss_mib_by_run": {f"{r['server']}-{r['size_mib']}": round(r["modelyard"]["rss_mib"], 1) for r in runs},
        "sha256_ratio": round(hashing["ratio"], 3),
        "sizes_mib": [s // MIB for s in sizes],
        "servers": sorted({r["server"] for r in runs}),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
