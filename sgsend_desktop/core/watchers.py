"""The recipients' downloads of finished sends, out of ``core/engine.py``: event streams and one poller.

After a send, while the engine runs, it learns the recipients' downloads (``downloaded`` events, the
``events`` extension). The newest MAX_WATCHERS finished sends each hold an SSE stream (on the API's events
client, never the transfer client); an older one loses its stream and joins the (at most MAX_POLLED) sends
whose counts one poller thread (``sgsend-download-poller``) reads with ``info`` every POLL_DOWNLOADS_EVERY
seconds. At start the finished sends of earlier runs (their streams ended with the process that made them)
are followed the same way: the newest MAX_WATCHERS get a stream again, the older ones are polled. Counts
are kept in the journal (``options.download_count``), so a relaunch shows them at once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import TYPE_CHECKING

from sgsend_desktop.core.api import origin_of
from sgsend_desktop.core.errors import ApiError, SendError
from sgsend_desktop.core.events import EventListener, ServerEvent
from sgsend_desktop.core.journal import TransferRow
from sgsend_desktop.core.model import Direction, TransferState

if TYPE_CHECKING:
    from sgsend_desktop.core.engine import TransferEngine

log = logging.getLogger(__name__)
MAX_WATCHERS = 8      # finished sends listened to for downloads over SSE (the newest)
POLL_DOWNLOADS_EVERY = 60.0  # seconds: download counts of finished sends beyond MAX_WATCHERS...
MAX_POLLED = 64              # ...of at most this many (the most recently finished)
FIRST_POLL_AFTER = 2.0       # seconds after the poller starts


def saved_download_count(row: TransferRow) -> int:
    """The recipients' downloads last seen for a send (kept in the journal across relaunches)."""
    count = row.options.get("download_count")
    return count if isinstance(count, int) else 0


class DownloadWatchers:
    def __init__(self, engine: TransferEngine) -> None:
        self._engine = engine
        self._lock = threading.RLock()
        self.counts: dict[str, int] = {}
        self._watchers: dict[str, EventListener] = {}  # oldest first
        self._polled: dict[str, tuple[str, str]] = {}   # local id → (server, transfer id), oldest first
        self._poller: threading.Thread | None = None
        self._stopping = threading.Event()

    def count(self, row: TransferRow) -> int:
        return self.counts.get(row.id, saved_download_count(row))

    def watch(self, row: TransferRow) -> bool:
        """A send just finished: listen to its downloads, evicting the oldest stream beyond MAX_WATCHERS
        (that send's count is polled from then on). False when no stream was started (the server has no
        events extension, or the engine is closing)."""
        engine = self._engine
        api = engine._api(engine.server_for(row))
        transfer_id = row.transfer_id
        if not transfer_id or not api.capabilities().events or self._stopping.is_set() or engine._closed:
            return False
        local_id = row.id

        def on_event(event: ServerEvent) -> None:
            count = event.data.get("download_count")
            if isinstance(count, int):
                self.note(local_id, count, event.type == "downloaded")

        url, gates = api.events_url(transfer_id), engine._gates
        watcher = EventListener(api.events_http, url, on_event,
                                on_open=lambda: gates.probe_now(origin_of(url)))
        evicted: list[EventListener] = []
        with self._lock:
            if self._stopping.is_set():
                return False
            self._polled.pop(local_id, None)
            for other_id, other in list(self._watchers.items()):
                if not other.alive:  # ended by itself: deleted, expired or unknown on the server
                    del self._watchers[other_id]
            while len(self._watchers) >= MAX_WATCHERS:
                oldest_id = next(iter(self._watchers))
                evicted.append(self._watchers.pop(oldest_id))
                try:
                    oldest = engine.journal.get(oldest_id)
                except SendError:
                    continue  # discarded meanwhile
                if oldest.transfer_id:
                    self._polled[oldest_id] = (engine.server_for(oldest), oldest.transfer_id)
            while len(self._polled) > MAX_POLLED:
                del self._polled[next(iter(self._polled))]
            self._start_poller()
            self._watchers[local_id] = watcher.start()
        for old in evicted:
            old.stop(timeout=0.2)
        return True

    def forget(self, local_id: str) -> None:
        """The transfer was discarded: no stream, no polling for it any more."""
        with self._lock:
            watcher = self._watchers.pop(local_id, None)
            self._polled.pop(local_id, None)
        if watcher is not None:
            watcher.stop(timeout=0.5)

    def note(self, local_id: str, count: int, downloaded: bool) -> None:
        engine = self._engine
        previous = self.counts.get(local_id)
        if previous is None:
            try:
                previous = saved_download_count(engine.journal.get(local_id))
            except SendError:
                return  # discarded meanwhile
        if count == previous:
            return
        self.counts[local_id] = count
        with contextlib.suppress(SendError):  # kept, so a relaunch does not say "not downloaded yet"
            options = engine.journal.get(local_id).options
            engine.journal.update(local_id, options={**options, "download_count": count})
        engine._emit("downloaded" if downloaded and count > previous else "changed", local_id,
                     {"download_count": count})

    def poll_earlier_sends(self) -> None:
        """At start: the finished sends of earlier runs (their event streams ended with the process that
        made them). The newest MAX_WATCHERS get a stream again — a download an hour after a relaunch is
        told at once, as it is for a send of this run — and the older ones (MAX_POLLED at most) are polled.
        The streams are opened on a thread of their own: start() never waits for the network."""
        engine = self._engine
        sends = [row for row in engine.journal.all()
                 if row.direction is Direction.SEND and row.state is TransferState.DONE and row.transfer_id
                 and not row.options.get("deleted_remote")]
        newest_first = sorted(sends, key=lambda r: r.updated_at, reverse=True)
        streamed, polled = newest_first[:MAX_WATCHERS], newest_first[MAX_WATCHERS:MAX_WATCHERS + MAX_POLLED]
        with self._lock:
            for row in reversed(polled):  # oldest first, as _polled keeps them
                self._polled[row.id] = (engine.server_for(row), str(row.transfer_id))
            self._start_poller()
        if streamed:
            threading.Thread(target=self._stream_again, args=(list(reversed(streamed)),),
                             name="sgsend-download-streams", daemon=True).start()

    def _stream_again(self, rows: list[TransferRow]) -> None:
        """Streams for ``rows`` (oldest first); a send whose stream cannot start is polled instead."""
        for row in rows:
            if self._stopping.is_set():
                return
            try:
                started = self.watch(row)
            except Exception as error:  # unreachable, or a server that fails: the poller tries later
                log.debug("no download stream for %s: %s", row.id, error)
                started = False
            if not started and not self._stopping.is_set():
                with self._lock:
                    self._polled[row.id] = (self._engine.server_for(row), str(row.transfer_id))
                    self._start_poller()

    def _start_poller(self) -> None:
        if self._polled and self._poller is None:
            self._poller = threading.Thread(target=self._poll, name="sgsend-download-poller", daemon=True)
            self._poller.start()

    def stop(self) -> None:
        """The engine is closing: no new stream, and the poller stops at its next step."""
        self._stopping.set()

    def close(self, timeout: float = 1.0) -> None:
        """Stop every stream (all at once, then wait for them together) and the poller."""
        self._stopping.set()
        with self._lock:
            watchers = list(self._watchers.values())
            self._watchers.clear()
            self._polled.clear()
        for watcher in watchers:
            watcher.stop(timeout=0)
        deadline = time.monotonic() + timeout
        for watcher in watchers:
            watcher.join(max(0.0, deadline - time.monotonic()))
        if self._poller is not None:
            self._poller.join(max(0.1, deadline - time.monotonic()))

    def _poll(self) -> None:
        """The poller thread: download counts of finished sends that lost their stream (see above)."""
        engine = self._engine
        delay = FIRST_POLL_AFTER  # the first round soon: counts of earlier runs are shown at start
        while not self._stopping.wait(delay):
            delay = POLL_DOWNLOADS_EVERY
            with self._lock:
                polled = list(self._polled.items())
            for local_id, (server_url, transfer_id) in reversed(polled):  # newest first
                if self._stopping.is_set():
                    return
                try:
                    info = engine._api(server_url).info(transfer_id)
                except ApiError as error:  # deleted, expired, unknown...: nothing more to learn
                    log.info("no more download counts for %s: %s", local_id, error)
                    info = None
                except SendError as error:  # unreachable for now: next round
                    log.debug("download count of %s: %s", local_id, error)
                    continue
                except Exception:
                    if self._stopping.is_set():
                        return
                    log.exception("polling the download count of %s failed", local_id)
                    continue
                if info is None or info.is_expired or info.status in ("deleted", "exhausted"):
                    with self._lock:
                        self._polled.pop(local_id, None)
                if info is not None:
                    self.note(local_id, info.download_count, downloaded=True)
