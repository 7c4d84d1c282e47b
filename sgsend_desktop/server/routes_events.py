"""Extension: `GET /api/transfers/events/{id}`, Server-Sent Events derived from stored state.

See events.py for the id scheme. The stream re-reads the store every ``poll_interval`` seconds (backing
off up to ``idle_poll_interval`` while a finished transfer is idle; at once when this process changes
the transfer), sends `: keep-alive` comments, ends after `deleted` or `expired`, and ends when the
server shuts down.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse

from sgsend_desktop.server.context import ServerContext
from sgsend_desktop.server.events import Event, EventState
from sgsend_desktop.server.meta import PENDING
from sgsend_desktop.server.storage.base import StoredPart, StoreError
from sgsend_desktop.server.validation import check_transfer_id


def parse_last_event_id(value: str | None) -> int | None:
    text = (value or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 12:  # "²".isdigit(), but int() fails
        return None
    return int(text)


def build_router(ctx: ServerContext) -> APIRouter:
    router = APIRouter(prefix="/api/transfers")

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

    async def stream(transfer_id: str, state: EventState, last_id: int | None) -> AsyncIterator[str]:
        snapshot = state.snapshot(last_id)
        yield snapshot.encode()
        sent = snapshot.id
        emitted = {number for number, _ in state.parts[: max(0, sent - state.offset)]}
        last_write = time.monotonic()
        interval = ctx.config.poll_interval
        while True:
            for event in relabel(state.events_between(sent, state.version), state, emitted):
                yield event.encode()
                sent = event.id
                last_write = time.monotonic()
            if state.terminal is not None or ctx.should_exit():
                return
            woken, waited = False, 0.0
            while not woken and waited < interval:  # short waits: shutdown is never held up
                woken = await ctx.notifier.wait(transfer_id, ctx.config.poll_interval)
                waited += ctx.config.poll_interval
                if ctx.should_exit():
                    return
                if time.monotonic() - last_write >= ctx.config.keepalive:
                    yield ": keep-alive\n\n"
                    last_write = time.monotonic()
            previous = state.version
            try:
                fresh = await ctx.call(read_state, transfer_id)
            except HTTPException:
                fresh = None
            except Exception:
                fresh = state
            if fresh is None:
                return
            state = fresh
            # Live upload progress needs the fast rate; a finished transfer only changes when someone
            # downloads it (this process wakes us at once; another process on the bucket is seen within
            # idle_poll_interval), so an idle stream does not re-read the store twice a second forever.
            if woken or state.version != previous or not state.completed:
                interval = ctx.config.poll_interval
            else:
                interval = min(interval * 2, max(ctx.config.poll_interval, ctx.config.idle_poll_interval))
            if time.monotonic() - last_write >= ctx.config.keepalive:
                yield ": keep-alive\n\n"
                last_write = time.monotonic()

    @router.get("/events/{transfer_id}")
    async def events(transfer_id: str, request: Request) -> StreamingResponse:
        check_transfer_id(transfer_id)
        state = await ctx.call(read_state, transfer_id)
        if state is None:
            raise HTTPException(status_code=404, detail="Transfer not found")
        last_id = parse_last_event_id(request.headers.get("last-event-id"))
        return StreamingResponse(
            stream(transfer_id, state, last_id),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

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
