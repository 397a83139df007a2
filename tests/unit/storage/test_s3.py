"""The S3 store against a real S3 server (moto) on loopback."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from modelyard.storage.base import StoreError
from modelyard.storage.config import MIB, S3Settings
from modelyard.storage.open import open_store
from modelyard.storage.s3 import S3Store
from modelyard.storage.s3errors import translate
from tests.support.s3server import SECRET_KEY, free_port


def test_small_object_round_trip(bucket):
    store = open_store(f"s3://{bucket}/root")
    result = store.put_bytes("ns/m/1.0.0/model.onnx", b"onnx-bytes")
    assert result.sha256 == hashlib.sha256(b"onnx-bytes").hexdigest()
    assert store.get_bytes("ns/m/1.0.0/model.onnx") == b"onnx-bytes"
    assert store.exists("ns/m/1.0.0/model.onnx")
    assert not store.exists("ns/m/1.0.0/other")
    assert store.list("ns/m") == ["ns/m/1.0.0/model.onnx"]
    assert store.describe("x") == f"s3://{bucket}/root/x"


def test_multipart_upload_streams_and_hashes(bucket, monkeypatch):
    monkeypatch.setenv("MODELYARD_S3_PART_SIZE_MIB", "5")
    monkeypatch.setenv("MODELYARD_S3_CONCURRENCY", "3")
    store = open_store(f"s3://{bucket}")
    data = os.urandom(5 * MIB) * 3 + b"tail"  # 4 parts, the last one short
    uploads = []
    original = store.client.upload_part
    monkeypatch.setattr(store.client, "upload_part", lambda **kw: uploads.append(kw["PartNumber"]) or original(**kw))
    result = store.put("big.bin", io.BytesIO(data))
    assert sorted(uploads) == [1, 2, 3, 4]
    assert result.size == len(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    with store.open("big.bin") as stream:
        assert hashlib.sha256(stream.read()).hexdigest() == result.sha256


def test_failed_multipart_upload_is_aborted(bucket, monkeypatch):
    monkeypatch.setenv("MODELYARD_S3_PART_SIZE_MIB", "5")
    store = open_store(f"s3://{bucket}")

    class Broken(io.RawIOBase):
        sent = 0

        def readable(self):
            return True

        def readinto(self, buffer):
            if self.sent >= 12 * MIB:
                raise OSError(104, "Connection reset by peer")
            n = min(len(buffer), MIB)
            buffer[:n] = b"y" * n
            self.sent += n
            return n

    with pytest.raises(OSError):
        store.put("partial.bin", io.BufferedReader(Broken()))
    assert not store.exists("partial.bin")
    assert store.client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_missing_bucket_names_bucket_and_endpoint(s3_env):
    store = open_store("s3://no-such-bucket-here/prefix")
    with pytest.raises(StoreError) as caught:
        store.put_bytes("k", b"x")
    assert caught.value.reason == "NoSuchBucket"
    assert "bucket 'no-such-bucket-here' does not exist" in str(caught.value)
    assert s3_env.endpoint in str(caught.value)


def test_missing_object_is_not_found(bucket):
    with pytest.raises(StoreError) as caught:
        open_store(f"s3://{bucket}").get_bytes("absent")
    assert caught.value.reason == "NotFound"


def test_unreachable_endpoint(s3_env, monkeypatch):
    monkeypatch.setenv("MODELYARD_S3_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("MODELYARD_S3_MAX_ATTEMPTS", "1")
    with pytest.raises(StoreError) as caught:
        open_store("s3://b").put_bytes("k", b"x")
    assert caught.value.reason == "EndpointUnreachable"
    assert "check the endpoint URL" in str(caught.value)


def test_tls_failure_says_how_to_fix(s3_env, monkeypatch):
    # An https client talking to a plain-http server fails the TLS handshake.
    monkeypatch.setenv("MODELYARD_S3_ENDPOINT", s3_env.endpoint.replace("http://", "https://"))
    monkeypatch.setenv("MODELYARD_S3_MAX_ATTEMPTS", "1")
    with pytest.raises(StoreError) as caught:
        open_store("s3://b").put_bytes("k", b"x")
    assert caught.value.reason == "TLSError"
    assert "CA bundle" in str(caught.value)


@pytest.mark.parametrize(
    ("code", "status", "reason", "hint"),
    [
        ("InvalidAccessKeyId", 403, "InvalidCredentials", "storage.secretRef"),
        ("SignatureDoesNotMatch", 403, "InvalidCredentials", "storage.secretRef"),
        ("AccessDenied", 403, "AccessDenied", "lack permission"),
        ("SlowDown", 503, "Throttled", "after retries"),
        ("403", 403, "AccessDenied", "either the credentials are wrong"),
        ("InvalidArgument", 400, "ChecksumRejected", "MODELYARD_S3_CHECKSUMS"),
        ("MissingContentMD5", 400, "ChecksumRejected", "store.checksums"),
    ],
)
def test_client_errors_become_actionable(code, status, reason, hint):
    message = "x-amz-checksum-crc32 is not supported" if code == "InvalidArgument" else "m"
    error = ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")
    translated = translate(error, endpoint="https://obs.example.com", bucket="models", key="a/b", action="write")
    assert translated.reason == reason
    assert hint in translated.message
    assert "s3://models/a/b (endpoint https://obs.example.com)" in translated.message


def test_no_credentials_message():
    translated = translate(NoCredentialsError(), endpoint="e", bucket="b", key="k", action="read")
    assert translated.reason == "NoCredentials" and "web identity" in translated.message


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("MODELYARD_S3_ENDPOINT", "https://minio.example:9000")
    monkeypatch.setenv("MODELYARD_S3_ADDRESSING_STYLE", "path")
    monkeypatch.setenv("MODELYARD_S3_CA_BUNDLE", "/etc/ssl/private-ca.pem")
    monkeypatch.setenv("MODELYARD_S3_PART_SIZE_MIB", "64")
    settings = S3Settings()
    assert settings.part_size == 64 * MIB
    store = S3Store("b", settings=settings)
    assert store.client.meta.endpoint_url == "https://minio.example:9000"
    assert store.client.meta.config.s3 == {"addressing_style": "path"}


def test_errors_never_contain_the_secret(bucket, monkeypatch):
    store = open_store("s3://missing-bucket-xyz")
    with pytest.raises(StoreError) as caught:
        store.put_bytes("k", b"x")
    assert SECRET_KEY not in str(caught.value)


@pytest.mark.parametrize(
    ("probe_code", "probe_status", "reason", "hint"),
    [
        ("SignatureDoesNotMatch", 403, "InvalidCredentials", "SignatureDoesNotMatch"),
        ("AccessDenied", 403, "AccessDenied", "lack permission"),
        ("NoSuchKey", 404, "AccessDenied", "either the credentials are wrong"),
        ("", 403, "AccessDenied", "either the credentials are wrong"),
    ],
)
def test_a_bare_403_is_asked_again_for_its_reason(probe_code, probe_status, reason, hint):
    """A HEAD's 403 has no body; the one-byte GET that follows names the cause when it can."""
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    store = S3Store("models", "store", S3Settings(), client=client)
    with Stubber(client) as stub:
        stub.add_client_error("head_object", service_error_code="403", http_status_code=403)
        stub.add_client_error("get_object", service_error_code=probe_code, http_status_code=probe_status,
                              expected_params={"Bucket": "models", "Key": "store/a/manifest.json", "Range": "bytes=0-0"})
        with pytest.raises(StoreError) as caught:
            store.exists("a/manifest.json")
    assert caught.value.reason == reason and hint in caught.value.message
