"""The store and the import against a real S3 server: Ceph RGW (tests/support/rgw.py).

What moto does not show: AWS-style multipart ETags, a HEAD's bare 403, a server that predates
boto3's newer integrity checksums, the server going away mid-upload, a dropped download.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from safetensors.numpy import save_file

from modelyard.storage.base import StoreError
from modelyard.storage.config import S3Settings
from modelyard.storage.layout import read_manifest, verify_version
from modelyard.storage.open import open_store
from modelyard.storage.s3 import S3Store
from modelyard.worker.importer import ImportFailure, run_import
from tests.support.builders import import_job
from tests.support.rgw import RGW
from tests.support.tcpproxy import cutting_proxy

MIB = 1024 * 1024
PREFIX = "default/classifier/1.0.0"
SIGNATURE = {"inputs": [{"name": "x", "shape": [-1]}], "outputs": [{"name": "y", "shape": [-1]}]}


def weights(path: Path, floats: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({"w": np.arange(floats, dtype="float32")}, str(path))
    return path


def test_put_get_list_delete_and_aws_style_multipart_etags(rgw_env: RGW, rgw_bucket: str, monkeypatch):
    monkeypatch.setenv("MODELYARD_S3_PART_SIZE_MIB", "5")
    store = open_store(f"s3://{rgw_bucket}/store")
    data = os.urandom(12 * MIB)
    small = store.put_bytes("a/small.bin", b"hello")
    big = store.put_bytes("a/big.bin", data)
    assert (small.size, small.sha256) == (5, hashlib.sha256(b"hello").hexdigest())
    assert (big.size, big.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert store.get_bytes("a/big.bin") == data
    assert store.list("a/") == ["a/big.bin", "a/small.bin"]
    head = rgw_env.client().head_object(Bucket=rgw_bucket, Key="store/a/big.bin")
    assert head["ETag"].strip('"').endswith("-3"), "RGW gives multipart objects AWS-style ETags (md5-of-md5s-N)"
    store.delete(["a/big.bin", "a/small.bin"])
    assert store.list("a/") == [] and not store.exists("a/small.bin")


@pytest.mark.parametrize("checksums", ["when_required", "when_supported"])
def test_the_store_works_against_rgw_with_either_checksum_setting(rgw_env: RGW, rgw_bucket: str, checksums: str):
    # when_required is the default; when_supported is boto3's own, whose CRC checksums RGW 16
    # (older than them) accepts over HTTP and stores the bytes intact.
    store = S3Store(rgw_bucket, checksums, S3Settings(checksums=checksums, part_size_mib=5))
    data = os.urandom(12 * MIB)
    assert store.put_bytes("model.bin", data).sha256 == hashlib.sha256(data).hexdigest()
    assert store.get_bytes("model.bin") == data
    store.delete(["model.bin"])
    assert not store.exists("model.bin")


def test_a_wrong_secret_key_is_named_as_the_credentials(rgw_env: RGW, rgw_bucket: str, tmp_path: Path, monkeypatch):
    # The import's first request is a HEAD (is the version already complete?), which RGW answers
    # with a bare 403: the store asks again with a GET to learn why.
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-key-0123456789")
    source = weights(tmp_path / "src" / "w.safetensors", 1024)
    store = open_store(f"s3://{rgw_bucket}/store")
    with pytest.raises(StoreError) as caught:
        run_import(import_job(tmp_path, store, format="safetensors", signature=SIGNATURE, source={"uri": f"file://{source}"}))
    assert caught.value.reason == "InvalidCredentials"
    assert "SignatureDoesNotMatch" in caught.value.message and "storage.secretRef" in caught.value.message
    assert "not-the-secret-key" not in caught.value.message


def test_a_missing_store_bucket_is_a_store_error(rgw_env: RGW, tmp_path: Path):
    source = weights(tmp_path / "src" / "w.safetensors", 1024)
    store = open_store("s3://no-such-store-bucket/store")
    with pytest.raises(StoreError) as caught:
        run_import(import_job(tmp_path, store, format="safetensors", signature=SIGNATURE, source={"uri": f"file://{source}"}))
    assert caught.value.reason == "NoSuchBucket"
    assert caught.value.message.startswith("cannot write s3://no-such-store-bucket/store/")
    assert "source" not in caught.value.message


class _Counting:
    """Counts the bytes the import reads from its source."""

    def __init__(self, opened):
        self.opened = opened
        self.read = 0

    def __call__(self, uri, settings=None, **options):
        import contextlib

        @contextlib.contextmanager
        def counted():
            with self.opened(uri, settings, **options) as stream:
                original = stream.read

                def read(n=-1):
                    data = original(n)
                    self.read += len(data)
                    return data

                stream.read = read
                yield stream

        return counted()


@pytest.mark.parametrize("format", ["safetensors", "onnx", "pytorch-exportedprogram"])
def test_a_source_not_in_the_declared_format_fails_at_its_first_bytes(
    rgw_env: RGW, rgw_bucket: str, tmp_path: Path, monkeypatch, format: str
):
    import modelyard.worker.importer as importer

    suffix = {"safetensors": "safetensors", "onnx": "onnx", "pytorch-exportedprogram": "pt2"}[format]
    rgw_env.client().put_object(Bucket=rgw_bucket, Key=f"src/random.{suffix}", Body=os.urandom(48 * MIB))
    counting = _Counting(importer.open_source)
    monkeypatch.setattr(importer, "open_source", counting)
    store = open_store(f"s3://{rgw_bucket}/store")
    with pytest.raises(ImportFailure) as caught:
        run_import(import_job(tmp_path, store, format=format, signature=SIGNATURE,
                              source={"uri": f"s3://{rgw_bucket}/src/random.{suffix}"}))
    assert caught.value.reason == "WrongFormat"
    assert f"random.{suffix} is not {format} (spec.format)" in str(caught.value)
    assert counting.read <= 128 * 1024, f"{counting.read} bytes read before the format was refused"
    assert store.list("") == [], "nothing stored"


def test_the_store_going_away_mid_upload_leaves_no_manifest_and_no_parts_and_a_retry_completes(
    rgw_env: RGW, rgw_bucket: str, tmp_path: Path, monkeypatch
):
    monkeypatch.setenv("MODELYARD_S3_PART_SIZE_MIB", "5")
    monkeypatch.setenv("MODELYARD_S3_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("MODELYARD_S3_CONNECT_TIMEOUT_S", "2")
    source = weights(tmp_path / "src" / "w.safetensors", 8 * MIB)  # 32 MiB: 7 parts
    import modelyard.worker.importer as importer

    opened = importer.open_source
    cut = {"done": False}

    def going_away(uri, settings=None, **options):
        import contextlib

        @contextlib.contextmanager
        def stream():
            with opened(uri, settings, **options) as inner:
                original, passed = inner.read, [0]

                def read(n=-1):
                    if passed[0] > 12 * MIB and not cut["done"]:
                        cut["done"] = True
                        rgw_env.down()
                    data = original(n)
                    passed[0] += len(data)
                    return data

                inner.read = read
                yield inner

        return stream()

    monkeypatch.setattr(importer, "open_source", going_away)
    store = open_store(f"s3://{rgw_bucket}/store")
    job = import_job(tmp_path, store, format="safetensors", signature=SIGNATURE, source={"uri": f"file://{source}"})
    try:
        with pytest.raises(StoreError) as caught:
            run_import(job)
        assert caught.value.reason == "EndpointUnreachable"
    finally:
        rgw_env.up()
    client = rgw_env.client()
    assert read_manifest(store, PREFIX) is None, "no manifest after a failed upload"
    assert client.list_multipart_uploads(Bucket=rgw_bucket).get("Uploads"), "the interrupted upload's parts are there"
    monkeypatch.setattr(importer, "open_source", opened)
    result = run_import(import_job(tmp_path, store, format="safetensors", signature=SIGNATURE,
                                   source={"uri": f"file://{source}"}))
    assert result["reason"] == "Imported"
    verify_version(store, PREFIX)
    assert not client.list_multipart_uploads(Bucket=rgw_bucket).get("Uploads"), "the retry aborted the orphaned upload"


def test_a_source_download_dropped_mid_way_resumes_with_a_range_request(rgw_env: RGW, rgw_bucket: str, tmp_path: Path):
    data = np.random.default_rng(0).random(6 * MIB, dtype="float32")
    path = tmp_path / "src" / "w.safetensors"
    path.parent.mkdir(parents=True)
    save_file({"w": data}, str(path))
    rgw_env.client().upload_file(str(path), rgw_bucket, "src/w.safetensors")
    port = urlparse(rgw_env.endpoint).port
    store = open_store(f"s3://{rgw_bucket}/store")
    with cutting_proxy(port, cut_after=5 * MIB) as proxy:
        through_proxy = S3Settings(endpoint=f"http://127.0.0.1:{proxy.port}", addressing_style="path")
        job = import_job(tmp_path, store, format="safetensors", signature=SIGNATURE,
                         source={"uri": f"s3://{rgw_bucket}/src/w.safetensors",
                                 "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
        job.s3 = through_proxy
        result = run_import(job)
    assert proxy.cuts == 1 and proxy.connections >= 2, "the download was cut once and resumed on a new connection"
    assert result["reason"] == "Imported"
    manifest, _ = verify_version(store, PREFIX)
    assert manifest.files[0].sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
