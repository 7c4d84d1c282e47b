"""The S3 store's metadata fast path (storage/s3_objects.py): signed GET / conditional PUT / HEAD over
urllib3, against a real signature-checking SeaweedFS, and a loopback store that answers 503 or drops
the connection (retried as boto3 would) — with botocore's own exceptions for whatever fails."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError

from sgsend_desktop.server.storage.s3_objects import ObjectCalls
from tests.helpers.ports import free_ports
from tests.helpers.seaweed import SeaweedS3

pytestmark = pytest.mark.s3


def calls_for(seaweedfs: SeaweedS3, secret: str | None = None, bucket: str | None = None) -> ObjectCalls:
    return ObjectCalls(seaweedfs.endpoint, bucket or seaweedfs.bucket, seaweedfs.region,
                       Credentials(seaweedfs.access_key, secret or seaweedfs.secret_key))


def test_objects_written_here_read_the_same_through_boto3_and_back(seaweedfs: SeaweedS3) -> None:
    objects = calls_for(seaweedfs)
    key = f"odd prefix+é/{secrets.token_hex(4)}/meta.json"  # quoted the way the signer expects
    etag = objects.put(key, b'{"a": 1}', "application/json")
    assert etag.strip('"')
    stored = seaweedfs.client().get_object(Bucket=seaweedfs.bucket, Key=key)
    assert stored["Body"].read() == b'{"a": 1}' and stored["ETag"] == etag
    assert stored["ContentType"] == "application/json"
    seaweedfs.client().put_object(Bucket=seaweedfs.bucket, Key=key, Body=b'{"a": 2}')
    body, new_etag = objects.get(key)  # type: ignore[misc]
    assert body == b'{"a": 2}' and new_etag != etag
    assert objects.size(key) == 8
    assert objects.get(key + ".missing") is None and objects.size(key + ".missing") is None
    assert objects.calls == {"PutObject": 1, "GetObject": 2, "HeadObject": 2}


def test_stale_and_duplicate_conditional_writes_are_refused_as_boto3_reports_them(
        seaweedfs: SeaweedS3) -> None:
    objects = calls_for(seaweedfs)
    key = f"cas/{secrets.token_hex(4)}/meta.json"
    first = objects.put(key, b"1", "application/json", if_none_match="*")
    with pytest.raises(ClientError) as taken:
        objects.put(key, b"2", "application/json", if_none_match="*")
    assert taken.value.response["ResponseMetadata"]["HTTPStatusCode"] in (409, 412)
    second = objects.put(key, b"3", "application/json", if_match=first)
    with pytest.raises(ClientError) as stale:
        objects.put(key, b"4", "application/json", if_match=first)
    assert stale.value.response["ResponseMetadata"]["HTTPStatusCode"] in (409, 412)
    assert objects.get(key) == (b"3", second)


def test_a_wrong_secret_or_a_missing_bucket_is_an_error_not_a_missing_object(seaweedfs: SeaweedS3) -> None:
    key = f"auth/{secrets.token_hex(4)}/meta.json"
    calls_for(seaweedfs).put(key, b"x", "application/json")
    with pytest.raises(ClientError) as refused:
        calls_for(seaweedfs, secret="not-the-secret-0123456789").get(key)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as no_bucket:
        calls_for(seaweedfs, bucket=f"missing-{secrets.token_hex(4)}").get(key)
    assert no_bucket.value.response["Error"]["Code"] == "NoSuchBucket"


class FlakyStore(BaseHTTPRequestHandler):
    """Answers each request with the next scripted answer: a status, or "drop" (closes the socket)."""

    script: ClassVar[list[int | str]] = []
    seen: ClassVar[list[str]] = []
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        type(self).seen.append(f"{self.command} {self.path} {self.headers.get('Authorization', '')[:16]}")
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        step = self.script.pop(0) if self.script else 200
        if step == "drop":
            self.close_connection = True
            self.connection.close()
            return
        body = b"" if step == 200 else (b"<Error><Code>ServiceUnavailable</Code><Message>busy"
                                         b"</Message></Error>" if step == 503 else
                                         b"<Error><Code>AccessDenied</Code></Error>")
        if step == 200 and self.command == "GET":
            body = b"stored"
        self.send_response(int(step))
        self.send_header("ETag", '"abc"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_HEAD = _answer

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def flaky() -> Iterator[str]:
    FlakyStore.script, FlakyStore.seen = [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyStore)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_busy_or_dropping_store_is_retried_and_each_try_is_signed_afresh(flaky: str) -> None:
    objects = ObjectCalls(flaky, "bucket", "us-east-1", Credentials("key", "secret"))
    FlakyStore.script = [503, "drop"]
    assert objects.get("t/meta.json") == (b"stored", '"abc"')
    assert len(FlakyStore.seen) == 3
    assert all(line.startswith("GET /bucket/t/meta.json AWS4-HMAC-SHA256") for line in FlakyStore.seen)
    FlakyStore.script = [503, 503, 503]
    with pytest.raises(ClientError) as busy:
        objects.put("t/meta.json", b"{}", "application/json")
    assert busy.value.response["Error"]["Code"] == "ServiceUnavailable"
    FlakyStore.script = [403]
    with pytest.raises(ClientError) as denied:  # not transient: one try
        objects.size("t/payload")
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert len(FlakyStore.seen) == 3 + 3 + 1


def test_a_dead_store_is_a_botocore_connection_error() -> None:
    dead = free_ports(1)[0]
    objects = ObjectCalls(f"http://127.0.0.1:{dead}", "bucket", "us-east-1", Credentials("key", "secret"))
    with pytest.raises(BotoCoreError):
        objects.get("t/meta.json")
