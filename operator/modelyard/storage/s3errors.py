"""botocore failures translated into messages a user can act on.

Each message names the endpoint, bucket and key involved and what to check; none contains a
credential (botocore's own messages never echo the secret key; we do not add the access key).
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
    SSLError,
)

from modelyard.storage.base import StoreError

_CREDENTIALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "InvalidSecurity"}
_CHECKSUM_CODES = {"BadDigest", "InvalidDigest", "MissingContentMD5", "XAmzContentSHA256Mismatch", "InvalidChecksum"}
_THROTTLED = {"SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable"}


def bare_forbidden(error: Exception) -> bool:
    """A 403 without an error code: the answer to a HEAD, which has no body to say why."""
    if not isinstance(error, ClientError):
        return False
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 403 and code in ("", "403", "Forbidden")


def translate(error: Exception, *, endpoint: str, bucket: str, key: str, action: str) -> StoreError:
    """A StoreError for `error` raised while doing `action` on s3://bucket/key at endpoint."""
    where = f"s3://{bucket}/{key}" if key else f"s3://{bucket}"
    at = f"{where} (endpoint {endpoint})"
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket":
            return StoreError("NoSuchBucket", f"cannot {action} {at}: bucket {bucket!r} does not exist; create it or fix the store URI")
        if code in ("NoSuchKey", "404", "NotFound") or status == 404:
            return StoreError("NotFound", f"cannot {action} {at}: no such object")
        if code in _CREDENTIALS:
            return StoreError("InvalidCredentials", f"cannot {action} {at}: the store rejected the credentials ({code})",
                              "check the secret referenced by storage.secretRef or the workload identity")
        if bare_forbidden(error):
            return StoreError("AccessDenied", f"cannot {action} {at}: forbidden (HTTP 403, no reason given): either the credentials are wrong or they lack permission for this bucket/key",
                              "check the secret referenced by storage.secretRef")
        if code in ("AccessDenied", "AllAccessDisabled") or status == 403:
            return StoreError("AccessDenied", f"cannot {action} {at}: access denied; the credentials in use lack permission for this bucket/key")
        text = f"{code} {error.response.get('Error', {}).get('Message') or ''}"
        if code in _CHECKSUM_CODES or "checksum" in text.lower() or "content-md5" in text.lower():
            return StoreError("ChecksumRejected", f"cannot {action} {at}: the store rejected the request's integrity header ({text.strip()}); "
                              "S3 servers that predate boto3's CRC checksums refuse them: keep MODELYARD_S3_CHECKSUMS (chart value "
                              "store.checksums) at when_required, or set when_supported for a store that expects them; a store that "
                              "insists on Content-MD5 needs a server upgrade (recent boto3 sends CRC32 instead)")
        if code in _THROTTLED:
            return StoreError("Throttled", f"cannot {action} {at}: the store kept throttling requests ({code}) after retries")
        return StoreError(code or "StoreError", f"cannot {action} {at}: {code or status}: {error.response.get('Error', {}).get('Message', '')}".rstrip(": "))
    if isinstance(error, SSLError):
        return StoreError("TLSError", f"cannot {action} {at}: TLS failed ({error})",
                          "set the CA bundle (MODELYARD_S3_CA_BUNDLE / chart value store.caBundle) for a private CA")
    if isinstance(error, (EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError)):
        return StoreError("EndpointUnreachable", f"cannot {action} {at}: endpoint unreachable after retries",
                          "check the endpoint URL, DNS and network policy")
    if isinstance(error, ReadTimeoutError):
        return StoreError("Timeout", f"cannot {action} {at}: the endpoint stopped answering (read timeout) after retries")
    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return StoreError("NoCredentials", f"cannot {action} {at}: no credentials found",
                          "reference a Secret in storage.secretRef or give the worker a web identity (IRSA)")
    if isinstance(error, BotoCoreError):
        return StoreError("StoreError", f"cannot {action} {at}: {type(error).__name__}: {error}")
    return StoreError("StoreError", f"cannot {action} {at}: {type(error).__name__}: {error}")
