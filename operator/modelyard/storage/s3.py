"""The S3 store (AWS S3, MinIO, Ceph RGW, Huawei OBS) through boto3.

Uploads are multipart with a bounded number of bytes in flight, hashed as they stream, so
memory stays about `part_size x (concurrency + 1)` whatever the object size; parts grow with the
object so that 10,000 of them reach its size (storage/parts.py). A retried upload first aborts
the multipart uploads an earlier attempt left on the same key, so no orphaned parts stay behind.
Downloads are a single streamed GET (measured against parallel ranged GETs on moto, s3rver and
Ceph RGW by bench/storage.py: see docs/storage.md), resumed with a Range request if the
connection drops mid-way.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, BinaryIO, Iterator

import boto3
import urllib3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from modelyard.storage.base import CHUNK, HashingReader, Progress, PutResult, Store, StoreError, read_full
from modelyard.storage.config import S3Settings
from modelyard.storage.parts import ObjectTooLarge, PartPlan, plan_parts
from modelyard.storage.s3errors import bare_forbidden, translate

_RESUMABLE = (BotoCoreError, ConnectionError, OSError, urllib3.exceptions.HTTPError)


def make_client(settings: S3Settings, session: Any = None) -> Any:
    """A boto3 S3 client configured from settings; credentials from `session` (a
    boto3.session.Session, e.g. the CLI's with a cluster Secret's keys), else boto3's standard chain."""
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": settings.addressing_style},
        retries={"max_attempts": settings.max_attempts, "mode": "standard"},
        connect_timeout=settings.connect_timeout_s,
        read_timeout=settings.read_timeout_s,
        max_pool_connections=settings.concurrency + 4,
        # S3 servers older than the CRC checksums recent botocore adds by default may reject
        # them; integrity is ours anyway (sha256 in the manifest). Errors name this setting.
        request_checksum_calculation=settings.checksums,
        response_checksum_validation=settings.checksums,
    )
    verify: bool | str = settings.ca_bundle or settings.verify_tls
    return (session or boto3.session.Session()).client(
        "s3", endpoint_url=settings.endpoint, region_name=settings.region, config=config, verify=verify
    )


class S3Store(Store):
    """Objects under `s3://bucket/prefix`."""

    def __init__(self, bucket: str, prefix: str = "", settings: S3Settings | None = None, client: Any = None,
                 session: Any = None):
        self.settings = settings or S3Settings()
        self.client = client or make_client(self.settings, session)
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.endpoint = self.settings.endpoint or "AWS default"

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _error(self, error: Exception, key: str, action: str) -> StoreError:
        if bare_forbidden(error):
            # A HEAD's 403 has no body: ask again with a GET, whose error body names the cause
            # (a wrong key and a missing permission look the same otherwise).
            error = self._why_forbidden(key) or error
        return translate(error, endpoint=self.endpoint, bucket=self.bucket, key=self._key(key), action=action)

    def _why_forbidden(self, key: str) -> ClientError | None:
        try:
            self.client.get_object(Bucket=self.bucket, Key=self._key(key), Range="bytes=0-0")
        except ClientError as error:
            # Only a refusal that names its cause helps; "no such key" would hide the 403.
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return None if bare_forbidden(error) or status == 404 else error
        except BotoCoreError:
            return None
        return None

    def put(self, key: str, stream: BinaryIO, progress: Progress | None = None, size: int | None = None) -> PutResult:
        reader = HashingReader(stream, progress=progress)
        try:
            plan = plan_parts(size, self.settings.part_size, self.settings.concurrency)
        except ObjectTooLarge as error:
            raise StoreError("ObjectTooLarge", f"cannot write {self.describe(key)}: {error}") from None
        try:
            if size is not None and size > plan.size(1):
                self._multipart(key, None, reader, plan)  # known to need parts: start before reading
            else:
                first = read_full(reader, plan.size(1))
                if len(first) < plan.size(1):
                    self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=first)
                else:
                    self._multipart(key, first, reader, plan)
        except (ClientError, BotoCoreError) as error:
            raise self._error(error, key, "write") from None
        return reader.result()

    def _multipart(self, key: str, first: bytes | None, reader: HashingReader, plan: PartPlan) -> None:
        full_key = self._key(key)
        parts: list[dict[str, Any]] = []
        in_flight: deque[tuple[int, Future]] = deque()
        concurrency = self.settings.concurrency
        upload_id = None
        try:
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                # The upload is created while the first part is read, and the uploads an
                # interrupted attempt left are cleaned up beside the transfer, not before it.
                created = pool.submit(self.client.create_multipart_upload, Bucket=self.bucket, Key=full_key)
                data = first if first is not None else read_full(reader, plan.size(1))
                upload_id = created.result()["UploadId"]
                pool.submit(self._abort_stale, full_key, upload_id)
                number = 1
                while data:
                    while not plan.may_add([n for n, _ in in_flight], len(data), concurrency):
                        parts.append(in_flight.popleft()[1].result())
                    in_flight.append((len(data), pool.submit(self._upload_part, full_key, upload_id, number, data)))
                    number += 1
                    data = b""  # the pool holds the part; drop ours before reading the next
                    data = read_full(reader, plan.size(number))
                parts.extend(f.result() for _, f in in_flight)
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=full_key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        except BaseException:
            if upload_id is not None:
                self._abort(full_key, upload_id)
            raise

    def _upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> dict[str, Any]:
        reply = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data)
        return {"PartNumber": number, "ETag": reply["ETag"]}

    def _abort_stale(self, key: str, current: str) -> None:
        """Abort the multipart uploads an interrupted attempt left on `key` (their parts are
        invisible but stored, and billed, until aborted). Best effort: a store that does not
        let us list uploads keeps them until its lifecycle rule reclaims them."""
        try:
            reply = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=key)
        except (ClientError, BotoCoreError):
            return
        for upload in reply.get("Uploads", []):
            if upload["Key"] == key and upload["UploadId"] != current:
                self._abort(key, upload["UploadId"])

    def _abort(self, key: str, upload_id: str) -> None:
        # Best effort: when the endpoint is gone, the bucket's lifecycle rule for incomplete
        # multipart uploads reclaims the parts; no manifest is written either way.
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except (ClientError, BotoCoreError):
            pass

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        stream = _ResumingReader(self, key)
        try:
            yield stream
        finally:
            stream.close()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return False
            raise self._error(error, key, "check") from None
        except BotoCoreError as error:
            raise self._error(error, key, "check") from None

    def list(self, prefix: str) -> list[str]:
        full = self._key(prefix)
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
                keys.extend(item["Key"][strip:] for item in page.get("Contents", []))
        except (ClientError, BotoCoreError) as error:
            raise self._error(error, prefix, "list") from None
        return sorted(keys)

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": self._key(k)} for k in keys[start : start + 1000]]
            try:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
            except (ClientError, BotoCoreError) as error:
                raise self._error(error, keys[start], "delete") from None


class _ResumingReader:
    """A streamed GET that resumes with a Range request when the connection drops."""

    def __init__(self, store: S3Store, key: str):
        self._store = store
        self._key = key
        self._offset = 0
        self._attempts = 0
        self._body: Any = None
        self._size: int | None = None
        self._open()

    @property
    def size(self) -> int | None:
        """The object's size, from the first GET."""
        return self._size

    def _open(self) -> None:
        store = self._store
        args: dict[str, Any] = {"Bucket": store.bucket, "Key": store._key(self._key)}
        if self._offset:
            args["Range"] = f"bytes={self._offset}-"
        try:
            reply = store.client.get_object(**args)
        except (ClientError, BotoCoreError) as error:
            raise store._error(error, self._key, "read") from None
        if self._size is None:
            self._size = reply["ContentLength"]
        self._body = reply["Body"]

    def read(self, n: int = -1) -> bytes:
        while True:
            try:
                data = self._body.read(n if n and n > 0 else None)
                if not data and self._size is not None and self._offset < self._size:
                    raise ConnectionError(f"connection ended after {self._offset} of {self._size} bytes")
            except _RESUMABLE as error:
                self._attempts += 1
                if self._attempts >= self._store.settings.max_attempts:
                    if isinstance(error, ConnectionError):
                        raise StoreError("Truncated", f"cannot read {self._store.describe(self._key)}: {error}") from None
                    raise self._store._error(error, self._key, "read") from None
                self._body.close()
                self._open()
                continue
            self._offset += len(data)
            return data

    def close(self) -> None:
        if self._body is not None:
            self._body.close()

    def iter_chunks(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK):
            yield chunk
