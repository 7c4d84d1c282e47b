"""DownloadJob: info → presigned URL (or the direct route) → parallel ranged GETs into a bounded
in-memory window → decrypt in order → plaintext written once → tag verified → linked under the sanitised
SGMETA name (never overwriting).

Every received byte is written once, as plaintext, into ``DEST/.sgsend-<local id>.part`` (created
exclusively, owner-only: ``filenames.open_private``); nothing appears under the final name before the
tag verifies. Ranges land in memory — read by the kernel straight into one ring of ``workers`` slots of
``RANGE_SIZE`` bytes (``core/presigned.py``), never more than that past the journaled resume point — and
the job thread decrypts them in order as they arrive. At each range's end the resume point goes into the
journal (payload offset decrypted, content bytes written, the envelope header's ciphertext and the IV)
before the window moves on — so a kill -9 loses at most that window — and a syncer thread
``fdatasync``s behind it (what a resume after a crash starts from: ``_ResumePoints``). A resume rebuilds
the decryptor by encrypting the written content again (``crypto.StreamDecryptor.resume``: CPU only). A
range whose connection breaks continues from its last byte received.

The presigned URL is kept in the journal and reused while it is valid (each new ``download-url`` call
counts as a download on the server). When it expires (or the store answers 403), a server with the
``download_refresh`` extension trades the journaled download ticket for a fresh URL without counting
another download; otherwise a new ``download-url`` is asked for (``_DownloadUrl``).

What a server sends is bounded by what was asked: a range never delivers more than its span, the
payload size from the first ``Content-Range`` must fit the size ``info`` declares, every later answer
must agree with it, and a range that moves less than STALL_MIN_BYTES in STALL_SECONDS (limiter waits
excluded) is a transient error, retried from its last byte.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import queue
import re
import shutil
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sgsend_desktop.core import crypto
from sgsend_desktop.core.api import Capabilities, PresignedUrl, TransferInfo, UrlRejectedError
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
    UnreachableError,
)
from sgsend_desktop.core.filenames import FILE_MODE, claim_final_name, open_private, safe_filename
from sgsend_desktop.core.jobs import JobContext, JobSteps
from sgsend_desktop.core.journal import TransferRow
from sgsend_desktop.core.model import TransferState
from sgsend_desktop.core.presigned import RangeAnswer, StorageConnection
from sgsend_desktop.core.units import format_size

log = logging.getLogger(__name__)
RANGE_SIZE = 8 * 1024 * 1024   # one GET; the window holds at most workers × this past the resume point
READ_SIZE = 1024 * 1024        # one socket read into the window (less under a bandwidth limit)
DECRYPT_STEP = 1024 * 1024     # the decryptor takes at most this much of the window at once
READ_BLOCK = 1024 * 1024       # resume: the partial file is read back (and encrypted again) in these
URL_MARGIN = 60.0
STALL_SECONDS = 60.0           # a range that moves less than STALL_MIN_BYTES in this long is stalled
STALL_MIN_BYTES = 64 * 1024
PROGRESS_RESET = 1024 * 1024   # a try that moved a range this far restarts its count of failed tries
SIZE_SLACK = crypto.OVERHEAD + 64 * 1024  # info's size may be the payload's, the envelope's or the content's
_CONTENT_RANGE = re.compile(r"bytes\s+(\d{1,20})-(\d{1,20})/(\d{1,20}|\*)")


# the journal's resume point cleared: the next try starts from byte 0
NO_RESUME: dict[str, object] = {"decrypted_to": 0, "content_written": 0, "synced_to": 0, "synced_content": 0,
                                "resume_boot": None, "envelope_head": None, "payload_tag": None}


def resume_point(row: TransferRow) -> tuple[int, int]:
    """(payload offset, content bytes) a resume of ``row`` may start from: the point journaled without
    fsync when the computer has not restarted since, else the last synced one."""
    if row.resume_boot is not None and row.resume_boot == boot_id():
        return row.decrypted_to, row.content_written
    return row.synced_to, row.synced_content


def check_room(folder: Path, needed: int) -> None:
    """Refuse a download the folder has no room for before a byte is fetched: a full disk found at 27 %
    cost the wait, and the server had counted a download (of a link that allows one, the only one)."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # the first write says why
    if needed > free:
        raise LocalIOError(
            f"Not enough space in {folder}: the file needs {format_size(needed)} more and only "
            f"{format_size(free)} is free. Free some space there and retry, or save it in another folder.")


def partial_path(dest_dir: Path, local_id: str) -> Path:
    """The unverified plaintext being received (hidden; linked under its name once the tag verifies)."""
    return dest_dir / f".sgsend-{local_id}.part"


def plain_path(dest_dir: Path, local_id: str) -> Path:
    """The plaintext temp file of versions before the single-write receive (removed when found)."""
    return dest_dir / f".sgsend-{local_id}.plain"


class _Moved(Exception):
    """A range try failed after moving the range at least PROGRESS_RESET: a new failure, not the same
    one again, so the range's count of tries restarts (a link that drops every few MB still finishes)."""

    def __init__(self, error: TransientError) -> None:
        super().__init__(str(error))
        self.error = error


class _DownloadUrl:
    """The presigned download URL of one receive, shared by its range workers (as ``upload._PartUrls``
    is by an upload's part workers). Kept in the journal with its expiry and download ticket; renewed
    once for all workers when it expires or the store refuses it."""

    def __init__(self, job: DownloadJob, transfer_id: str) -> None:
        self._job = job
        self._ctx = job.ctx
        self._tid = transfer_id
        self._lock = threading.Lock()
        self.url: str | None = None
        self._expires: float | None = None

    def reuse(self, row: TransferRow) -> str | None:
        """The journaled URL while it stays valid for more than URL_MARGIN seconds."""
        left = (row.download_url_expires or 0) - time.time()
        if row.download_url and left > URL_MARGIN:
            log.info("reusing the stored download URL (valid for %.0fs more)", left)
            self.url, self._expires = row.download_url, row.download_url_expires
        return self.url

    def refresh(self, ticket: str) -> str | None:
        """A fresh URL for the grant already counted (download_refresh); None when the ticket is refused."""
        try:
            presigned = self._job._retry(lambda: self._ctx.api.refresh_download_url(self._tid, ticket),
                                         "download-url refresh")
        except AuthError:
            log.info("the server refused the download ticket (too old, or another server's)")
            self._ctx.journal.update(self._job.id, download_ticket=None)
            return None
        except NotFoundError:
            raise NotFoundError("The sender deleted this transfer.", 404) from None
        except GoneError:
            raise GoneError("This transfer has expired; ask the sender to send it again.", 410) from None
        log.info("download URL renewed through download-url/refresh (not counted as another download)")
        return self._store(presigned)

    def new(self) -> str | None:
        """A new download URL (counts a download); None when the server has no download-url route."""
        try:
            presigned = self._job._retry(lambda: self._ctx.api.download_url(self._tid), "download-url")
        except GoneError:
            raise GoneError("This transfer has expired or reached its download limit; "
                            "ask the sender to send it again.", 410) from None
        except NotFoundError:
            log.info("server has no download-url route: using the direct route")
            return None
        return self._store(presigned)

    def live(self) -> str:
        """The current URL, renewed first when it has expired (or is about to)."""
        with self._lock:
            url, expires = self.url, self._expires
        if expires is not None and time.time() >= expires - 1.0:
            self.rejected(url or "", "download URL expired")
        with self._lock:
            assert self.url is not None
            return self.url

    def rejected(self, used: str, why: str = "download URL refused (expired?)") -> None:
        """``used`` failed (403) or expired: renew it, unless another worker already has."""
        with self._lock:
            if self.url != used:
                return  # another worker renewed it meanwhile
            log.info("%s: renewing the download URL", why)
            ticket = self._ctx.journal.get(self._job.id).download_ticket
            fresh = None
            if ticket and self._ctx.api.capabilities().download_refresh:
                fresh = self.refresh(ticket)
                if fresh is None:
                    log.info("asking for a new download URL instead (counts as a download)")
            elif ticket:
                log.info("server has no download_refresh extension: asking for a new download URL "
                         "(counts as a download)")
            else:
                log.info("no download ticket: asking for a new download URL (counts as a download)")
            if fresh is None and self.new() is None:
                raise UrlRejectedError("the download URL expired and the server offers no new one")

    def _store(self, presigned: PresignedUrl) -> str:
        expires = time.time() + presigned.expires_in
        self._ctx.journal.update(self._job.id, download_url=presigned.url, download_url_expires=expires,
                                 download_ticket=presigned.download_ticket)
        self.url, self._expires = presigned.url, expires
        return presigned.url


class _Span:
    """One range in flight: payload bytes [start, end), read into ``slot`` (its part of the window's ring)
    and taken from it in order by the decryptor. The slot is circular: a span longer than it (a store that
    ignored Range sends the whole payload as one) waits for the decryptor to make room."""

    __slots__ = ("consumed", "end", "received", "slot", "start")

    def __init__(self, start: int, end: int, slot: memoryview) -> None:
        self.start = start
        self.end = end
        self.slot = slot
        self.received = 0          # bytes read into the slot (a broken try continues from here)
        self.consumed = 0          # bytes the decryptor has taken

    @property
    def size(self) -> int:
        return self.end - self.start


class _Window:
    """The ranges between the network and the decryptor: a ring of ``slots`` slots of ``range_size``.

    Spans are handed out lowest offsets first, each with slot ``(k mod slots)``, and only while they end
    within ``slots × range_size`` bytes of the durable resume point (so memory, and what a kill -9 loses,
    stays within that, and a slot is free again once its previous span is decrypted and synced); the span
    at the resume point is always allowed. While the payload size is unknown only the first span is
    handed out; its answer tells the size (``set_total``). The decryptor takes the bytes strictly in order.
    """

    def __init__(self, start: int, total: int | None, slots: int, stop: threading.Event,
                 abort: threading.Event, range_size: int = RANGE_SIZE) -> None:
        lock = threading.Lock()
        self._data = threading.Condition(lock)   # the decryptor waits for bytes
        self._room = threading.Condition(lock)   # workers wait for room in the window
        self.total = total
        self.ranged = True
        self.base = start
        self._next = start
        self._durable = start
        self._size = range_size
        self._slots = slots
        self._limit = slots * range_size
        # anonymous memory: pages count (RSS) only once bytes land in them (a bytearray would zero, and so
        # touch, all of it at once), and go back to the system as soon as the download ends
        self._ring = memoryview(mmap.mmap(-1, self._limit))
        self._spans: deque[_Span] = deque()
        self._error: BaseException | None = None
        self._stop, self._abort = stop, abort
        self._full = 0  # workers waiting for the decryptor to free part of their (circular) slot

    def _halted(self) -> bool:
        return self._error is not None or self._stop.is_set() or self._abort.is_set()

    def take(self) -> _Span | None:
        """The next span to fetch, or None when there is none left (or the download stops)."""
        with self._room:
            while not self._halted():
                total = self.total
                if total is not None and (self._next >= total or not self.ranged):
                    return None
                end = self._next + self._size if total is None else min(self._next + self._size, total)
                first = self._next == self.base
                if (total is not None or first) and (end - self._durable <= self._limit
                                                     or self._next == self._durable):
                    index = (self._next - self.base) // self._size % self._slots
                    span = _Span(self._next, end, self._ring[index * self._size:(index + 1) * self._size])
                    self._next = end
                    self._spans.append(span)
                    return span
                self._room.wait(0.25)
            return None

    def set_total(self, total: int, ranged: bool) -> None:
        """The payload size, from the first answer (``ranged``: False when the store ignored Range and
        sends the whole payload in that one answer)."""
        with self._room:
            self.total, self.ranged = total, ranged
            for span in self._spans:
                if span.end > total or not ranged:
                    span.end = total
            self._next = self._spans[-1].end if self._spans else min(self._next, total)
            self._room.notify_all()
            self._data.notify_all()

    def space(self, span: _Span) -> memoryview:
        """Where the span's next bytes go (waits while its slot is full of bytes not yet decrypted)."""
        size = len(span.slot)
        with self._room:
            while span.received - span.consumed >= size:
                if self._halted():
                    raise CancelledError("stopped")
                self._full += 1
                self._room.wait(0.25)
                self._full -= 1
            at = span.received % size
            return span.slot[at:min(size, at + size - (span.received - span.consumed))]

    def filled(self, span: _Span, count: int) -> None:
        with self._data:
            span.received += count
            self._data.notify()

    def next_view(self, most: int) -> tuple[_Span, memoryview]:
        """The next bytes in payload order (at most ``most``), still in the ring: ``release`` them once
        used."""
        with self._data:
            while True:
                if self._error is not None:
                    raise self._error
                span = self._spans[0] if self._spans else None
                if span is not None and span.received > span.consumed:
                    size = len(span.slot)
                    at = span.consumed % size
                    count = min(span.received - span.consumed, size - at, most)
                    return span, span.slot[at:at + count]
                if self._stop.is_set() or self._abort.is_set():
                    raise CancelledError("stopped")
                self._data.wait(0.25)  # the stop flag is an Event, not this condition: poll it

    def release(self, span: _Span, count: int) -> bool:
        """``count`` bytes of ``span`` are decrypted and written; True when that finished the span."""
        with self._room:
            span.consumed += count
            finished = span.consumed >= span.size
            if finished:
                self._spans.popleft()
            if self._full:  # new spans wait for the durable point (durable_to), not for this
                self._room.notify_all()
            return finished

    def durable_to(self, offset: int) -> None:
        with self._room:
            self._durable = max(self._durable, offset)
            self._room.notify_all()

    def fail(self, error: BaseException) -> None:
        """A worker failed for good (the decryptor raises its error) or the syncer did."""
        with self._room:
            if self._error is None:
                self._error = error
            self._room.notify_all()
            self._data.notify_all()


class _ResumePoints:
    """The journal's resume point, kept up with the decryptor.

    At each span's end ``record`` journals the point (payload offset decrypted, content bytes written) with
    this boot's id, and the window may move on: a killed process loses nothing it wrote, since the page
    cache outlives it (and SQLite's write-ahead log too). A syncer thread meanwhile ``fdatasync``s the
    partial file; the point it covered is journaled as synced (with the next point): what a resume after
    a crash or a reboot, when the page cache is gone, starts from. No fsync is ever waited for on the way
    of the bytes, and ``fdatasync`` spreads the writing back to disk over the download.
    """

    def __init__(self, job: DownloadJob, fd: int, window: _Window, start: tuple[int, int]) -> None:
        self._job, self._fd, self._window = job, fd, window
        self._cond = threading.Condition()
        self._wanted: tuple[int, int] | None = None
        self._closing = False
        self.durable = start[0]
        self.synced = start
        self._thread = threading.Thread(target=self._sync, name=f"sync-{job.id}", daemon=True)
        self._thread.start()

    def record(self, offset: int, content: int, extra: dict[str, object] | None = None) -> None:
        """Journal a resume point (``extra``: columns to write with it, e.g. the envelope header once)
        and let the window move on; have it synced in the background."""
        synced_to, synced_content = self.synced
        self._job.ctx.journal.update(self._job.id, decrypted_to=offset, content_written=content,
                                     resume_boot=boot_id(), synced_to=synced_to,
                                     synced_content=synced_content, **(extra or {}))
        self.durable = offset
        self._job.ctx.progress.set_confirmed(offset)
        self._window.durable_to(offset)
        with self._cond:
            self._wanted = (offset, content)
            self._cond.notify()

    def _sync(self) -> None:
        while True:
            with self._cond:
                while self._wanted is None and not self._closing:
                    self._cond.wait()
                if self._wanted is None:
                    return
                point, self._wanted = self._wanted, None
            try:
                os.fdatasync(self._fd)
            except OSError as error:  # a full disk, an I/O error: the download stops with it
                self._window.fail(error)
                return
            self.synced = point

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join()

    def final(self, offset: int, content: int, extra: dict[str, object]) -> None:
        """The job stopped (pause, shutdown, a range that failed for good): sync and journal where it
        stopped, written and synced alike (after ``close``)."""
        os.fdatasync(self._fd)
        self.synced = (offset, content)
        self.record(offset, content, extra)


class _Writer:
    """Writes the decrypted content off the decrypting thread: ``pwrite`` lets go of the GIL while AES-GCM
    holds it, so on two cores the two run side by side. The decryptor decrypts into one of a few reused
    buffers and queues it with its place in the file; the writer writes it, gives the buffer back, and
    only then records the resume point the decryptor asked for (``_ResumePoints.record``): a point is
    never ahead of the bytes on disk."""

    BUFFERS = 3

    def __init__(self, job: DownloadJob, fd: int, points: _ResumePoints, window: _Window,
                 start: tuple[int, int]) -> None:
        self._job, self._fd, self._points, self._window = job, fd, points, window
        self._free: queue.Queue[bytearray] = queue.Queue()
        for _ in range(self.BUFFERS):
            self._free.put(bytearray(DECRYPT_STEP + 16))
        self._queue: queue.Queue[tuple[bytearray | None, bytes | memoryview, int, tuple[int, int],
                                       dict[str, object] | None] | None] = queue.Queue()
        self.written = start  # (payload offset, content bytes): decrypted and written, a resume point
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"write-{job.id}", daemon=True)
        self._thread.start()

    def buffer(self) -> bytearray:
        """A free buffer to decrypt into (waits while all are queued for writing)."""
        while True:
            if self.error is not None:
                raise self.error
            self._job._check()
            try:
                return self._free.get(timeout=0.25)
            except queue.Empty:
                continue

    def put(self, buffer: bytearray | None, content: bytes | memoryview, at: int, point: tuple[int, int],
            record: dict[str, object] | None) -> None:
        """Write ``content`` at ``at`` (then free ``buffer``); the download is then decrypted and written
        up to ``point``, journaled as a resume point when ``record`` (its extra columns) is given."""
        self._queue.put((buffer, content, at, point, record))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            buffer, content, at, point, record = item
            try:
                if self.error is None:
                    if content:
                        _write_all(self._fd, content, at)
                    self.written = point
                    if record is not None:
                        self._points.record(*point, record)
            except BaseException as error:  # a full disk, a journal error: the download stops with it
                self.error = error
                self._window.fail(error)
            finally:
                if buffer is not None:
                    self._free.put(buffer)

    def close(self) -> None:
        """Write what is queued, then stop (again: nothing)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


def boot_id() -> str:
    """This boot of the computer: a resume point journaled without fsync holds only within it.
    Elsewhere than Linux, when the system booted (to 10 s): a mismatch only costs a fetch from the last
    synced point."""
    with contextlib.suppress(OSError):
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    return f"booted-{round((time.time() - time.monotonic()) / 10)}"


class _Stall:
    """Less than STALL_MIN_BYTES in STALL_SECONDS of waiting for the socket is a stall (a server that
    drips a byte every few seconds defeats read timeouts); time spent in the bandwidth limiter is not
    waiting for the socket."""

    def __init__(self) -> None:
        self._since = time.monotonic()
        self._bytes = 0

    def check(self, count: int) -> None:
        self._bytes += count
        now = time.monotonic()
        if now - self._since >= STALL_SECONDS:
            if self._bytes < STALL_MIN_BYTES:
                raise TransientError(f"Downloading the file failed: the storage sent only {self._bytes} "
                                     f"bytes in {now - self._since:.0f} s")
            self._since, self._bytes = now, 0

    def exclude(self, seconds: float) -> None:
        self._since += seconds


class DownloadJob(JobSteps):
    def __init__(self, ctx: JobContext) -> None:
        super().__init__(ctx)
        self._info: TransferInfo | None = None
        self._decryptor: crypto.StreamDecryptor | None = None

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
        with contextlib.suppress(FileNotFoundError):
            plain_path(dest, self.id).unlink()  # an older version's temp file: its .part is started again
        urls = _DownloadUrl(self, row.transfer_id)
        fallback = f"sgsend-{row.transfer_id}.bin"
        # every byte is here (killed while finishing): no new download URL, which would count one more
        # download and could hit max_downloads
        finishing = bool(row.payload_tag and row.payload_size
                         and resume_point(row)[0] == row.payload_size - crypto.TAG_SIZE)
        try:
            if finishing:
                log.info("every byte is on disk: finishing without asking the server again")
                self._state(TransferState.DOWNLOADING)
                saved = self._ranged(row, urls, part_file, key, fallback)
            elif self._url(row, urls) is not None:
                saved = self._ranged(row, urls, part_file, key, fallback)
            else:
                log.info("server offers no presigned download: using the direct route")
                saved = self._direct(row, part_file, key, fallback)
        except IntegrityError as error:
            self._discard_partial(part_file)
            raise IntegrityError(
                "The file could not be decrypted: the key is wrong, or the file was changed on the way. "
                "Nothing was saved.") from error
        except OSError as error:  # full disk, permissions: one sentence (the partial file stays resumable)
            raise LocalIOError(f"Cannot write the download in {dest}: {error.strerror or error}.") from None
        # source_size: the saved file's own size, shown once done (the payload is a few dozen bytes more)
        self._state(TransferState.DONE, saved_path=str(saved), name=saved.name, error=None,
                    source_size=saved.stat().st_size,
                    download_url=None, download_url_expires=None, download_ticket=None, **NO_RESUME)
        return saved

    # helpers ---------------------------------------------------------------------------------------
    def _url(self, row: TransferRow, urls: _DownloadUrl, state: bool = True) -> str | None:
        """The URL to start with (None: the direct route). A stored URL still valid is reused; a
        resumed download whose URL expired renews it through its ticket (its grant was counted already:
        max_downloads may be reached by now, by this very download, so info would say exhausted);
        otherwise info must allow a download, and download-url grants it."""
        assert row.transfer_id is not None
        url = urls.reuse(row)
        caps: Capabilities = self._retry(self.ctx.api.capabilities, "capabilities")
        if url is None and row.download_ticket and caps.download_refresh:
            url = urls.refresh(row.download_ticket)
        if url is None:
            self._info = self._check_info(row.transfer_id)
            declared = self._info.file_size_bytes
            if declared > 0 and not row.payload_size:  # the row shows the size from now on
                self.ctx.journal.update(self.id, options={**row.options, "declared_size": declared})
                self.ctx.progress.reset(declared)
            if row.dest_dir and declared > 0:
                check_room(Path(row.dest_dir), declared - resume_point(row)[1])
        if state:
            self._state(TransferState.DOWNLOADING)
        if url is None and caps.presigned_download:
            url = urls.new()
        return url

    def _discard_partial(self, part_file: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            part_file.unlink()
        self.ctx.journal.set_ranges(self.id, [])
        self.ctx.journal.update(self.id, download_url=None, download_url_expires=None, **NO_RESUME)

    def _check_info(self, transfer_id: str) -> TransferInfo:
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
        return info

    def _size_limit(self) -> int | None:
        """The most bytes the payload may have: what info declares (the payload's, the envelope's or
        the content's size) plus the envelope and the IV and tag. None when the server does not say."""
        if self._info is None:
            row = self.ctx.journal.get(self.id)
            with contextlib.suppress(SendError):
                self._info = self._retry(lambda: self.ctx.api.info(row.transfer_id or ""), "info")
        declared = self._info.file_size_bytes if self._info is not None else 0
        return declared + SIZE_SLACK if declared > 0 else None

    def _check_total(self, total: int) -> None:
        """The payload size a store announces, against the size info declares."""
        if total < crypto.OVERHEAD:
            raise IntegrityError("the encrypted file is truncated (shorter than its IV and tag)")
        limit = self._size_limit()
        if limit is not None and total > limit:
            raise ApiError(f"The storage offers {total} bytes for a transfer the server says has "
                           f"{limit - SIZE_SLACK}: refusing to download it.")

    # the ranged download ---------------------------------------------------------------------------
    def _resume_point(self, row: TransferRow, fd: int, key: bytes) -> crypto.StreamDecryptor | None:
        """The decryptor where the journal says the written plaintext ends (None: start from byte 0)."""
        offset, content = resume_point(row)
        if not (offset and row.payload_size and row.iv and row.envelope_head is not None):
            if self.ctx.journal.ranges(self.id):
                log.info("a partial download from an older version: fetching it again")
                self.ctx.journal.set_ranges(self.id, [])
            return None
        if os.fstat(fd).st_size < content:
            log.warning("the partial file is shorter than the journal says: fetching it again")
            return None
        os.ftruncate(fd, content)  # what was written past the resume point is not trusted
        started = time.monotonic()
        try:
            decryptor = crypto.StreamDecryptor.resume(key, row.payload_size, bytes.fromhex(row.iv),
                                                      bytes.fromhex(row.envelope_head),
                                                      self._read_back(fd, content))
        except (IntegrityError, ValueError) as error:
            log.warning("cannot resume the partial file (%s): fetching it again", error)
            return None
        if decryptor.offset != offset:
            log.warning("the journal's resume point does not fit the partial file: fetching it again")
            return None
        log.info("resuming at byte %d of %d (%d bytes decrypted again from the partial file in %.2f s)",
                 decryptor.offset, row.payload_size, content, time.monotonic() - started)
        return decryptor

    def _read_back(self, fd: int, length: int) -> Iterator[memoryview]:
        buffer = memoryview(bytearray(READ_BLOCK))
        position = 0
        while position < length:
            self._check()
            count = os.preadv(fd, [buffer[:min(READ_BLOCK, length - position)]], position)
            if count <= 0:
                raise IntegrityError("the partial file ended early")
            position += count
            yield buffer[:count]

    def _ranged(self, row: TransferRow, urls: _DownloadUrl, part_file: Path, key: bytes,
                fallback: str) -> Path:
        """Fetch the payload with the part workers into the window while this thread decrypts it."""
        ctx = self.ctx
        fd = open_private(part_file, reuse=True)  # ours (a resumable partial file), or refused
        try:
            decryptor = self._resume_point(row, fd, key)
            if decryptor is None:
                os.ftruncate(fd, 0)
                ctx.journal.update(self.id, **NO_RESUME)
            total = row.payload_size if decryptor is not None else None
            start = decryptor.offset if decryptor is not None else 0
            if total:
                check_room(part_file.parent, total - start)  # a resume (its URL kept, no info asked)
            if decryptor is None and urls.url is None and self._url(row, urls, state=False) is None:
                raise ApiError("The server no longer offers a download URL for this transfer.")
            ctx.progress.reset(total or 0, sent=start, confirmed=start)
            stop = ctx.control.stop
            abort = self.abort = threading.Event()
            window = _Window(start, total, max(1, ctx.workers), stop, abort)
            point = (start, decryptor.content if decryptor else 0)
            points = _ResumePoints(self, fd, window, point)
            writer = _Writer(self, fd, points, window, point)
            tag = bytes.fromhex(row.payload_tag) if decryptor is not None and row.payload_tag else b""
            pool = ThreadPoolExecutor(max(1, ctx.workers), thread_name_prefix=f"range-{self.id}")
            finished = False
            try:
                if len(tag) != crypto.TAG_SIZE:
                    for _ in range(max(1, ctx.workers)):
                        pool.submit(self._worker, window, urls, abort)
                decryptor, tag = self._decrypt(window, decryptor, writer, tag, key)
                writer.close()
                if writer.error is not None:
                    raise writer.error
                finished = True
            finally:
                abort.set()  # no-op when everything finished; else stop the workers at once
                pool.shutdown(wait=True, cancel_futures=True)
                self.abort = None
                writer.close()  # what was decrypted is written (the resume point follows it)
                points.close()
                partial = self._decryptor
                if not finished and partial is not None and partial.head is not None:
                    self._save_resume_point(points, partial, window, writer.written)
            rest = decryptor.finish(tag)
            os.pwrite(fd, rest, decryptor.content - len(rest))
            self._check()
            self._state(TransferState.COMPLETING)
            os.ftruncate(fd, decryptor.content)
            os.fsync(fd)
            os.fchmod(fd, FILE_MODE)  # the fd, not the path: a path may be swapped for a link
            saved = claim_final_name(part_file, part_file.parent, safe_filename(decryptor.filename, fallback))
            part_file.unlink()
            return saved
        finally:
            os.close(fd)

    def _save_resume_point(self, points: _ResumePoints, decryptor: crypto.StreamDecryptor,
                           window: _Window, written: tuple[int, int]) -> None:
        """Stopped (pause, shutdown, a range that failed for good): keep everything decrypted so far."""
        offset, content = written
        if offset > points.durable or points.synced[0] < points.durable:
            try:
                points.final(offset, content, {"iv": bytes(decryptor.iv).hex(),
                                               "envelope_head": (decryptor.head or b"").hex()})
            except (OSError, SendError) as error:
                log.warning("could not save the resume point: %s", error)
        self._reset_progress(window, points.durable)

    def _reset_progress(self, window: _Window, durable: int) -> None:
        # what was in the window past the resume point is gone: the row shows what a resume starts from
        self.ctx.progress.reset(window.total or 0, sent=durable, confirmed=durable)

    def _decrypt(self, window: _Window, decryptor: crypto.StreamDecryptor | None, writer: _Writer,
                 tag: bytes, key: bytes) -> tuple[crypto.StreamDecryptor, bytes]:
        """Take the window's bytes in order: decrypt the body into the writer's buffers (the writer
        writes the content, each byte once), collect the tag; ask for a resume point at each span's end."""
        tag_bytes = bytearray(tag)
        head_saved = named = decryptor is not None
        self._decryptor = decryptor
        while len(tag_bytes) < crypto.TAG_SIZE:
            span, view = window.next_view(DECRYPT_STEP)
            if decryptor is None:
                assert window.total is not None  # the first bytes come after the answer's headers
                decryptor = self._decryptor = crypto.StreamDecryptor(key, window.total)
            body = view[:max(0, decryptor.body_end - decryptor.offset)]
            buffer: bytearray | None = None
            content: bytes | memoryview = b""
            at = decryptor.content
            if body:
                buffer = writer.buffer()
                content = decryptor.feed(body, out=buffer)
            if not named and decryptor.head is not None:
                named = True
                self._show_name(decryptor)
            if len(body) < len(view):
                tag_bytes += view[len(body):]
            finished = window.release(span, len(view))  # decrypted: the slot may take new bytes
            position = span.start + span.consumed
            record: dict[str, object] | None = None
            if (finished or (position - window.base) % RANGE_SIZE == 0) and decryptor.head is not None:
                record = {}
                if not head_saved:
                    record = {"iv": bytes(decryptor.iv).hex(), "envelope_head": decryptor.head.hex()}
                    head_saved = True
                if len(tag_bytes) == crypto.TAG_SIZE:
                    record["payload_tag"] = bytes(tag_bytes).hex()
            writer.put(buffer, content, at, (decryptor.offset, decryptor.content), record)
        if len(tag_bytes) != crypto.TAG_SIZE or decryptor is None:
            raise IntegrityError("the storage sent more bytes than the payload has")
        return decryptor, bytes(tag_bytes)

    def _show_name(self, decryptor: crypto.StreamDecryptor) -> None:
        """The row shows the file's name from the envelope on, not "Incoming file" for the whole download.
        Not verified yet (the tag is at the end), so only shown: the file is saved under it once verified."""
        provisional = safe_filename(decryptor.filename, "")
        if provisional:
            self.ctx.journal.update(self.id, name=provisional)
            self.ctx.changed()

    def _worker(self, window: _Window, urls: _DownloadUrl, abort: threading.Event) -> None:
        connection = StorageConnection(self.ctx.api)
        try:
            while True:
                span = window.take()
                if span is None:
                    return
                try:
                    self._fetch(span, window, urls, abort, connection)
                except BaseException as error:
                    window.fail(error)
                    abort.set()
                    return
        finally:
            connection.close()

    def _fetch(self, span: _Span, window: _Window, urls: _DownloadUrl, abort: threading.Event,
               connection: StorageConnection) -> None:
        """Fetch one span into the window; a try that breaks continues from the last byte received."""
        ctx = self.ctx
        tried = [""]

        def attempt() -> None:
            begun = span.received
            try:
                tried[0] = urls.live()
                offset = span.start + span.received
                with connection.open_range(tried[0], offset, span.end) as answer:
                    skip = self._check_answer(answer, span, offset, window)
                    self._receive(answer, span, window, skip, abort)
                if span.received < span.size:
                    raise TransientError(f"Downloading the file failed: a range ended early "
                                         f"({span.received} of {span.size} bytes)")
            except TransientError as error:
                if span.received - begun >= PROGRESS_RESET and not isinstance(error, UnreachableError):
                    raise _Moved(error) from error
                raise

        def on_retry(number: int, error: TransientError) -> None:
            ctx.journal.update(self.id, attempts=ctx.journal.get(self.id).attempts + 1)
            if isinstance(error, UrlRejectedError):
                urls.rejected(tried[0])

        while True:
            try:
                self._retry(attempt, f"range {span.start}", on_retry, abort)
                return
            except _Moved as moved:  # moved on before it broke: try again at once, from where it stopped
                log.info("range %d broke after moving on (%s); continuing at byte %d", span.start,
                         moved.error, span.start + span.received)
                on_retry(0, moved.error)

    def _check_answer(self, response: RangeAnswer, span: _Span, offset: int, window: _Window) -> int:
        """Check a range answer against what was asked and the payload size; the first one tells the
        size. Returns how many leading bytes to skip (a store that ignores Range sends from byte 0)."""
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if encoding not in ("", "identity"):
            raise ApiError("The storage sent the file compressed although that was not asked for.")
        length = response.headers.get("content-length")
        if response.status_code == 200:  # the store ignored Range: the whole payload from byte 0
            if length is None or not (length.isascii() and length.isdigit()):
                raise ApiError("The storage does not support ranged downloads and sent no size.")
            total = int(length)
            if window.total is None:
                self._found_total(total, window, ranged=False)
            elif total != window.total or window.ranged:
                raise ApiError("The storage does not support ranged downloads.")
            return offset
        if response.status_code != 206:
            raise ApiError(f"The storage answered a ranged download with HTTP {response.status_code}.")
        match = _CONTENT_RANGE.fullmatch(response.headers.get("content-range", "").strip())
        if match is None or match.group(3) == "*":
            raise ApiError("The storage sent a partial answer without its range and total size.")
        first, last, total = int(match.group(1)), int(match.group(2)), int(match.group(3))
        if window.total is None:
            self._found_total(total, window, ranged=True)
        elif total != window.total:
            raise ApiError(f"The storage changed the file's size ({window.total} bytes, now {total}).")
        if first != offset or last != span.end - 1 or (
                length is not None and length.strip() != str(last - first + 1)):
            raise ApiError(f"The storage sent bytes {first}-{last} when {offset}-{span.end - 1} "
                           "were asked for.")
        return 0

    def _found_total(self, total: int, window: _Window, ranged: bool) -> None:
        self._check_total(total)
        window.set_total(total, ranged)
        self.ctx.journal.update(self.id, payload_size=total)
        self.ctx.progress.reset(total, sent=0, confirmed=0)
        self.ctx.changed()

    def _receive(self, answer: RangeAnswer, span: _Span, window: _Window, skip: int,
                 abort: threading.Event) -> None:
        """The answer's body into the span's slot, read by the kernel straight into the window; never
        more than the span asked for (a range that never ends stops there)."""
        ctx = self.ctx
        stall = _Stall()
        step = READ_SIZE if ctx.limiter.rate is None else ctx.limiter.slice_size()
        while skip:  # a store that ignored Range sends from byte 0: drop what we have
            view = window.space(span)
            count = answer.readinto(view[:min(len(view), skip, step)])
            if not count:
                return
            stall.check(count)
            skip -= count
        while span.received < span.size:
            if ctx.control.stop.is_set() or abort.is_set():
                raise CancelledError("stopped")
            view = window.space(span)
            count = answer.readinto(view[:min(len(view), step, span.size - span.received)])
            if not count:
                return  # the answer ended (early: the caller says so)
            stall.check(count)
            if ctx.limiter.rate is not None:
                waited = time.monotonic()
                ctx.limiter.consume(count, ctx.control.stop)
                stall.exclude(time.monotonic() - waited)
            window.filled(span, count)
            ctx.progress.add_sent(count)

    # direct route ------------------------------------------------------------------------------------
    def _direct(self, row: TransferRow, part_file: Path, key: bytes, fallback: str) -> Path:
        """No presigned downloads: the direct route, streamed through the decryptor (not resumable:
        each try counts a download on the server and starts again)."""
        ctx = self.ctx
        tid = row.transfer_id or ""
        limit = self._size_limit()

        def attempt() -> Path:
            ctx.progress.reset(0)
            with ctx.api.download(tid) as response:
                text = response.headers.get("content-length")
                length = int(text) if text is not None and text.isascii() and text.isdigit() else None
                if length is not None:
                    self._check_total(length)
                    ctx.progress.reset(length)
                    ctx.journal.update(self.id, payload_size=length)

                def chunks() -> Iterator[bytes]:
                    received = 0
                    stall = _Stall()
                    for chunk in response.iter_raw():
                        self._check()
                        stall.check(len(chunk))
                        received += len(chunk)
                        if received > (length if length is not None else limit or received):
                            raise ApiError("The server sent more bytes than the transfer has.")
                        ctx.limiter.consume(len(chunk), ctx.control.stop)
                        ctx.progress.add_sent(len(chunk))
                        yield chunk
                    if length is not None and received != length:
                        raise TransientError(f"Downloading the file failed: it ended early "
                                             f"({received} of {length} bytes)")
                    ctx.progress.set_confirmed(received)
                    self._state(TransferState.COMPLETING)

                return crypto.decrypt_chunks_to_dir(chunks(), key, part_file.parent, fallback,
                                                    temp_path=part_file)

        try:
            return self._retry(attempt, "download")
        except PayloadTooLargeError:
            raise PayloadTooLargeError("This file is too big for the server's direct download route, "
                                       "and it offers no download URL.") from None
        except GoneError:
            raise GoneError("This transfer has expired or reached its download limit; "
                            "ask the sender to send it again.", 410) from None


def _write_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    view = memoryview(data)
    while view:
        count = os.pwrite(fd, view, offset)
        view, offset = view[count:], offset + count
