"""DownloadJob: info → presigned URL (or the direct route) → parallel ranged GETs into a partial file →
stream-decrypt and verify → atomic rename to the sanitised SGMETA name (never overwriting).

The partial file is ``DEST/.sgsend-<local id>.part``; the journal records every finished range, so a
new process resumes where a killed one stopped. The presigned URL is kept in the journal and reused while
it is valid (each new ``download-url`` call counts as a download on the server). When it expires (or the
store answers 403), a server with the ``download_refresh`` extension trades the journaled download ticket
for a fresh URL without counting another download; otherwise a new ``download-url`` is asked for.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import httpx

from sgsend_desktop.core import crypto
from sgsend_desktop.core.api import PresignedUrl, UrlRejectedError
from sgsend_desktop.core.errors import (
    ApiError,
    AuthError,
    CancelledError,
    ConflictError,
    GoneError,
    IntegrityError,
    LocalIOError,
    NotFoundError,
    PayloadTooLargeError,
    SendError,
    TransientError,
)
from sgsend_desktop.core.filenames import open_private
from sgsend_desktop.core.jobs import JobContext, JobSteps
from sgsend_desktop.core.journal import RangeRow, TransferRow
from sgsend_desktop.core.model import TransferState

log = logging.getLogger(__name__)
T = TypeVar("T")
RANGE_SIZE = 8 * 1024 * 1024
READ_CHUNK = 256 * 1024      # direct route only; ranges take httpcore's reads as they come (no copies)
DECRYPT_BLOCK = 1024 * 1024  # the decryptor reads the finished prefix of the .part file in these
URL_MARGIN = 60.0
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def partial_path(dest_dir: Path, local_id: str) -> Path:
    return dest_dir / f".sgsend-{local_id}.part"


def plain_path(dest_dir: Path, local_id: str) -> Path:
    """The plaintext being decrypted (hidden; renamed only once the tag verifies)."""
    return dest_dir / f".sgsend-{local_id}.plain"


def plan_ranges(start: int, total: int, size: int = RANGE_SIZE) -> list[tuple[int, int]]:
    return [(a, min(a + size, total)) for a in range(start, total, size)]


class DownloadJob(JobSteps):
    def __init__(self, ctx: JobContext) -> None:
        super().__init__(ctx)
        self._url_lock = threading.Lock()

    def run(self) -> Path:
        ctx = self.ctx
        key_text = ctx.secrets.get(self.id)
        if key_text is None:
            raise SendError("The key of this download is lost; paste the link again.")
        key = crypto.resolve_key(key_text)
        row = self._state(TransferState.PREPARING)
        assert row.transfer_id is not None and row.dest_dir is not None
        dest = Path(row.dest_dir)
        try:
            dest.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise LocalIOError(f"Cannot create the folder {dest}: {error.strerror or error}") from None
        part_file = partial_path(dest, self.id)
        url = self._usable_url(row)
        ranges = ctx.journal.ranges(self.id)
        if url is None and row.download_url and ranges and part_file.exists() and all(
                r.state == "done" for r in ranges):
            # Every byte is already here (killed while decrypting): no new download URL, which
            # would count one more download and could hit max_downloads.
            log.info("all ranges are on disk: decrypting without asking the server again")
            url = row.download_url
        caps = self._retry(ctx.api.capabilities, "capabilities")
        if url is None and row.download_ticket and caps.download_refresh:
            # a resumed download whose URL expired: its grant was counted already (max_downloads may
            # well be reached by now, by this very download), so renew it rather than ask info/download-url
            url = self._refreshed_url(row.transfer_id, row.download_ticket)
        if url is None:
            self._check_info(row.transfer_id)
        self._state(TransferState.DOWNLOADING)
        if url is None and caps.presigned_download:
            url = self._new_url(row.transfer_id)
        fallback = f"sgsend-{row.transfer_id}.bin"
        try:
            if url is not None:
                saved = self._ranged(row, url, part_file, key, fallback)
            else:
                log.info("server offers no presigned download: using the direct route")
                self._direct(row, part_file)
                self._check()
                self._state(TransferState.COMPLETING)
                saved = crypto.decrypt_chunks_to_dir(self._file_blocks(part_file), key, dest, fallback,
                                                     temp_path=plain_path(dest, self.id))
        except IntegrityError as error:
            self._discard_partial(part_file)
            raise IntegrityError(
                "The file could not be decrypted: the key is wrong, or the file was changed on the way. "
                "Nothing was saved.") from error
        except OSError as error:  # full disk, permissions: one sentence (the .part file stays resumable)
            raise LocalIOError(f"Cannot write the download in {dest}: {error.strerror or error}.") from None
        self._discard_partial(part_file)
        self._state(TransferState.DONE, saved_path=str(saved), name=saved.name, error=None,
                    download_url=None, download_url_expires=None, download_ticket=None)
        return saved

    # helpers ---------------------------------------------------------------------------------------
    def _discard_partial(self, part_file: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            part_file.unlink()
        self.ctx.journal.set_ranges(self.id, [])
        self.ctx.journal.update(self.id, download_url=None, download_url_expires=None)

    def _check_info(self, transfer_id: str) -> None:
        try:
            info = self._retry(lambda: self.ctx.api.info(transfer_id), "info")
        except NotFoundError:
            raise NotFoundError("There is no transfer with this id on the server: "
                                "the link is wrong, or the sender deleted it.", 404) from None
        if info.status == "deleted":
            raise NotFoundError("The sender deleted this transfer.", 404)
        if info.status == "exhausted":
            raise GoneError("This transfer reached its download limit; ask the sender to send it again.", 410)
        if info.is_expired:
            raise GoneError("This transfer has expired; ask the sender to send it again.", 410)
        if info.status == "pending":
            raise ConflictError("The sender has not finished uploading this file yet; try again later.", 409)

    def _usable_url(self, row: TransferRow) -> str | None:
        if row.download_url and (row.download_url_expires or 0) - time.time() > URL_MARGIN:
            log.info("reusing the stored download URL (valid for %.0fs more)",
                     (row.download_url_expires or 0) - time.time())
            return row.download_url
        return None

    def _new_url(self, transfer_id: str) -> str | None:
        try:
            presigned = self._retry(lambda: self.ctx.api.download_url(transfer_id), "download-url")
        except GoneError:
            raise GoneError("This transfer has expired or reached its download limit; "
                            "ask the sender to send it again.", 410) from None
        except NotFoundError:
            log.info("server has no download-url route: using the direct route")
            return None
        self._store_url(presigned)
        return presigned.url

    def _store_url(self, presigned: PresignedUrl) -> None:
        self.ctx.journal.update(self.id, download_url=presigned.url,
                                download_url_expires=time.time() + presigned.expires_in,
                                download_ticket=presigned.download_ticket)

    def _refreshed_url(self, transfer_id: str, ticket: str) -> str | None:
        """A fresh URL for the grant already counted (download_refresh); None when the ticket is refused."""
        try:
            presigned = self._retry(lambda: self.ctx.api.refresh_download_url(transfer_id, ticket),
                                    "download-url refresh")
        except AuthError:
            log.info("the server refused the download ticket (too old, or another server's)")
            self.ctx.journal.update(self.id, download_ticket=None)
            return None
        except NotFoundError:
            raise NotFoundError("The sender deleted this transfer.", 404) from None
        except GoneError:
            raise GoneError("This transfer has expired; ask the sender to send it again.", 410) from None
        log.info("download URL renewed through download-url/refresh (not counted as another download)")
        self._store_url(presigned)
        return presigned.url

    def _renewed_url(self, transfer_id: str) -> str | None:
        """The refresh extension when the server advertises it and we hold a ticket, else download-url."""
        ticket = self.ctx.journal.get(self.id).download_ticket
        if ticket and self.ctx.api.capabilities().download_refresh:
            fresh = self._refreshed_url(transfer_id, ticket)
            if fresh is not None:
                return fresh
            log.info("asking for a new download URL instead (counts as a download)")
        elif ticket:
            log.info("server has no download_refresh extension: asking for a new download URL "
                     "(counts as a download)")
        else:
            log.info("no download ticket: asking for a new download URL (counts as a download)")
        return self._new_url(transfer_id)

    # ranged download -------------------------------------------------------------------------------
    def _ranged(self, row: TransferRow, url: str, part_file: Path, key: bytes, fallback: str) -> Path:
        """Fetch the missing ranges with the part workers while this thread decrypts.

        The decryptor follows the contiguous prefix of finished ranges (workers take the lowest
        offsets first), reading it back from the .part file (page cache) into one reused buffer, and
        writes plaintext to ``.sgsend-<id>.plain``, which is renamed only once the tag verifies. The
        .part file and the journal stay the resumable store: after a kill the plaintext is simply
        derived again from offset 0.
        """
        ctx = self.ctx
        dest = part_file.parent
        current = [url]
        ranges = ctx.journal.ranges(self.id)
        fd = open_private(part_file, reuse=bool(ranges))  # ours, or refused
        try:
            if not ranges:
                ranges = self._first_range(fd, current)
            total = max(r.end for r in ranges)
            done = sum(r.end - r.start for r in ranges if r.state == "done")
            ctx.progress.reset(total, sent=done, confirmed=done)
            prefix = _Prefix(ranges)
            pending = [r for r in ranges if r.state != "done"]  # ordered by start
            abort = self.abort = threading.Event()

            def fetch(span: RangeRow) -> None:
                if abort.is_set() or ctx.control.stop.is_set():
                    return
                try:
                    self._fetch_range(fd, span, current, abort)
                    prefix.done(span.start)
                except BaseException as error:
                    prefix.fail(error)
                    abort.set()

            workers = max(1, min(ctx.workers, len(pending)))
            pool = ThreadPoolExecutor(workers, thread_name_prefix=f"range-{self.id}")
            try:
                for span in pending:  # the pool's queue is FIFO: lower offsets are fetched first
                    pool.submit(fetch, span)
                blocks = self._prefix_blocks(fd, prefix, total)
                return crypto.decrypt_chunks_to_dir(blocks, key, dest, fallback,
                                                    temp_path=plain_path(dest, self.id))
            finally:
                abort.set()  # no-op when everything finished; else stop the workers at once
                prefix.fail(None)
                pool.shutdown(wait=True, cancel_futures=True)
                self.abort = None
        finally:
            os.close(fd)

    def _prefix_blocks(self, fd: int, prefix: _Prefix, total: int) -> Iterator[memoryview]:
        """The payload from the .part file, as fast as its contiguous finished prefix grows."""
        buffer = memoryview(bytearray(DECRYPT_BLOCK))
        position = 0
        while position < total:
            ready, error = prefix.wait_beyond(position, self.ctx.control.stop)
            self._check()
            if error is not None:
                raise error
            if ready <= position:
                raise CancelledError("stopped")
            while position < ready:
                count = os.preadv(fd, [buffer[:min(DECRYPT_BLOCK, ready - position)]], position)
                if count <= 0:
                    raise LocalIOError("The partial download file is shorter than the journal says.")
                position += count
                yield buffer[:count]
        # every range is fetched, synced and journaled; nothing below is resumable work any more
        self._check()
        os.ftruncate(fd, total)
        os.fsync(fd)
        self._state(TransferState.COMPLETING)

    @staticmethod
    def _file_blocks(path: Path) -> Iterator[memoryview]:
        with path.open("rb") as reader:
            yield from crypto.iter_file_blocks(reader, DECRYPT_BLOCK)

    def _first_range(self, fd: int, current: list[str]) -> list[RangeRow]:
        """GET the first range; its Content-Range tells the payload size. Plan the rest."""
        tried = [current[0]]

        def attempt() -> tuple[int, int]:
            received = 0
            tried[0] = self._live_url(current)
            with self.ctx.api.get_range(tried[0], 0, RANGE_SIZE) as response:
                total = self._total_from(response)
                for chunk in response.iter_bytes(READ_CHUNK):
                    self._check()
                    self.ctx.limiter.consume(len(chunk), self.ctx.control.stop)
                    os.pwrite(fd, chunk, received)
                    received += len(chunk)
            if response.status_code == 200:
                total = received  # the store ignored Range: that was the whole payload
            return received, total

        received, total = self._retry(attempt, "first range", self._refresh_on_reject(current, tried))
        os.fdatasync(fd)
        spans = [(0, received), *plan_ranges(received, total)]
        self.ctx.journal.set_ranges(self.id, spans)
        self.ctx.journal.range_done(self.id, 0)
        self.ctx.journal.update(self.id, payload_size=total)
        self.ctx.progress.reset(total, sent=received, confirmed=received)
        self.ctx.changed()
        return self.ctx.journal.ranges(self.id)

    @staticmethod
    def _total_from(response: httpx.Response) -> int:
        if response.status_code == 206:
            match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
            if match and match.group(3) != "*":
                return int(match.group(3))
            raise ApiError("The storage sent a partial answer without its total size.")
        length = response.headers.get("content-length")
        return int(length) if length else 0

    def _renew(self, current: list[str], used: str, why: str) -> None:
        """Replace ``used`` (the URL that failed or expired) in ``current``, once for all workers."""
        with self._url_lock:
            row = self.ctx.journal.get(self.id)
            if row.download_url and row.download_url != used:
                current[0] = row.download_url  # another worker renewed it meanwhile
                return
            log.info("%s: renewing the download URL", why)
            fresh = self._renewed_url(row.transfer_id or "")
            if fresh is None:
                raise UrlRejectedError("the download URL expired and the server offers no new one")
            current[0] = fresh

    def _live_url(self, current: list[str]) -> str:
        """``current[0]``, renewed first when the journal says it has expired (or is about to)."""
        url = current[0]
        expires = self.ctx.journal.get(self.id).download_url_expires
        if expires is not None and time.time() >= expires - 1.0:
            self._renew(current, url, "download URL expired")
        return current[0]

    def _refresh_on_reject(self, current: list[str],
                           tried: list[str]) -> Callable[[int, TransientError], None]:
        def on_retry(attempt: int, error: TransientError) -> None:
            self.ctx.journal.update(self.id, attempts=self.ctx.journal.get(self.id).attempts + 1)
            if isinstance(error, UrlRejectedError):
                self._renew(current, tried[0], "download URL refused (expired?)")
        return on_retry

    def _fetch_range(self, fd: int, span: RangeRow, current: list[str], abort: threading.Event) -> None:
        ctx = self.ctx
        expected = span.end - span.start
        tried = [current[0]]

        def attempt() -> None:
            written = 0
            try:
                tried[0] = self._live_url(current)
                with ctx.api.get_range(tried[0], span.start, span.end) as response:
                    if response.status_code != 206:
                        raise ApiError("The storage does not support ranged downloads.")
                    for chunk in response.iter_bytes():  # httpcore's 64 KiB reads, not re-chunked
                        if ctx.control.stop.is_set() or abort.is_set():
                            raise CancelledError("stopped")
                        if written + len(chunk) > expected:
                            raise TransientError("the storage sent more bytes than asked for")
                        ctx.limiter.consume(len(chunk), ctx.control.stop)
                        os.pwrite(fd, chunk, span.start + written)
                        written += len(chunk)
                        ctx.progress.add_sent(len(chunk))
                if written != expected:
                    raise TransientError(f"a range ended early ({written} of {expected} bytes)")
            except BaseException:
                ctx.progress.add_sent(-written)
                raise

        def on_retry(number: int, error: TransientError) -> None:
            ctx.journal.range_attempt(self.id, span.start)
            self._refresh_on_reject(current, tried)(number, error)

        self._retry(attempt, f"range {span.start}", on_retry, abort)
        os.fdatasync(fd)
        ctx.journal.range_done(self.id, span.start)
        ctx.progress.add_confirmed(expected)

    # direct route ------------------------------------------------------------------------------------
    def _direct(self, row: TransferRow, part_file: Path) -> None:
        ctx = self.ctx
        tid = row.transfer_id or ""

        def attempt() -> None:
            received = 0
            ctx.progress.reset(0)
            with ctx.api.download(tid) as response, open(part_file, "wb") as out:
                length = response.headers.get("content-length")
                ctx.progress.reset(int(length) if length else 0)
                for chunk in response.iter_bytes(READ_CHUNK):
                    self._check()
                    ctx.limiter.consume(len(chunk), ctx.control.stop)
                    out.write(chunk)
                    received += len(chunk)
                    ctx.progress.add_sent(len(chunk))
            ctx.progress.set_confirmed(received)
            ctx.journal.update(self.id, payload_size=received)

        try:
            self._retry(attempt, "download")
        except PayloadTooLargeError:
            raise PayloadTooLargeError("This file is too big for the server's direct download route, "
                                       "and it offers no download URL.") from None
        except GoneError:
            raise GoneError("This transfer has expired or reached its download limit; "
                            "ask the sender to send it again.", 410) from None


class _Prefix:
    """The contiguous prefix of finished ranges, which the decryptor follows (workers signal it)."""

    def __init__(self, ranges: list[RangeRow]) -> None:
        self._cond = threading.Condition()
        self._ends = {r.start: r.end for r in ranges}
        self._done = {r.start for r in ranges if r.state == "done"}
        self._end = 0
        self._failed = False
        self._error: BaseException | None = None
        self._advance()

    def _advance(self) -> None:
        while self._end in self._done:
            self._done.discard(self._end)
            self._end = self._ends[self._end]

    def done(self, start: int) -> None:
        with self._cond:
            self._done.add(start)
            self._advance()
            self._cond.notify_all()

    def fail(self, error: BaseException | None) -> None:
        """A worker failed (its error is raised to the decryptor), or the download is over (None)."""
        with self._cond:
            if not self._failed:
                self._failed, self._error = True, error
            self._cond.notify_all()

    def wait_beyond(self, position: int, stop: threading.Event) -> tuple[int, BaseException | None]:
        """Block until the prefix ends past ``position``, a worker failed or ``stop`` is set.

        Return the prefix's end and the first worker error (if any)."""
        with self._cond:
            while self._end <= position and not self._failed and not stop.is_set():
                self._cond.wait(0.25)  # the stop flag is an Event, not this condition: poll it
            return self._end, self._error
