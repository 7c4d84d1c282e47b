"""Extension: `GET /api/transfers/events/{id}`, Server-Sent Events derived from stored state.

See events.py for the id scheme. Streams are bounded (slots.py: per transfer and per process, 429/503
with Retry-After beyond) and cheap while idle:

- on a store only this process changes (disk), a stream sleeps until this process changes the transfer
  (the notifier wakes it), the transfer's expiry, or a keep-alive is due: no polling;
- on a shared store (S3: other processes, and parts PUT straight to the bucket) it re-reads the store every
  ``poll_interval`` seconds, backing off while nothing changes (up to 4 × ``poll_interval`` while an upload
  is pending, ``idle_poll_interval`` once it is finished).

A stream sends `: keep-alive` comments, ends after `deleted` or `expired`, when the transfer is removed,
and at once when the server shuts down (the notifier is closed).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from sgsend_desktop.server.context import ServerContext
from sgsend_desktop.server.events import Event, EventState
from sgsend_desktop.server.meta import PENDING
from sgsend_desktop.server.storage.base import StoredPart, StoreError
from sgsend_desktop.server.validation import check_transfer_id

LOCAL_RECHECK = 300.0  # disk: re-read the store this often anyway (every change wakes the stream)
PENDING_BACKOFF = 4  # shared store, upload pending: polling backs off up to this × poll_interval


def parse_last_event_id(value: str | None) -> int | None:
    text = (value or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 12:  # "²".isdigit(), but int() fails
        return None
    return int(text)


class EventStreamResponse(StreamingResponse):
    """Gives the stream's slot back however the response ends (finished, client gone, cancelled)."""

    def __init__(self, content: AsyncIterator[str], release: Callable[[], None]) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


def build_router(ctx: ServerContext) -> APIRouter:
    router = APIRouter(prefix="/api/transfers")
    config = ctx.config

    def read_state(transfer_id: str) -> EventState | None:
        meta = ctx.store.load(transfer_id)
        if meta is None:
            return None
        live: list[StoredPart] | None = None
        if meta.status == PENDING and meta.upload_id and not meta.parts_log:
            try:
                live = ctx.store.list_parts(transfer_id, meta.upload_id)
            except StoreError:
                live = None
        return EventState.from_store(meta, live)

    def next_interval(interval: float, state: EventState, changed: bool) -> float:
        if not ctx.store.shared:
            return LOCAL_RECHECK
        if changed:
            return config.poll_interval
        ceiling = config.idle_poll_interval if state.completed else PENDING_BACKOFF * config.poll_interval
        return min(interval * 2, max(config.poll_interval, ceiling))

    async def stream(transfer_id: str, state: EventState, last_id: int | None) -> AsyncIterator[str]:
        snapshot = state.snapshot(last_id)
        yield snapshot.encode()
        sent = snapshot.id
        emitted = {number for number, _ in state.parts[: max(0, sent - state.offset)]}
        last_write = time.monotonic()
        interval = next_interval(config.poll_interval, state, True)
        next_read = time.monotonic() + interval
        while True:
            for event in relabel(state.events_between(sent, state.version), state, emitted):
                yield event.encode()
                sent = event.id
                last_write = time.monotonic()
            if state.terminal is not None or ctx.should_exit() or ctx.notifier.closed:
                return
            now = time.monotonic()
            wake = min(next_read, last_write + config.keepalive)
            if state.expires_at is not None:
                wake = min(wake, now + max(0.0, state.expires_at - time.time()) + 0.05)
            woken = await ctx.notifier.wait(transfer_id, max(0.0, wake - now))
            if ctx.should_exit() or ctx.notifier.closed:
                return
            now = time.monotonic()
            expired = state.expires_at is not None and time.time() >= state.expires_at
            if woken or expired or now >= next_read:
                previous = state.version
                try:
                    fresh = await ctx.call(read_state, transfer_id)
                except HTTPException:
                    fresh = None
                except Exception:
                    fresh = state
                if fresh is None:
                    return  # removed
                state = fresh
                interval = next_interval(interval, state, woken or state.version != previous)
                next_read = time.monotonic() + interval
            if time.monotonic() - last_write >= config.keepalive:
                yield ": keep-alive\n\n"
                last_write = time.monotonic()

    @router.get("/events/{transfer_id}")
    async def events(transfer_id: str, request: Request) -> StreamingResponse:
        check_transfer_id(transfer_id)
        ctx.streams.acquire(transfer_id)  # 429/503 before any store read: refusing is cheap
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                ctx.streams.release(transfer_id)

        try:
            state = await ctx.call(read_state, transfer_id)
            if state is None:
                raise HTTPException(status_code=404, detail="Transfer not found")
            last_id = parse_last_event_id(request.headers.get("last-event-id"))
            return EventStreamResponse(stream(transfer_id, state, last_id), release)
        except BaseException:
            release()
            raise

    return router


def relabel(events: list[Event], state: EventState, emitted: set[int]) -> list[Event]:
    """Live part events name parts not yet announced on this connection.

    The arrival order read from the store can shift when two parts share a timestamp; the count (and
    the id) is always right, and this keeps each part number announced once per connection.
    """
    out: list[Event] = []
    for event in events:
        if event.type == "part":
            number = int(event.data["part_number"])
            if number in emitted:
                fresh = next(((n, s) for n, s in state.parts if n not in emitted), None)
                if fresh is not None:
                    number = fresh[0]
                    event = Event(event.id, "part", {**event.data, "part_number": fresh[0], "size": fresh[1]})
            emitted.add(number)
        out.append(event)
    return out
