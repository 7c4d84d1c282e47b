"""S3 backend: boto3 against any S3-compatible endpoint (AWS S3, SeaweedFS, MinIO ...).

No local state: metadata is `transfers/<id>/meta.json` in the bucket next to `transfers/<id>/payload`,
so any number of `sgsend serve` processes on one bucket serve the same transfers. Metadata updates
are compare-and-swap writes (`If-Match` on the object's ETag, `If-None-Match: *` on create), retried on
conflict, so two processes counting downloads at once never lose a count. A write route reads the
metadata (``load``) and then changes it (``update``): the update's first try starts from the version that
read just got (``_Recent``, a few seconds old at most) instead of reading it again, one S3 call fewer per
upload, complete and download; an upload right after its create, and a complete right after its upload,
start from the version this process wrote (``recent``): one more fewer each. The ``If-Match``
makes that safe: a version changed meanwhile (by this process or another) fails the write and the update
reads the metadata afresh, as on any conflict.
"""

from __future__ import annotations

import json
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from sgsend_desktop.server.config import S3Settings
from sgsend_desktop.server.meta import TransferMeta
from sgsend_desktop.server.storage.base import PayloadWriter, StoredPart, StoreError, T, TransferStore
from sgsend_desktop.server.storage.s3_objects import ObjectCalls
from sgsend_desktop.server.tokens import check_record_name
from sgsend_desktop.server.validation import TRANSFER_ID

READ_CHUNK = 1024 * 1024
SPOOL_IN_MEMORY = 8 * 1024 * 1024
SINGLE_PUT_LIMIT = 64 * 1024 * 1024  # a direct upload up to this size is one PutObject (S3 allows 5 GiB)
CAS_ATTEMPTS = 20
RECENT_SECONDS = 5.0  # a version read this recently is where an update's first try starts
RECENT_MAX = 4096     # versions kept at most (the oldest go first)
TICKET_SECRET_KEY = "server/ticket-secret"  # under the prefix; 32 random bytes shared by all processes


_BUSY_CODES = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"})


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


class SpooledWriter(PayloadWriter):
    """Spools a direct upload (memory up to 8 MiB, then a temp file) and uploads it on commit."""

    def __init__(self, store: S3Store, key: str) -> None:
        self._store = store
        self._key = key
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._spool.write(chunk)
        self.size += len(chunk)

    def commit(self) -> int:
        self._spool.seek(0)
        try:
            if self.size <= SPOOL_IN_MEMORY:  # the common case (Lambda limits): the bytes are in memory
                self._store.objects.put(self._key, self._spool.read(), "application/octet-stream")
            elif self.size <= SINGLE_PUT_LIMIT:
                # one PutObject: upload_fileobj would start a transfer manager (a pool of threads) per call,
                # ~0.1 s of thread start-up and GIL hand-offs under load for a payload of a few KB
                self._store.client.put_object(Bucket=self._store.bucket, Key=self._key, Body=self._spool)
            else:  # only without Lambda limits: a multipart upload of the spooled file
                self._store.client.upload_fileobj(self._spool, self._store.bucket, self._key)
        finally:
            self._spool.close()
        return self.size

    def discard(self) -> None:
        self._spool.close()


class _Recent:
    """The metadata versions this process read or wrote last (raw JSON and ETag), per transfer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[bytes, str, float]] = {}

    def keep(self, transfer_id: str, body: bytes, etag: str) -> None:
        with self._lock:
            self._seen.pop(transfer_id, None)
            self._seen[transfer_id] = (body, etag, time.monotonic())
            while len(self._seen) > RECENT_MAX:
                del self._seen[next(iter(self._seen))]

    def take(self, transfer_id: str) -> tuple[TransferMeta, str] | None:
        """A fresh copy of the version seen last, if recent; it is forgotten (one first try per read)."""
        with self._lock:
            found = self._seen.pop(transfer_id, None)
        if found is None or time.monotonic() - found[2] > RECENT_SECONDS:
            return None
        return TransferMeta.from_dict(json.loads(found[0])), found[1]

    def peek(self, transfer_id: str) -> tuple[TransferMeta, str] | None:
        """A fresh copy of the version seen last, if recent; it stays for the update's first try."""
        with self._lock:
            found = self._seen.get(transfer_id)
        if found is None or time.monotonic() - found[2] > RECENT_SECONDS:
            return None
        return TransferMeta.from_dict(json.loads(found[0])), found[1]

    def forget(self, transfer_id: str) -> None:
        with self._lock:
            self._seen.pop(transfer_id, None)


class S3Store(TransferStore):
    kind = "s3"
    signs_own_urls = False
    shared = True  # other processes on the bucket, and clients PUTting parts straight to S3

    def __init__(self, settings: S3Settings) -> None:
        self.bucket = settings.bucket
        self.prefix = settings.prefix.strip("/") + "/" if settings.prefix.strip("/") else ""
        self._ticket_secret: bytes | None = None
        self._recent = _Recent()
        session = boto3.session.Session(aws_access_key_id=settings.access_key,
                                        aws_secret_access_key=settings.secret_key,
                                        region_name=settings.region)
        self.client: Any = session.client(
            "s3",
            endpoint_url=settings.endpoint,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                max_pool_connections=32,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )
        # meta.json reads and writes and the payload's HEAD: the same bucket, endpoint and credentials
        self.objects = ObjectCalls(self.client.meta.endpoint_url, self.bucket, self.client.meta.region_name,
                                   session.get_credentials())

    def _key(self, transfer_id: str, name: str) -> str:
        return f"{self.prefix}transfers/{transfer_id}/{name}"

    def check_bucket(self) -> None:
        """Fail at start-up with a clear sentence rather than on the first request."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as error:
            raise RuntimeError(f"S3 bucket {self.bucket!r} is not reachable: {error}") from error

    # --- metadata -------------------------------------------------------------------------------
    def _get_meta(self, transfer_id: str) -> tuple[TransferMeta, str] | None:
        found = self.objects.get(self._key(transfer_id, "meta.json"))
        if found is None:
            return None
        body, etag = found
        self._recent.keep(transfer_id, body, etag)
        return TransferMeta.from_dict(json.loads(body)), etag

    def _put_meta(self, meta: TransferMeta, if_match: str | None = None,
                  if_none_match: str | None = None) -> None:
        body = json.dumps(meta.to_dict()).encode()
        etag = self.objects.put(self._key(meta.transfer_id, "meta.json"), body, "application/json",
                                if_match=if_match, if_none_match=if_none_match)
        if etag:
            self._recent.keep(meta.transfer_id, body, str(etag))
        else:
            self._recent.forget(meta.transfer_id)

    def create(self, meta: TransferMeta) -> bool:
        try:
            self._put_meta(meta, if_none_match="*")
        except ClientError as error:
            if _code(error) in ("PreconditionFailed", "ConditionalRequestConflict") or _status(error) in (
                409,
                412,
            ):
                return False
            raise
        return True

    def load(self, transfer_id: str) -> TransferMeta | None:
        found = self._get_meta(transfer_id)
        return found[0] if found else None

    def recent(self, transfer_id: str) -> TransferMeta | None:
        found = self._recent.peek(transfer_id)
        return found[0] if found is not None else None

    def update(self, transfer_id: str, change: Callable[[TransferMeta], T]) -> tuple[TransferMeta, T]:
        recent = self._recent.take(transfer_id)  # the first try: the version read a moment ago
        for _ in range(CAS_ATTEMPTS):
            from_recent = recent is not None
            found = recent if recent is not None else self._get_meta(transfer_id)
            recent = None
            if found is None:
                raise StoreError(404, "Transfer not found")
            meta, etag = found
            try:
                result = change(meta)
            except StoreError:
                if from_recent:
                    continue  # judged on a version that may be stale: read it again before refusing
                raise
            try:
                self._put_meta(meta, if_match=etag)
            except ClientError as error:
                if _code(error) in ("PreconditionFailed", "ConditionalRequestConflict") or _status(error) in (
                    409,
                    412,
                ):
                    self._recent.forget(transfer_id)
                    continue
                raise
            return meta, result
        raise StoreError(503, "Transfer metadata is busy; try again")

    # --- payload --------------------------------------------------------------------------------
    def payload_writer(self, transfer_id: str) -> PayloadWriter:
        return SpooledWriter(self, self._key(transfer_id, "payload"))

    def payload_size(self, transfer_id: str) -> int | None:
        return self.objects.size(self._key(transfer_id, "payload"))

    def read_payload(self, transfer_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        extra = {}
        if start or end is not None:
            extra["Range"] = f"bytes={start}-{'' if end is None else end}"
        try:
            response = self.client.get_object(
                Bucket=self.bucket, Key=self._key(transfer_id, "payload"), **extra
            )
        except ClientError as error:
            if _code(error) in ("NoSuchKey", "404", "NotFound"):
                raise StoreError(404, "Payload not found") from None
            raise
        body = response["Body"]

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(READ_CHUNK)
            finally:
                body.close()

        return chunks()

    def delete_payload(self, transfer_id: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(transfer_id, "payload"))

    # --- multipart ------------------------------------------------------------------------------
    def create_multipart(self, transfer_id: str) -> str:
        response = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=self._key(transfer_id, "payload"), ContentType="application/octet-stream"
        )
        return str(response["UploadId"])

    def list_parts(self, transfer_id: str, upload_id: str) -> list[StoredPart]:
        parts: list[StoredPart] = []
        marker = 0
        while True:
            try:
                response = self.client.list_parts(
                    Bucket=self.bucket,
                    Key=self._key(transfer_id, "payload"),
                    UploadId=upload_id,
                    PartNumberMarker=marker,
                    MaxParts=1000,
                )
            except ClientError as error:
                if _code(error) == "NoSuchUpload" or _status(error) == 404:
                    raise StoreError(404, "No such upload") from None
                raise
            for item in response.get("Parts", []):
                modified = item.get("LastModified")
                parts.append(
                    StoredPart(
                        part_number=int(item["PartNumber"]),
                        etag=str(item["ETag"]),
                        size=int(item["Size"]),
                        last_modified=modified.timestamp() if modified is not None else 0.0,
                    )
                )
            if not response.get("IsTruncated"):
                break
            marker = int(response.get("NextPartNumberMarker", 0))
            if not marker:
                break
        return sorted(parts, key=lambda part: part.part_number)

    def complete_multipart(self, transfer_id: str, upload_id: str, parts: list[tuple[int, str]]) -> str:
        ordered = [
            {"PartNumber": number, "ETag": etag if etag.startswith('"') else f'"{etag}"'}
            for number, etag in sorted(parts)
        ]
        try:
            response = self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=self._key(transfer_id, "payload"),
                UploadId=upload_id,
                MultipartUpload={"Parts": ordered},
            )
        except ClientError as error:
            if _code(error) == "NoSuchUpload":
                raise StoreError(404, "No such upload") from None
            if _status(error) >= 500 or _status(error) == 429 or _code(error) in _BUSY_CODES:
                # the store is busy or failing, not the client wrong: a 503 the client retries
                raise StoreError(503, f"The store is busy assembling the parts ({_code(error)}); "
                                      f"try again shortly") from None
            raise StoreError(400, f"The store refused to assemble the parts: {_code(error)}") from None
        return str(response.get("ETag", ""))

    def abort_multipart(self, transfer_id: str, upload_id: str) -> None:
        try:
            self.client.abort_multipart_upload(
                Bucket=self.bucket, Key=self._key(transfer_id, "payload"), UploadId=upload_id
            )
        except ClientError as error:
            if _code(error) == "NoSuchUpload" or _status(error) == 404:
                raise StoreError(404, "No such upload") from None
            raise

    # --- housekeeping ---------------------------------------------------------------------------
    def transfer_ids(self) -> Iterator[str]:
        base = f"{self.prefix}transfers/"
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=base, Delimiter="/"
        )
        for page in pages:
            for common in page.get("CommonPrefixes", []):
                name = str(common["Prefix"])[len(base) :].rstrip("/")
                if TRANSFER_ID.fullmatch(name):
                    yield name

    def remove_transfer(self, transfer_id: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(transfer_id, "payload"))
        self.client.delete_object(Bucket=self.bucket, Key=self._key(transfer_id, "meta.json"))

    def multipart_uploads(self) -> list[tuple[str, str, float]]:
        base = f"{self.prefix}transfers/"
        found: list[tuple[str, str, float]] = []
        pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=base)
        for page in pages:
            for upload in page.get("Uploads", []):
                key = str(upload["Key"])
                transfer_id = key[len(base) :].removesuffix("/payload")
                if not key.endswith("/payload") or not TRANSFER_ID.fullmatch(transfer_id):
                    continue
                started = upload.get("Initiated")
                found.append((transfer_id, str(upload["UploadId"]), started.timestamp() if started else 0.0))
        return found

    # --- presigned URLs -------------------------------------------------------------------------
    def part_url(self, transfer_id: str, upload_id: str, part_number: int, base_url: str, expiry: int) -> str:
        params = {
            "Bucket": self.bucket,
            "Key": self._key(transfer_id, "payload"),
            "UploadId": upload_id,
            "PartNumber": part_number,
        }
        return str(self.client.generate_presigned_url("upload_part", Params=params, ExpiresIn=expiry))

    def upload_url(self, transfer_id: str, base_url: str, expiry: int) -> str:
        params = {"Bucket": self.bucket, "Key": self._key(transfer_id, "payload")}
        return str(self.client.generate_presigned_url("put_object", Params=params, ExpiresIn=expiry))

    def download_url(self, transfer_id: str, base_url: str, expiry: int) -> str:
        params = {"Bucket": self.bucket, "Key": self._key(transfer_id, "payload")}
        return str(self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expiry))

    # --- small server records -----------------------------------------------------------------------
    def _record_key(self, name: str) -> str:
        return f"{self.prefix}server/{check_record_name(name)}.json"

    def _get_record(self, name: str) -> tuple[dict[str, Any], str] | None:
        found = self.objects.get(self._record_key(name))
        if found is None:
            return None
        data = json.loads(found[0])
        return (data if isinstance(data, dict) else {}), found[1]

    def load_record(self, name: str) -> dict[str, Any] | None:
        found = self._get_record(name)
        return found[0] if found else None

    def update_record(self, name: str, change: Callable[[dict[str, Any]], T]) -> tuple[dict[str, Any], T]:
        """Compare-and-swap, as ``update``: ``If-None-Match: *`` for a new record, ``If-Match`` after."""
        for _ in range(CAS_ATTEMPTS):
            found = self._get_record(name)
            record = found[0] if found else {}
            result = change(record)
            try:
                self.objects.put(self._record_key(name), json.dumps(record).encode(), "application/json",
                                 if_match=found[1] if found else None,
                                 if_none_match=None if found else "*")
            except ClientError as error:
                if _code(error) in ("PreconditionFailed", "ConditionalRequestConflict") or _status(error) in (
                    409,
                    412,
                ):
                    continue
                raise
            return record, result
        raise StoreError(503, "Token validation service unavailable (the usage record is busy); try again")

    # --- secrets ----------------------------------------------------------------------------------
    def ticket_secret(self) -> bytes:
        """32 random bytes in ``{prefix}server/ticket-secret``, created once (``If-None-Match: *``).

        Every process on the bucket reads the same object, so a ticket issued by one is accepted by all
        (stateless). The first process to start creates it; a process losing that race reads the
        winner's. Read once per process, then cached."""
        if self._ticket_secret is not None:
            return self._ticket_secret
        key = f"{self.prefix}{TICKET_SECRET_KEY}"
        for _ in range(CAS_ATTEMPTS):
            # through the fast path: a body cut half-way is retried there (boto3 retries only the request,
            # so one reset connection while reading the secret used to stop `sgsend serve` at start-up)
            found = self.objects.get(key)
            if found is not None and len(found[0]) >= 32:
                self._ticket_secret = bytes(found[0])
                return self._ticket_secret
            try:
                self.objects.put(key, secrets.token_bytes(32), "application/octet-stream", if_none_match="*")
            except ClientError as error:
                if _code(error) not in ("PreconditionFailed", "ConditionalRequestConflict") and _status(
                    error
                ) not in (409, 412):
                    raise
            # read back what is stored (ours, or the object another process created first)
        raise RuntimeError(f"cannot read or create the ticket secret in bucket {self.bucket!r}")

    def close(self) -> None:
        self.client.close()
        self.objects.close()
