"""The S3 store's hot path: GET, conditional PUT and HEAD of one object, signed by botocore's own SigV4
signer and sent over one urllib3 pool (the transport botocore itself uses).

Every API request reads or writes a transfer's `meta.json`; through a boto3 client each such call costs
~3–4 ms of CPU (parameter validation, endpoint rules, event hooks, response parsing), through this path
~1–1.7 ms (docs/server.md, "Under load"). Everything else — payloads, multipart, presigned URLs,
listings — stays on boto3. Failures are botocore's own exceptions (``ClientError`` with the S3 error
code and HTTP status, ``EndpointConnectionError``), so callers handle both paths alike; transient ones
are retried as boto3's "standard" mode does (3 attempts, jittered backoff).
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import quote

import urllib3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from botocore.httpsession import get_cert_path

ATTEMPTS = 3
BACKOFF_BASE = 0.05  # seconds; doubled per attempt, with full jitter
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
TIMEOUT = urllib3.Timeout(connect=10.0, read=60.0)
_ERROR_CODE = re.compile(rb"<Code>([^<]{1,128})</Code>")
_ERROR_MESSAGE = re.compile(rb"<Message>([^<]{0,512})</Message>")


class ObjectCalls:
    """Small-object calls on one bucket (path-style addressing, as the boto3 client is configured)."""

    def __init__(self, endpoint_url: str, bucket: str, region: str, credentials: Credentials | None,
                 pool_size: int = 48) -> None:  # above anyio's 40 worker threads: never a full pool
        self._base = f"{endpoint_url.rstrip('/')}/{quote(bucket, safe='')}/"
        self._region = region
        self._credentials = credentials
        self._pool = urllib3.PoolManager(num_pools=4, maxsize=pool_size, retries=False, timeout=TIMEOUT,
                                         cert_reqs="CERT_REQUIRED", ca_certs=get_cert_path(True))
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()  # per operation name, for tests and diagnostics

    def get(self, key: str) -> tuple[bytes, str] | None:
        """(body, ETag), or None when the object does not exist."""
        response = self._call("GetObject", "GET", key, ok_missing=True)
        if response is None:
            return None
        return response.data, str(response.headers.get("ETag", ""))

    def put(self, key: str, body: bytes, content_type: str, if_match: str | None = None,
            if_none_match: str | None = None) -> str:
        """Write ``body``; with ``if_match``/``if_none_match`` S3 refuses a stale write (412, or 409 on a
        concurrent conditional write), raised as ClientError. Returns the new ETag ("" if none sent)."""
        headers = {"Content-Type": content_type}
        if if_match is not None:
            headers["If-Match"] = if_match
        if if_none_match is not None:
            headers["If-None-Match"] = if_none_match
        response = self._call("PutObject", "PUT", key, body=body, headers=headers)
        assert response is not None
        return str(response.headers.get("ETag", ""))

    def size(self, key: str) -> int | None:
        """The object's length, or None when it does not exist."""
        response = self._call("HeadObject", "HEAD", key, ok_missing=True)
        if response is None:
            return None
        return int(response.headers.get("Content-Length", "0"))

    def _call(self, operation: str, method: str, key: str, body: bytes = b"",
              headers: dict[str, str] | None = None,
              ok_missing: bool = False) -> urllib3.BaseHTTPResponse | None:
        if self._credentials is None:
            raise NoCredentialsError()
        url = self._base + quote(key, safe="/~")
        with self._lock:
            self.calls[operation] += 1
        for attempt in range(ATTEMPTS):
            last = attempt == ATTEMPTS - 1
            request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
            request.context["payload_signing_enabled"] = True  # small bodies: the hash is cheap
            # frozen per call: refreshable credentials (roles) rotate under a long-running server
            S3SigV4Auth(self._credentials.get_frozen_credentials(), "s3", self._region).add_auth(request)
            try:
                response = self._pool.request(method, url, body=body or None,
                                              headers=dict(request.headers.items()),
                                              preload_content=True, redirect=False)
            except urllib3.exceptions.HTTPError as error:
                if last:
                    raise EndpointConnectionError(endpoint_url=url) from error
                _backoff(attempt)
                continue
            if response.status < 300:
                return response
            code = _code(response)
            if response.status == 404 and ok_missing and code in ("NoSuchKey", "NotFound", "404"):
                return None  # not a missing bucket, which is an error
            if (response.status in RETRY_STATUSES or code == "SlowDown") and not last:
                _backoff(attempt)
                continue
            message = _ERROR_MESSAGE.search(response.data or b"")
            text = message.group(1).decode(errors="replace") if message else f"HTTP {response.status}"
            answer: Any = {"Error": {"Code": code, "Message": text},
                           "ResponseMetadata": {"HTTPStatusCode": response.status, "HTTPHeaders": {},
                                                "RequestId": "", "HostId": "", "RetryAttempts": attempt}}
            raise ClientError(answer, operation)
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def close(self) -> None:
        self._pool.clear()


def _code(response: urllib3.BaseHTTPResponse) -> str:
    found = _ERROR_CODE.search(response.data or b"")
    return found.group(1).decode(errors="replace") if found else str(response.status)


def _backoff(attempt: int) -> None:
    time.sleep(random.uniform(0, BACKOFF_BASE * 2 ** attempt))
