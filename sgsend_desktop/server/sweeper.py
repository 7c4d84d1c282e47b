"""The abandoned-upload sweep: what a sender started and never finished is removed once idle.

Every ``interval`` (a quarter of ``--abandoned-after``, between 0.5 s and an hour) a background thread:

1. removes every *pending* transfer (created, maybe uploaded or part-uploaded, never completed) whose
   last activity — creation, the last change to its record, the newest part — is older than
   ``--abandoned-after``: its multipart upload is aborted and its payload, parts and record removed;
2. aborts every multipart upload older than that which is not the current upload of a pending transfer
   (a crash between S3's CreateMultipartUpload and the record, an abort that failed);
3. on disk, removes crash leftovers older than that (temp files, directories without a record);
4. wipes the payload of every completed transfer nobody can fetch any more: expired, once the last
   download URL handed out before the expiry has run out too (``--url-expiry`` later), or auto_delete
   past its ``purge_after`` (set at the last download: this process's request handler tells the sweep,
   ``expect_wipe``; a restarted process reads it from the record; any request touching the transfer
   after that time wipes it as well). The record stays
   (marked ``payload_purged``), so ``info`` still says it expired rather than "not found". A user who
   picks "expires in 1 day" expects the file gone from the server then, not kept as dead weight forever.

A transfer is first claimed with an atomic record update (pending → deleted, "abandoned" in its log) that
checks it is still pending and idle, so a sender who completes it at that moment wins: the sweep then
leaves it alone. Several processes on one bucket may sweep at once; every step is idempotent.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sgsend_desktop.server.meta import COMPLETED, DELETED, PENDING, TransferMeta
from sgsend_desktop.server.storage.base import StoreError, TransferStore

log = logging.getLogger("sgsend.server")
MIN_INTERVAL = 0.5
MAX_INTERVAL = 3600.0
FIRST_SWEEP_AFTER = 5.0  # seconds after start-up (at most; sooner with a shorter interval)


@dataclass
class SweepResult:
    transfers: int = 0
    uploads: int = 0
    leftovers: int = 0
    wiped: int = 0


def _timestamp(text: object) -> float:
    try:
        return datetime.fromisoformat(str(text)).timestamp()
    except (ValueError, OverflowError):
        return 0.0


def record_activity(meta: TransferMeta) -> float:
    """The newest time in the record: its creation or its last logged change (the log is in order)."""
    times = [_timestamp(meta.created_at)]
    if meta.log:
        times.append(_timestamp(meta.log[-1].get("timestamp")))
    return max(times)


class Sweeper:
    def __init__(
        self,
        store: TransferStore,
        max_age: float,
        on_removed: Callable[[str], None] = lambda _: None,
        url_expiry: float = 3600.0,
    ) -> None:
        self.store = store
        self.max_age = max_age
        self.url_expiry = url_expiry
        self._wipe_at: dict[str, float] = {}  # completed transfers with a payload to wipe later: when
        self.interval = min(MAX_INTERVAL, max(MIN_INTERVAL, max_age / 4))
        self.on_removed = on_removed
        self._settled: set[str] = set()  # completed or deleted: never pending again, never re-read
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the background thread ------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sgsend-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        delay = min(self.interval, FIRST_SWEEP_AFTER)
        while not self._stop.wait(delay):
            try:
                result = self.sweep()
            except Exception as error:  # a store hiccup: one line, and try again next time
                log.warning("abandoned-upload sweep failed: %s", error)
            else:
                if result.transfers or result.uploads or result.leftovers or result.wiped:
                    log.info("swept %d abandoned transfer(s), %d stray upload(s), %d leftover file(s), "
                             "%d expired payload(s)",
                             result.transfers, result.uploads, result.leftovers, result.wiped)
            delay = self.interval

    # --- one sweep ------------------------------------------------------------------------------------
    def sweep(self, now: float | None = None) -> SweepResult:
        now = time.time() if now is None else now
        cutoff = now - self.max_age
        result = SweepResult()
        for transfer_id in list(self.store.transfer_ids()):
            if self._stop.is_set():
                return result
            known = transfer_id in self._settled or transfer_id in self._wipe_at
            if not known and self._sweep_transfer(transfer_id, cutoff):
                result.transfers += 1
            due = self._wipe_at.get(transfer_id)
            if due is not None and due <= now and self._wipe(transfer_id, now):
                result.wiped += 1
        for transfer_id, upload_id, changed in self.store.multipart_uploads():
            if changed >= cutoff or self._stop.is_set():
                continue
            try:
                meta = self.store.load(transfer_id)
            except (ValueError, TypeError):
                continue
            if meta is not None and meta.status == PENDING and meta.upload_id == upload_id:
                continue  # the transfer's own upload: step 1 decides by the transfer's activity
            with contextlib.suppress(StoreError):
                self.store.abort_multipart(transfer_id, upload_id)
                result.uploads += 1
        result.leftovers = self.store.remove_leftovers(cutoff)
        return result

    def _sweep_transfer(self, transfer_id: str, cutoff: float) -> bool:
        try:
            meta = self.store.load(transfer_id)
        except (ValueError, TypeError):  # an unreadable record: not ours to judge, and not a reason to stop
            self._settled.add(transfer_id)
            return False
        if meta is None:
            return False
        if meta.status != PENDING:
            wipes = meta.status == COMPLETED and not meta.payload_purged
            due = meta.wipe_at(self.url_expiry) if wipes else None
            if due is None:
                self._settled.add(transfer_id)
            else:
                self._wipe_at[transfer_id] = due
            return False
        if record_activity(meta) >= cutoff or self._newest_part(meta) >= cutoff:
            return False
        seen = record_activity(meta)

        def claim(current: TransferMeta) -> str:
            if current.status != PENDING or record_activity(current) != seen:
                raise StoreError(409, "The transfer changed: not abandoned")
            upload_id = current.upload_id
            current.status = DELETED
            current.upload_id = ""
            current.add_log("abandoned")
            return upload_id

        try:
            _, upload_id = self.store.update(transfer_id, claim)
        except StoreError:
            return False
        self.on_removed(transfer_id)  # event streams end with `deleted`
        if upload_id:
            with contextlib.suppress(StoreError):
                self.store.abort_multipart(transfer_id, upload_id)
        self.store.remove_transfer(transfer_id)
        self.on_removed(transfer_id)
        return True

    def expect_wipe(self, transfer_id: str, due: float) -> None:
        """A request just gave a completed transfer a wipe time (auto_delete's last download): the sweep,
        which had settled it, wipes it once ``due`` has passed. Called from the request handlers' threads:
        single dict/set operations, atomic under the GIL, as the sweep's own."""
        self._settled.discard(transfer_id)
        self._wipe_at[transfer_id] = due

    def _wipe(self, transfer_id: str, now: float) -> bool:
        """Remove the payload of a transfer nobody can fetch any more (step 4); the record stays."""
        self._wipe_at.pop(transfer_id, None)
        self._settled.add(transfer_id)  # wiped, deleted or changed: never looked at again
        try:
            meta = self.store.load(transfer_id)
        except (ValueError, TypeError):
            return False
        if meta is None or meta.status != COMPLETED or meta.payload_purged:
            return False
        due = meta.wipe_at(self.url_expiry)
        if due is None or due > now:  # the record says otherwise now: look again when it is due
            self._settled.discard(transfer_id)
            if due is not None:
                self._wipe_at[transfer_id] = due
            return False
        # payload first, then the mark: a wipe cut short is done again by the next sweep
        self.store.delete_payload(transfer_id)

        def mark(current: TransferMeta) -> None:
            if not current.payload_purged:
                current.payload_purged = True
                current.add_log("expired_wipe" if current.is_expired() else "auto_delete")

        try:
            self.store.update(transfer_id, mark)
        except StoreError:
            return False
        self.on_removed(transfer_id)
        return True

    def _newest_part(self, meta: TransferMeta) -> float:
        if not meta.upload_id:
            return 0.0
        try:
            parts = self.store.list_parts(meta.transfer_id, meta.upload_id)
        except StoreError:
            return 0.0
        return max((part.last_modified for part in parts), default=0.0)
