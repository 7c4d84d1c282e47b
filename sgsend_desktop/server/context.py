"""What every route needs: the config, the store, the notifier, and a few shared checks."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import HTTPException, Request
from starlette.requests import ClientDisconnect

from sgsend_desktop.server.config import (
    DEFAULT_MAX_EVENT_STREAMS,
    DEFAULT_MAX_EVENT_STREAMS_PER_TRANSFER,
    ServerConfig,
)
from sgsend_desktop.server.meta import COMPLETED, DELETED, PENDING, TransferMeta
from sgsend_desktop.server.notifier import ChangeNotifier
from sgsend_desktop.server.slots import StreamSlots
from sgsend_desktop.server.stats import RequestStats
from sgsend_desktop.server.storage.base import PayloadWriter, StoreError, TransferStore
from sgsend_desktop.server.sweeper import Sweeper
from sgsend_desktop.server.tickets import TicketSigner
from sgsend_desktop.server.timing import in_thread
from sgsend_desktop.server.tokens import AccessToken, TokenBook, TokenUsage, status_of

log = logging.getLogger("sgsend.server")
TOKEN_HEADER = "x-sgraph-access-token"
WRITE_BATCH = 1024 * 1024  # request bytes gathered before one write in a worker thread
R = TypeVar("R")


def _write_all(writer: PayloadWriter, chunks: list[bytes]) -> None:
    for chunk in chunks:
        writer.write(chunk)


async def receive_body(
    request: Request, writer: PayloadWriter, limit: int, too_large: str, status: int = 400,
    rest: AsyncIterator[bytes] | None = None,
) -> None:
    """Stream the request body into ``writer`` (``status`` ``too_large`` past ``limit`` bytes); ``rest``:
    the body's stream when its first chunks were read already (and written to ``writer``).

    File writes (and the writer's hashing) run in a worker thread, about 1 MiB at a time: a slow disk
    must not stall the event loop, which serves every other request.
    """
    batch: list[bytes] = []
    pending = 0
    try:
        async for chunk in rest if rest is not None else request.stream():
            if not chunk:
                continue
            batch.append(chunk)
            pending += len(chunk)
            if writer.size + pending > limit:
                raise HTTPException(status_code=status, detail=too_large)
            if pending >= WRITE_BATCH:
                await in_thread(_write_all, writer, batch)
                batch, pending = [], 0
    except ClientDisconnect:
        # A paused or killed client: an everyday event for a resumable uploader, not a server error.
        raise HTTPException(status_code=400, detail="Client disconnected during the upload") from None
    if batch:
        await in_thread(_write_all, writer, batch)


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
    tokens: TokenBook = field(default_factory=TokenBook)
    usage: TokenUsage = field(init=False)
    _locks: weakref.WeakValueDictionary[str, asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary
    )

    def __post_init__(self) -> None:
        self.usage = TokenUsage(self.store)

    # --- lifetime -------------------------------------------------------------------------------
    def start_background(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called once the server listens (on its event loop): start the abandoned-upload sweep."""
        if self.config.abandoned_after <= 0 or self.sweeper is not None:
            return

        def removed(transfer_id: str) -> None:  # from the sweeper's thread: wake streams on the loop
            if not loop.is_closed():
                loop.call_soon_threadsafe(self.notifier.notify, transfer_id)

        self.sweeper = Sweeper(self.store, self.config.abandoned_after, removed,
                               url_expiry=self.config.url_expiry)
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
    def require_token(self, request: Request) -> AccessToken | None:
        """The access token of a write route (header, or ``?access_token=`` as upstream's MCP tools send
        it); None when the server needs none. 401 with upstream's words: "Access token required" (none, or
        a wrong one with only ``--access-token``), "Invalid access token" (unknown to the token file),
        "Access token revoked". Usage limits are checked where uses are counted (``check_uses``)."""
        if not self.tokens.configured:
            return None
        given = request.headers.get(TOKEN_HEADER) or request.query_params.get("access_token") or ""
        if not given:
            raise HTTPException(status_code=401, detail="Access token required")
        token = self.tokens.find(given)
        if token is None:
            detail = "Invalid access token" if self.tokens.has_file else "Access token required"
            raise HTTPException(status_code=401, detail=detail)
        if token.revoked:
            raise HTTPException(status_code=401, detail="Access token revoked")
        return token

    async def check_uses(self, token: AccessToken | None) -> None:
        """401 "Access token exhausted" when a limited token has no use left (``create``: stop early)."""
        if token is None or token.uses is None:
            return
        used = await self.token_call(self.usage.used, token)
        if status_of(token, used) == "exhausted":
            raise HTTPException(status_code=401, detail="Access token exhausted")

    async def use_token(self, token: AccessToken | None, transfer_id: str) -> None:
        """Count one use of a limited token for this transfer (``complete``; once per transfer)."""
        if token is not None and token.uses is not None:
            await self.token_call(self.usage.use, token, transfer_id)

    async def token_call(self, function: Callable[..., R], *args: Any) -> R:
        """A usage-record call; a store failure is upstream's 503, not a 500."""
        try:
            return await self.call(function, *args)
        except (ClientError, BotoCoreError, OSError, ValueError) as error:
            log.warning("token usage record: %s", error)
            raise HTTPException(status_code=503, detail="Token validation service unavailable") from None

    def base_url(self, request: Request) -> str:
        if self.config.public_url:
            return self.config.public_url.rstrip("/")
        return str(request.base_url).rstrip("/")

    async def call(self, function: Callable[..., R], *args: Any) -> R:
        """Run a blocking store call in a worker thread; StoreError becomes its HTTP status."""
        try:
            return await in_thread(function, *args)
        except StoreError as error:
            raise HTTPException(status_code=error.status, detail=error.detail) from None

    async def load(self, transfer_id: str) -> TransferMeta:
        meta = await self.call(self.store.load, transfer_id)
        if meta is None:
            raise HTTPException(status_code=404, detail="Transfer not found")
        if meta.purge_due():
            meta = await self.purge(transfer_id)
        return meta

    async def load_pending(self, transfer_id: str, recorded: bool = False) -> TransferMeta:
        """As ``load`` for a route that then updates a pending record: the version this process wrote a
        moment ago when it is still pending (``recorded``: and holds a payload size this process recorded),
        else the store's. One read fewer for a client whose requests stay on this process; the update's
        conditional write catches a version changed meanwhile (TransferStore.recent)."""
        meta = self.store.recent(transfer_id)
        usable = meta is not None and meta.status == PENDING and (
            not recorded or (meta.payload_size is not None and not meta.payload_put_url))
        return meta if usable and meta is not None else await self.load(transfer_id)

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
        meta = result[0]
        if self.sweeper is not None and meta.purge_after is not None and not meta.payload_purged:
            due = meta.wipe_at(self.config.url_expiry)  # auto_delete's last download: wipe it then
            if due is not None:
                self.sweeper.expect_wipe(transfer_id, due)
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


def check_downloadable(meta: TransferMeta, not_completed_status: int, already_counted: bool = False) -> None:
    """The gate of every download path: deleted → 404, expired/exhausted → 410, not completed → 404/409.
    ``already_counted``: a grant counted earlier (its download may be the one that exhausted the limit)."""
    if meta.status == DELETED:
        raise HTTPException(status_code=404, detail="Transfer not found or deleted")
    if meta.is_expired():  # before the wipe's 404: an expired transfer says so, wiped or not (sweeper.py)
        raise HTTPException(status_code=410, detail="Transfer expired")
    if meta.payload_purged:
        raise HTTPException(status_code=404, detail="Transfer not found or deleted")
    if meta.is_exhausted and not already_counted:
        raise HTTPException(status_code=410, detail="Download limit reached")
    if meta.status != COMPLETED:
        raise HTTPException(status_code=not_completed_status, detail="Transfer not completed")


GRANTS_KEPT = 32


def count_download(
    meta: TransferMeta, not_completed_status: int, ip_hash: str, via: str, grace: float,
    grant: str | None = None,
) -> None:
    """Check the gate again inside the atomic update, then count; auto_delete schedules the wipe.

    ``grant`` (hashed): a retried download-url whose first answer was lost, known from the last ``grace``
    seconds, is answered again without counting (the transfer must still exist and not be expired)."""
    now = time.time()
    meta.grants = {g: t for g, t in meta.grants.items() if now - t < grace}
    if grant is not None and grant in meta.grants:
        check_downloadable(meta, not_completed_status, already_counted=True)
        meta.add_log("download_regranted", via=via, ip_hash=ip_hash)
        return
    check_downloadable(meta, not_completed_status)
    if grant is not None:
        meta.grants[grant] = now
        while len(meta.grants) > GRANTS_KEPT:
            del meta.grants[next(iter(meta.grants))]
    meta.download_count += 1
    meta.add_log("download", via=via, ip_hash=ip_hash)
    if meta.auto_delete and meta.is_exhausted:
        meta.purge_after = time.time() + grace
