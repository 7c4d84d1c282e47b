"""UploadJob: one file → encrypted payload → (direct upload | parallel multipart PUTs) → complete → link.

Threads: the job thread (this class) runs the encryptor, which cuts ``crypto.iter_encrypted_payload`` into
parts and puts them on a bounded queue (``workers + 1`` parts); ``workers`` part workers in a
ThreadPoolExecutor PUT them to presigned URLs. Memory is bounded by ``(2 * workers + 2) * part_size``.
Resume re-derives the same payload from the same key + IV and only PUTs the parts the server lacks.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import math
import mmap
import os
import queue
import re
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from sgsend_desktop.core import crypto
from sgsend_desktop.core.api import Capabilities, SendApi, UrlRejectedError, origin_of
from sgsend_desktop.core.errors import (
    ApiError,
    AuthError,
    CancelledError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    SendError,
    SourceChangedError,
    TransientError,
)
from sgsend_desktop.core.events import EventListener, ServerEvent
from sgsend_desktop.core.jobs import JobContext, JobSteps
from sgsend_desktop.core.journal import PartRow, TransferRow
from sgsend_desktop.core.links import make_link
from sgsend_desktop.core.model import TransferState
from sgsend_desktop.core.presigned import StorageConnection

log = logging.getLogger(__name__)
T = TypeVar("T")
DIRECT_LIMIT = 5 * 1024 * 1024            # payloads up to this size use the direct upload route
LAMBDA_BODY_LIMIT = 6 * 1024 * 1024       # API bodies above this are refused by a Lambda-hosted server
URL_LIFETIME = 3600.0                     # initiate does not say; upstream's value
URL_MARGIN = 60.0                         # refresh URLs this close to expiry
URL_BATCH = 32
_MD5_ETAG = re.compile(r'^"?([0-9a-f]{32})"?$')
# shown in the row's details (the snapshot's ``note``) once a send had to start again (UploadJob.run)
START_AGAIN_NOTE = ("The server had removed this unfinished upload (it was paused too long), so it was sent "
                    "again from the beginning.")


def plan_parts(payload_size: int, part_size: int) -> list[tuple[int, int, int]]:
    count = max(1, math.ceil(payload_size / part_size))
    return [(n + 1, n * part_size, min(part_size, payload_size - n * part_size)) for n in range(count)]


# `initiate` answers with every part's presigned URL at once, and on the real service that answer goes
# through Lambda's 6 MB response limit. A real S3 upload_part URL signed with the Lambda role's session
# token is ~1.5-2 KB: at 2 KB + 48 bytes of JSON per part the limit is ~3,000 parts (5 MiB parts: 15.7 GB),
# at 1 KB ~5,800. We ask for at most 1,000 (what the web UI itself asks for at its 10 GB cap: 10 MiB
# slices), ~2.1 MB, and let the parts grow past that. Arithmetic in docs/format.md, "Part size".
PART_URL_ESTIMATE = 2048                  # bytes of one presigned part URL on the real service (high side)
PART_ENTRY_OVERHEAD = 48                  # {"part_number":10000,"upload_url":""}, and its escaping
MAX_INITIATE_PARTS = 1000                 # 1000 x 2096 B = 2.1 MB: a URL may be ~3x our estimate
S3_MAX_PART_SIZE = 5 * 1024**3            # S3's own limit per part


def initiate_response_estimate(num_parts: int) -> int:
    """Bytes of initiate's JSON answer for ``num_parts`` parts on the real service (an upper estimate)."""
    return 256 + num_parts * (PART_URL_ESTIMATE + PART_ENTRY_OVERHEAD)


def choose_num_parts(payload_size: int, caps: Capabilities) -> int:
    """Parts of min_part_size (5 MiB: least memory) up to MAX_INITIATE_PARTS parts (5.24 GB), so that
    initiate's answer stays far below Lambda's 6 MB limit; past that, bigger parts. The server sizes
    them: max(5 MiB, ceil(size / num_parts)) - above the 10 MiB max_part_size it advertises, which
    neither upstream nor our server enforces (S3 takes up to 5 GiB a part)."""
    limit = max(1, min(caps.max_parts, MAX_INITIATE_PARTS))
    count = max(1, math.ceil(payload_size / caps.min_part_size))
    if count > limit:
        count = limit
        if math.ceil(payload_size / count) > S3_MAX_PART_SIZE:
            raise PayloadTooLargeError(
                f"This file is too big for the server (at most {limit * S3_MAX_PART_SIZE} bytes).")
    return count


def check_token_before_sending(api: SendApi) -> None:
    """Stop a new send at once — before a folder is zipped or a file read — when the server says its
    access token is unknown, revoked or has no uses left (``check-token``, one small request). A server
    that cannot say (no such route, unreachable, no token set here) lets the send go on: ``create``
    answers for itself."""
    if not api.has_token:
        return
    status = api.check_token()
    refused = status.error()
    if refused is not None:
        log.info("the server refuses the access token (%s): the send stops before it starts", status.status)
        raise refused
    if status.remaining is not None:
        log.info("access token: %d use(s) left", status.remaining)


def source_stat(path: Path) -> os.stat_result:
    try:
        return path.stat()
    except FileNotFoundError:
        raise SourceChangedError(f"The file {path} is gone; it cannot be sent.") from None


class _PartUrls:
    """Presigned part URLs with their issue time; fresh ones through the part-urls extension."""

    def __init__(self, ctx: JobContext, transfer_id: str, upload_id: str, caps: Capabilities) -> None:
        self._ctx, self._tid, self._uid, self._caps = ctx, transfer_id, upload_id, caps
        self._lock = threading.Lock()
        self._urls: dict[int, tuple[str, float]] = {}
        self._lifetime = URL_LIFETIME
        self.pending: set[int] = set()

    def add(self, urls: dict[int, str], lifetime: float | None = None) -> None:
        now = time.monotonic()
        if lifetime:
            self._lifetime = lifetime
        with self._lock:
            for number, url in urls.items():
                self._urls[number] = (url, now + self._lifetime)

    def drop(self, number: int) -> None:
        with self._lock:
            self._urls.pop(number, None)

    def part_done(self, number: int) -> None:
        # under the lock: get() iterates `pending` on another worker to batch fresh URLs
        with self._lock:
            self.pending.discard(number)
            self._urls.pop(number, None)

    def get(self, number: int) -> str:
        with self._lock:
            found = self._urls.get(number)
            if found and found[1] - time.monotonic() > min(URL_MARGIN, self._lifetime / 4):
                return found[0]
            if not self._caps.part_urls:
                if found:
                    return found[0]
                raise AuthError("The upload links expired and this server cannot issue new ones; "
                                "run resume to restart the upload.")
            wanted = [number, *sorted(n for n in self.pending if n > number)[:URL_BATCH - 1]]
            log.info("fetching fresh URLs for %d part(s) from part %d", len(wanted), number)
            fresh = self._ctx.api.part_urls(self._tid, self._uid, wanted)
            if fresh.expires_in:
                self._lifetime = fresh.expires_in
            expiry = time.monotonic() + self._lifetime
            for n, url in fresh.urls.items():
                self._urls[n] = (url, expiry)
            if number not in self._urls:
                raise ApiError("The server issued no upload URL for a part.")
            return self._urls[number][0]


class UploadJob(JobSteps):
    def __init__(self, ctx: JobContext) -> None:
        super().__init__(ctx)
        self._listener: EventListener | None = None
        self._created: str | None = None  # the transfer id created by this run (pending: no need to ask)

    # entry point ---------------------------------------------------------------------------------
    def run(self) -> str:
        """Upload to the end; return the link without key. Raises CancelledError when stopped.

        When the server no longer has the transfer (a send paused longer than the server keeps unfinished
        uploads: its abandoned-upload sweep removed it, and every call is a 404), the send starts again
        from the beginning as a new transfer with the same key, once per run (``_start_again``)."""
        ctx = self.ctx
        key_text = ctx.secrets.get(self.id)
        if key_text is None:
            raise SendError("The key of this transfer is lost (keyring/secrets file); send the file again.")
        key = crypto.resolve_key(key_text)
        row = self._state(TransferState.PREPARING)
        started_again = False
        try:
            while True:
                row = self._prepare(row, key, key_text)
                replaced = ctx.secrets.get(self.id)
                if replaced is not None and replaced != key_text:  # a taken friendly token was replaced
                    key_text, key = replaced, crypto.resolve_key(replaced)
                try:
                    return self._upload(row, key, key_text)
                except NotFoundError:
                    if started_again or not self._transfer_gone(row):
                        raise
                    started_again = True
                    row = self._start_again(row)
        finally:
            self._stop_listening()

    def _upload(self, row: TransferRow, key: bytes, key_text: str) -> str:
        ctx = self.ctx
        caps = self._retry(ctx.api.capabilities, "capabilities")
        assert row.transfer_id is not None and row.payload_size is not None
        if row.transfer_id != self._created:  # a resume: where does the server stand?
            info = self._retry(lambda: ctx.api.info(row.transfer_id or ""), "info")
            if info.status == "completed":
                return self._finish(row, key, key_text, already_complete=True)
            if info.status != "pending":
                raise ConflictError(f"The transfer is {info.status} on the server; it cannot be resumed.")
        self._listen(caps, row.transfer_id)
        if row.payload_size <= DIRECT_LIMIT or not caps.multipart_upload:
            self._direct(row, key, caps)
            completed = False
        else:
            completed = self._multipart(row, key, caps)
        return self._finish(row, key, key_text, already_complete=completed)

    # a transfer the server removed ------------------------------------------------------------------
    def _transfer_gone(self, row: TransferRow) -> bool:
        """Did a 404 mean the whole transfer is gone (``info`` says 404), not just a part or an upload?"""
        if row.transfer_id is None:
            return False
        tid = row.transfer_id
        try:
            self._retry(lambda: self.ctx.api.info(tid), "info")
        except NotFoundError:
            return True
        return False

    def _start_again(self, row: TransferRow) -> TransferRow:
        """Forget the server-side state of the send (transfer id, upload, parts, IV) and go back to
        PREPARING: ``_prepare`` creates a new transfer with the same key (a friendly key gives the same
        id: the old one is free again) and a fresh IV, and the whole file is sent again."""
        ctx = self.ctx
        log.warning("transfer %s: the server no longer has transfer %s (it removes uploads left unfinished "
                    "too long): sending it again from the start as a new transfer with the same key",
                    self.id, row.transfer_id)
        self._stop_listening()
        ctx.journal.set_parts(self.id, [])
        options = {**row.options, "note": START_AGAIN_NOTE}
        ctx.journal.update(self.id, transfer_id=None, upload_id=None, part_size=None, payload_size=None,
                           iv=None, source_size=None, source_mtime_ns=None, bytes_done=0, options=options)
        ctx.progress.reset(0)
        if ctx.journal.get(self.id).state is not TransferState.PREPARING:
            ctx.journal.set_state(self.id, TransferState.QUEUED)  # UPLOADING/COMPLETING → PREPARING
        return self._state(TransferState.PREPARING)

    def _stop_listening(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None

    # steps ---------------------------------------------------------------------------------------
    def _prepare(self, row: TransferRow, key: bytes, key_text: str) -> TransferRow:
        ctx = self.ctx
        assert row.source_path is not None
        source = Path(row.source_path)
        stat = source_stat(source)
        if row.transfer_id is not None:
            if stat.st_size != row.source_size or stat.st_mtime_ns != row.source_mtime_ns:
                raise SourceChangedError(
                    f"{source.name} changed since the upload started (size or time differ); "
                    "cancel this transfer and send the file again.")
            return row
        options = row.options
        payload = crypto.payload_size(row.name, stat.st_size)
        iv = crypto.generate_key()[: crypto.IV_SIZE]
        friendly = crypto.is_friendly_token(key_text)
        expires_at = str(options.get("expires_at") or "")
        # We pick the transfer id (random, or derived from the friendly token) so that the
        # delete-auth hash, which binds key and id, can be sent with create.
        for _ in range(20):
            key = crypto.resolve_key(key_text)
            wanted = crypto.friendly_transfer_id(key_text) if friendly else secrets.token_hex(6)
            auth_hash = crypto.delete_auth_hash(key, wanted) if options.get("delete_auth", True) else ""
            try:
                create = functools.partial(
                    ctx.api.create, payload, transfer_id=wanted,
                    max_downloads=int(options.get("max_downloads") or 0), expires_at=expires_at,
                    delete_auth_hash=auth_hash)
                created = self._retry(create, "create")
            except ConflictError:
                if friendly:  # token taken: pick another (of the same form: never a weaker one)
                    key_text = (crypto.generate_strong_token() if crypto.is_strong_token(key_text)
                                else crypto.generate_friendly_token())
                    ctx.secrets.set(self.id, key_text)
                continue
            break
        else:
            raise ConflictError("Could not find a free transfer id on the server; try again.")
        self._created = created.transfer_id
        ctx.journal.update(self.id, transfer_id=created.transfer_id, source_size=stat.st_size,
                           source_mtime_ns=stat.st_mtime_ns, payload_size=payload, iv=iv.hex())
        ctx.progress.reset(payload)
        ctx.changed()
        return ctx.journal.get(self.id)

    def _listen(self, caps: Capabilities, transfer_id: str) -> None:
        if not caps.events:
            log.info("server has no events extension: progress from completed PUTs")
            return
        self.ctx.live_events = True

        def on_event(event: ServerEvent) -> None:
            confirmed = event.data.get("bytes_confirmed")
            if isinstance(confirmed, int):
                self.ctx.progress.set_confirmed(confirmed)

        url = self.ctx.api.events_url(transfer_id)
        gates, origin = self.ctx.gates, origin_of(url)
        self._listener = EventListener(self.ctx.api.events_http, url, on_event,
                                       on_open=lambda: gates.probe_now(origin)).start()
        self.ctx.events = self._listener

    def _payload(self, row: TransferRow, key: bytes) -> Iterator[bytes]:
        assert row.source_path is not None and row.iv is not None
        with open(row.source_path, "rb") as source:
            yield from crypto.iter_encrypted_payload(key, source, row.name, bytes.fromhex(row.iv))

    def _direct(self, row: TransferRow, key: bytes, caps: Capabilities) -> None:
        assert row.payload_size is not None and row.transfer_id is not None
        if row.payload_size > LAMBDA_BODY_LIMIT:
            raise PayloadTooLargeError(
                "This server offers no multipart upload and takes at most 6 MB in one request.")
        self._state(TransferState.UPLOADING)
        body = b"".join(self._payload(row, key))
        if len(body) != row.payload_size:
            raise SourceChangedError(f"{row.name} changed while it was being read; send it again.")
        self.ctx.progress.add_encrypted(len(body))
        self._check()
        self.ctx.limiter.consume(len(body), self.ctx.control.stop)
        self._check()
        transfer_id = row.transfer_id
        self._retry(lambda: self.ctx.api.upload(transfer_id, body), "upload")
        self.ctx.progress.add_sent(len(body))
        self.ctx.progress.set_confirmed(len(body))

    # multipart -----------------------------------------------------------------------------------
    def _start_multipart(self, row: TransferRow, caps: Capabilities) -> tuple[TransferRow, _PartUrls]:
        assert row.transfer_id is not None and row.payload_size is not None
        tid, size = row.transfer_id, row.payload_size
        initiated = self._retry(lambda: self.ctx.api.initiate(tid, size, choose_num_parts(size, caps)),
                                "initiate")
        parts = plan_parts(row.payload_size, initiated.part_size)
        self.ctx.journal.update(self.id, upload_id=initiated.upload_id, part_size=initiated.part_size)
        self.ctx.journal.set_parts(self.id, parts)
        urls = _PartUrls(self.ctx, tid, initiated.upload_id, caps)
        urls.add(initiated.part_urls)
        return self.ctx.journal.get(self.id), urls

    def _assembled_before_crash(self, transfer_id: str) -> bool:
        """A process that died between ``presigned/complete`` and ``transfers/complete`` left every part
        journaled as done and an upload id the server has forgotten (it assembled the payload). Then
        completing the transfer is all that is left; the server says 404 when there is no payload."""
        if not all(p.state == "done" and p.etag for p in self.ctx.journal.parts(self.id)):
            return False
        try:
            self._retry(lambda: self.ctx.api.complete(transfer_id), "complete")
        except NotFoundError:
            return False
        log.info("resume: the server had already assembled the parts of %s", transfer_id)
        return True

    def _reconcile(self, row: TransferRow, caps: Capabilities) -> tuple[TransferRow, _PartUrls] | None:
        """On resume: which parts does the server hold? Restart cleanly when we cannot know.
        None: the payload was already assembled and the transfer is now complete."""
        assert row.transfer_id is not None and row.upload_id is not None
        tid, uid = row.transfer_id, row.upload_id
        if not caps.part_urls:
            log.warning("server has no part-urls extension: the multipart upload of %s restarts "
                        "from the start (its part URLs cannot be renewed)", tid)
            with contextlib.suppress(SendError):
                self.ctx.api.cancel_multipart(tid, uid)
            return self._start_multipart(row, caps)
        if caps.list_parts:
            try:
                listed = self._retry(lambda: self.ctx.api.list_parts(tid, uid), "list parts")
                held = {p.part_number: p for p in listed}
            except NotFoundError:
                if self._assembled_before_crash(tid):
                    return None
                log.warning("the server no longer knows upload %s: restarting it", uid)
                return self._start_multipart(row, caps)
            for part in self.ctx.journal.parts(self.id):
                server = held.get(part.number)
                if server is not None and (not server.size or server.size == part.size):
                    if part.state != "done" or part.etag != server.etag:
                        self.ctx.journal.part_done(self.id, part.number, server.etag)
                elif part.state == "done":
                    self.ctx.journal.part_pending(self.id, part.number)
            log.info("resume: the server holds %d part(s) of upload %s", len(held), uid)
        else:
            log.info("server has no list-parts extension: trusting the journal's finished parts")
        return row, _PartUrls(self.ctx, tid, uid, caps)

    def _multipart(self, row: TransferRow, key: bytes, caps: Capabilities) -> bool:
        """Upload the missing parts and assemble them; True when the transfer was completed already."""
        if row.upload_id is None or not self.ctx.journal.parts(self.id):
            row, urls = self._start_multipart(row, caps)
        else:
            reconciled = self._reconcile(row, caps)
            if reconciled is None:
                return True
            row, urls = reconciled
        assert row.transfer_id is not None and row.upload_id is not None and row.payload_size is not None
        parts = self.ctx.journal.parts(self.id)
        done_bytes = sum(p.size for p in parts if p.state == "done")
        self.ctx.progress.reset(row.payload_size, sent=done_bytes, confirmed=done_bytes)
        urls.pending = {p.number for p in parts if p.state != "done"}
        self._state(TransferState.UPLOADING)
        if urls.pending:
            self._run_pipeline(row, key, parts, urls)
        self._check()
        finished = [(p.number, p.etag or "") for p in self.ctx.journal.parts(self.id)]
        if any(not etag for _, etag in finished):
            raise ApiError("Some parts were not uploaded; resume the transfer.")
        tid, uid = row.transfer_id, row.upload_id
        self._state(TransferState.COMPLETING)
        self._retry(lambda: self.ctx.api.complete_multipart(tid, uid, finished), "complete multipart")
        return False

    def _run_pipeline(self, row: TransferRow, key: bytes, parts: list[PartRow], urls: _PartUrls) -> None:
        ctx = self.ctx
        workers = max(1, ctx.workers)
        # workers + 2 part buffers for the whole upload, reused: the encryptor fills one while the workers
        # send theirs and one waits to be taken. Memory stays (workers + 2) x part size whatever the file
        # size, and no part is allocated (and faulted in) anew. Anonymous maps: back to the system at the end.
        size = max(part.size for part in parts)
        free: queue.Queue[memoryview] = queue.Queue()
        for _ in range(workers + 2):
            free.put(memoryview(mmap.mmap(-1, size)))
        work: queue.Queue[tuple[PartRow, memoryview] | None] = queue.Queue(maxsize=1)
        failure: list[BaseException] = []
        abort = self.abort = threading.Event()

        def fail(error: BaseException) -> None:
            if not failure:
                failure.append(error)
            abort.set()

        def worker() -> None:
            connection = StorageConnection(ctx.api)  # this worker's kept-alive connection to the storage
            try:
                while True:
                    item = work.get()
                    if item is None:
                        return
                    part, buffer = item
                    try:
                        if not abort.is_set() and not ctx.control.stop.is_set():
                            self._put_part(part, buffer[:part.size], urls, abort, connection)
                    except BaseException as error:
                        fail(error)
                    finally:
                        free.put(buffer)
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"part-{self.id}") as pool:
            futures = [pool.submit(worker) for _ in range(workers)]
            try:
                self._encrypt_into(row, key, parts, work, free, abort)
            except BaseException as error:
                fail(error)
            finally:
                for _ in futures:
                    self._offer(work, None, None)
            for future in futures:
                future.result()
        self.abort = None
        if failure:
            raise failure[0]

    def _offer(self, work: queue.Queue[tuple[PartRow, memoryview] | None],
               item: tuple[PartRow, memoryview] | None, abort: threading.Event | None) -> bool:
        """Put on the bounded queue, giving up when the job stops (the None sentinel always waits:
        the workers keep draining the queue until they see it)."""
        while True:
            try:
                work.put(item, timeout=0.2)
                return True
            except queue.Full:
                if item is not None and (self.ctx.control.stop.is_set() or (abort and abort.is_set())):
                    return False

    def _encrypt_into(self, row: TransferRow, key: bytes, parts: list[PartRow],
                      work: queue.Queue[tuple[PartRow, memoryview] | None], free: queue.Queue[memoryview],
                      abort: threading.Event) -> None:
        """Encrypt the payload straight into free part buffers; verify re-derived finished parts; queue
        the others."""
        assert row.payload_size is not None and row.source_path is not None and row.iv is not None
        with open(row.source_path, "rb") as source:
            reader = crypto.PayloadReader(key, source, row.name, bytes.fromhex(row.iv))
            for part in parts:
                buffer = self._free_buffer(free, abort)
                if buffer is None:
                    return
                count = reader.readinto(buffer[:part.size])
                self.ctx.progress.add_encrypted(count)
                if count != part.size:
                    free.put(buffer)
                    break
                if not self._hand_over(part, buffer, work, free, abort):
                    return
            else:
                if reader.readinto(memoryview(bytearray(1))) == 0 and reader.produced == row.payload_size:
                    return
        raise SourceChangedError(f"{row.name} changed while it was being read; cancel and send it again.")

    def _free_buffer(self, free: queue.Queue[memoryview], abort: threading.Event) -> memoryview | None:
        while True:
            if self.ctx.control.stop.is_set() or abort.is_set():
                return None
            try:
                return free.get(timeout=0.2)
            except queue.Empty:
                continue

    def _hand_over(self, part: PartRow, buffer: memoryview,
                   work: queue.Queue[tuple[PartRow, memoryview] | None], free: queue.Queue[memoryview],
                   abort: threading.Event) -> bool:
        if self.ctx.control.stop.is_set() or abort.is_set():
            free.put(buffer)
            return False
        if part.state == "done":
            match = _MD5_ETAG.match((part.etag or "").lower())
            digest = hashlib.md5(buffer[:part.size]).hexdigest()
            free.put(buffer)
            if match and digest != match.group(1):
                raise SourceChangedError(
                    "The file changed since the upload started (an already uploaded part differs); "
                    "cancel this transfer and send the file again.")
            return True
        if not self._offer(work, (part, buffer), abort):
            free.put(buffer)
            return False
        return True

    def _put_part(self, part: PartRow, data: memoryview, urls: _PartUrls, abort: threading.Event,
                  connection: StorageConnection) -> None:
        ctx = self.ctx

        def attempt() -> str:
            if abort.is_set():
                raise CancelledError("stopped")
            url = urls.get(part.number)
            sent = 0
            limited = ctx.limiter.rate is not None

            def before(piece: memoryview) -> None:  # each slice, just before it goes out
                nonlocal sent
                if ctx.control.stop.is_set() or abort.is_set():
                    raise CancelledError("stopped")
                if limited:
                    ctx.limiter.consume(len(piece), ctx.control.stop)
                sent += len(piece)
                ctx.progress.add_sent(len(piece))

            try:
                return connection.put_part(url, data, ctx.limiter.slice_size(), before)
            except UrlRejectedError:
                urls.drop(part.number)
                ctx.progress.add_sent(-sent)
                raise
            except BaseException:
                ctx.progress.add_sent(-sent)
                raise

        def counted(number: int, error: TransientError) -> None:
            ctx.journal.part_attempt(self.id, part.number)

        etag = self._retry(attempt, f"part {part.number}", counted, abort)
        ctx.journal.part_done(self.id, part.number, etag)
        urls.part_done(part.number)
        if not ctx.live_events:
            ctx.progress.add_confirmed(part.size)

    # the end ----------------------------------------------------------------------------------------
    def _finish(self, row: TransferRow, key: bytes, key_text: str, already_complete: bool) -> str:
        ctx = self.ctx
        assert row.transfer_id is not None
        tid = row.transfer_id
        if ctx.journal.get(self.id).state is not TransferState.COMPLETING:
            self._state(TransferState.COMPLETING)
        if not already_complete:
            self._retry(lambda: ctx.api.complete(tid), "complete")
        token = key_text if crypto.is_friendly_token(key_text) else None
        link = make_link(row.server_url, tid, key, token=token)
        total = row.payload_size or 0
        ctx.progress.reset(total, sent=total, confirmed=total)
        self._state(TransferState.DONE, link=link.link_only(), error=None, bytes_done=total)
        return link.link_only()
