"""`Server-Timing` on every HTTP answer: how much of a request's time went to the store.

An operator whose API is slow needs to know whether the server or its store is the cause (issue 10: under
load the store's own writes took 20× their quiet time while the server waited on them). Each answer
carries, per the W3C Server Timing header (shown by browsers' developer tools, read by `bench/`):

* ``store;dur=`` — milliseconds spent inside blocking store calls (S3 requests, file I/O), and
  ``store;desc=N`` — how many there were;
* ``wait;dur=`` — milliseconds those calls waited for a free worker thread;
* ``app;dur=`` — milliseconds from the request's arrival to its answer's headers.

For a streamed answer (a download, the event stream) the figures stop at the headers. Nothing about a
transfer's content is in them: the server only ever holds ciphertext, and these are durations.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

R = TypeVar("R")


class RequestClock:
    """Store time of one request, added to by the worker threads that run its store calls."""

    __slots__ = ("calls", "started", "store", "wait")

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.store = 0.0
        self.wait = 0.0
        self.calls = 0

    def header(self) -> bytes:
        app_ms = (time.perf_counter() - self.started) * 1000
        calls = f"{self.calls} call" + ("" if self.calls == 1 else "s")
        return (f'store;dur={self.store * 1000:.1f};desc="{calls}", '
                f"wait;dur={self.wait * 1000:.1f}, app;dur={app_ms:.1f}").encode()


_clock: ContextVar[RequestClock | None] = ContextVar("sgsend_request_clock", default=None)


async def in_thread(function: Callable[..., R], *args: Any) -> R:
    """Run a blocking store call in a worker thread, its time counted to the current request."""
    clock = _clock.get()
    if clock is None:  # the sweeper, start-up: no request to count it to
        return await run_in_threadpool(function, *args)
    dispatched = time.perf_counter()

    def timed() -> R:
        began = time.perf_counter()
        try:
            return function(*args)
        finally:
            ended = time.perf_counter()
            clock.wait += began - dispatched
            clock.store += ended - began
            clock.calls += 1

    return await run_in_threadpool(timed)


class ServerTiming:
    """ASGI middleware: a clock per HTTP request, its figures added to the answer's headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        clock = RequestClock()
        token = _clock.set(clock)

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), (b"server-timing", clock.header())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            _clock.reset(token)
