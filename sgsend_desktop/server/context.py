"""What every route needs: the config, the store, the notifier, and a few shared checks."""

from __future__ import annotations

import asyncio
import hmac
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from sgsend_desktop.server.config import (
    DEFAULT_MAX_EVENT_STREAMS,
    DEFAULT_MAX_EVENT_STREAMS_PER_TRANSFER,
    ServerConfig,
)
from sgsend_desktop.server.meta import COMPLETED, DELETED, TransferMeta
from sgsend_desktop.server.notifier import ChangeNotifier
from sgsend_desktop.server.slots import StreamSlots
from sgsend_desktop.server.stats import RequestStats
from sgsend_desktop.server.storage.base import PayloadWriter, StoreError, TransferStore
from sgsend_desktop.server.sweeper import Sweeper
from sgsend_desktop.server.tickets import TicketSigner

TOKEN_HEADER = "x-sgraph-access-token"
WRITE_BATCH = 1024 * 1024  # request bytes gathered before one write in a worker thread
R = TypeVar("R")


def _write_all(writer: PayloadWriter, chunks: list[bytes]) -> None:
    for chunk in chunks:
        writer.write(chunk)


async def receive_body(
    request: Request, writer: PayloadWriter, limit: int, too_large: str, status: int = 400
) -> None:
    """Stream the request body into ``writer`` (``status`` ``too_large`` past ``limit`` bytes).

    File writes (and the writer's hashing) run in a worker thread, about 1 MiB at a time: a slow disk
    must not stall the event loop, which serves every other request.
    """
    batch: list[bytes] = []
    pending = 0
    try:
        async for chunk in request.stream():
            if not chunk:
                continue
            batch.append(chunk)
            pending += len(chunk)
            if writer.size + pending > limit:
                raise HTTPException(status_code=status, detail=too_large)
            if pending >= WRITE_BATCH:
                await run_in_threadpool(_write_all, writer, batch)
                batch, pending = [], 0
    except ClientDisconnect:
        # A paused or killed client: an everyday event for a resumable uploader, not a server error.
        raise HTTPException(status_code=400, detail="Client disconnected during the upload") from None
    if batch:
        await run_in_threadpool(_write_all, writer, batch)


@dataclass
class ServerContext:
    config: ServerConfig
    store: TransferStore
    tickets: TicketSigner
    notifier: ChangeNotifier = field(default_factory=ChangeNotifier)
    stats: RequestStats = field(default_factory=RequestStats)
    should_exit: Callable[[], bool] = lambda: False
    streams: StreamSlots = field(
        default_factory=lambda: StreamSlots(DEFAULT_MAX_EVENT_STREAMS, DEFAULT_MAX_EVENT_STREAMS_PER_TRANSFER)
    )
    sweeper: Sweeper | None = None
    _locks: weakref.WeakValueDictionary[str, asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary
    )

    # --- lifetime -------------------------------------------------------------------------------
    def start_background(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called once the server listens (on its event loop): start the abandoned-upload sweep."""
        if self.config.abandoned_after <= 0 or self.sweeper is not None:
            return

        def removed(transfer_id: str) -> None:  # from the sweeper's thread: wake streams on the loop
            if not loop.is_closed():
                loop.call_soon_threadsafe(self.notifier.notify, transfer_id)

        self.sweeper = Sweeper(self.store, self.config.abandoned_after, removed)
        self.sweeper.start()

    def shutdown(self) -> None:
        """Called when the server starts shutting down: stop the sweep, end every event stream now."""
        if self.sweeper is not None:
            self.sweeper.stop()
        self.notifier.close()

    def transfer_lock(self, transfer_id: str) -> asyncio.Lock:
        """Serialises long operations on one transfer within this process (e.g. assembling parts)."""
        lock = self._locks.get(transfer_id)
        if lock is None:
            lock = self._locks[transfer_id] = asyncio.Lock()
        return lock

    # --- requests -------------------------------------------------------------------------------
    def require_token(self, request: Request) -> None:
        expected = self.config.access_token
        if not expected:
            return
        given = request.headers.get(TOKEN_HEADER) or request.query_params.get("access_token") or ""
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(status_code=401, detail="Access token required")

    def base_url(self, request: Request) -> str:
        if self.config.public_url:
            return self.config.public_url.rstrip("/")
        return str(request.base_url).rstrip("/")

    async def call(self, function: Callable[..., R], *args: Any) -> R:
        """Run a blocking store call in a worker thread; StoreError becomes its HTTP status."""
        try:
            return await run_in_threadpool(function, *args)
        except StoreError as error:
            raise HTTPException(status_code=error.status, detail=error.detail) from None

    async def load(self, transfer_id: str) -> TransferMeta:
        meta = await self.call(self.store.load, transfer_id)
        if meta is None:
            raise HTTPException(status_code=404, detail="Transfer not found")
        if meta.purge_due():
            meta = await self.purge(transfer_id)
        return meta

    async def purge(self, transfer_id: str) -> TransferMeta:
        """auto_delete: wipe the payload once its last download URL has expired."""

        def mark(meta: TransferMeta) -> None:
            meta.payload_purged = True
            meta.add_log("auto_delete")

        await self.call(self.store.delete_payload, transfer_id)
        meta, _ = await self.call(self.store.update, transfer_id, mark)
        return meta

    async def update(self, transfer_id: str, change: Callable[[TransferMeta], R]) -> tuple[TransferMeta, R]:
        result = await self.call(self.store.update, transfer_id, change)
        self.notifier.notify(transfer_id)
        return result

    async def record_payload(
        self, transfer_id: str, change: Callable[[TransferMeta], R]
    ) -> tuple[TransferMeta, R]:
        """Record a payload just written (``change`` refuses a transfer no longer pending). When that
        fails because the transfer was deleted (or removed) meanwhile, the payload goes too: a delete racing
        an upload leaves nothing behind, whichever finishes first (the delete marks first, then removes)."""
        try:
            return await self.update(transfer_id, change)
        except HTTPException:
            current = await self.call(self.store.load, transfer_id)
            if current is None or current.status == DELETED:
                await self.call(self.store.delete_payload, transfer_id)
            raise


def check_downloadable(meta: TransferMeta, not_completed_status: int) -> None:
    """The gate of every download path: deleted → 404, expired/exhausted → 410, not completed → 404/409."""
    if meta.status == DELETED or meta.payload_purged:
        raise HTTPException(status_code=404, detail="Transfer not found or deleted")
    if meta.is_expired():
        raise HTTPException(status_code=410, detail="Transfer expired")
    if meta.is_exhausted:
        raise HTTPException(status_code=410, detail="Download limit reached")
    if meta.status != COMPLETED:
        raise HTTPException(status_code=not_completed_status, detail="Transfer not completed")


def count_download(
    meta: TransferMeta, not_completed_status: int, ip_hash: str, via: str, grace: float
) -> None:
    """Check the gate again inside the atomic update, then count; auto_delete schedules the wipe."""
    check_downloadable(meta, not_completed_status)
    meta.download_count += 1
    meta.add_log("download", via=via, ip_hash=ip_hash)
    if meta.auto_delete and meta.is_exhausted:
        meta.purge_after = time.time() + grace
