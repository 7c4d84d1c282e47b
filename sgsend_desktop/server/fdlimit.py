"""Open files: how many connections one process may hold, and what happens when the limit is near.

Every connection is a file descriptor, and so is every file a request opens (a part being written, the
payload being read, meta.json). A process that runs out (EMFILE) fails in random places: asyncio cannot
accept, a request cannot open its meta.json (a 500). So:

- ``sgsend serve`` raises its soft RLIMIT_NOFILE towards the hard limit (``raise_fd_limit``);
- uvicorn's ``limit_concurrency`` is set well below what the limit allows (``max_connections``): beyond it
  a request gets a quick 503 and its connection is closed;
- asyncio accepts at most ``accept_batch`` connections per loop tick (uvicorn's ``backlog``), and a
  connection accepted while more than ``max_connections + accept_batch`` are open is reset at once
  (``gated_protocol``: idle connections that never send a request cannot pile up either);
- should the limit be reached anyway, asyncio stops accepting for a second and retries;
  ``QuietAcceptErrors`` logs that as one warning line instead of a traceback, and a request that cannot
  open a file is a 503 (``is_out_of_files``), not a 500.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from typing import Any

log = logging.getLogger("sgsend.server")

FD_TARGET = 65_536  # what raise_fd_limit asks for (when the hard limit allows)
FD_RESERVE = 64  # descriptors kept for the process itself (listening socket, epoll, logs, S3 pool, ...)
MAX_CONNECTIONS_CAP = 4096  # the automatic connection limit never goes above this
MIN_CONNECTIONS = 16
OUT_OF_FILES = frozenset({errno.EMFILE, errno.ENFILE})
_RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
WARN_EVERY = 10.0  # seconds between two "out of file descriptors" warnings


def soft_fd_limit() -> int | None:
    """The soft RLIMIT_NOFILE, or None where there is none (Windows) or it is unlimited."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def raise_fd_limit(target: int = FD_TARGET) -> int | None:
    """Raise the soft open-file limit towards ``target`` (never above the hard limit); returns the new soft
    limit. Python leaves it at the login default (often 1024; 256 on macOS)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for wanted in (target, 10_240, 4096):  # macOS refuses more than OPEN_MAX (10240) even when hard is ∞
        want = wanted if hard == resource.RLIM_INFINITY else min(int(hard), wanted)
        if soft == resource.RLIM_INFINITY or soft >= want:
            break
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            break
        except (ValueError, OSError) as error:
            log.debug("could not raise the open-file limit to %s: %s", want, error)
    return soft_fd_limit()


def max_connections(configured: int | None) -> int:
    """The connection limit (uvicorn's ``limit_concurrency``): the configured one, else a third of what the
    open-file limit leaves after the reserve (a connection may hold a file too, and connections being
    accepted or refused hold one for a moment), at most 4096."""
    if configured:
        return configured
    soft = soft_fd_limit()
    if soft is None:
        return MAX_CONNECTIONS_CAP
    return max(MIN_CONNECTIONS, min(MAX_CONNECTIONS_CAP, (soft - FD_RESERVE) // 3))


def accept_batch(connections: int) -> int:
    """How many connections asyncio accepts per loop tick (and the listen backlog)."""
    return max(16, min(2048, connections // 4))


def gated_protocol(limit: int, fast: bool = True) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, resetting a new connection while more than ``limit`` are open: httptools'
    parser when installed and ``fast`` (the ``server`` extra), else h11's."""
    if fast:  # importing uvicorn's "auto" module imports httptools when it is there
        from uvicorn.protocols.http.auto import AutoHTTPProtocol as base
    else:
        from uvicorn.protocols.http.h11_impl import H11Protocol as base

    class GatedProtocol(base):  # type: ignore[misc, valid-type]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            if len(self.connections) > limit:
                transport.abort()  # type: ignore[attr-defined]

    return GatedProtocol


def is_out_of_files(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in OUT_OF_FILES


class QuietAcceptErrors:
    """A loop exception handler: asyncio's "socket.accept() out of system resource" (it pauses accepting
    for a second by itself) becomes one warning line every few seconds; everything else is passed on."""

    def __init__(self) -> None:
        self._last_warning = 0.0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if isinstance(error, OSError) and error.errno in _RESOURCE_ERRORS and "accept" in str(
            context.get("message", "")
        ):
            now = time.monotonic()
            if now - self._last_warning >= WARN_EVERY:
                self._last_warning = now
                log.warning("out of file descriptors (%s): new connections wait a moment", error.strerror)
            return
        loop.default_exception_handler(context)


class OncePerInterval(logging.Filter):
    """Lets a log message containing ``text`` through at most once every ``every`` seconds (uvicorn warns
    "Exceeded concurrency limit." once per refused request: a flood would flood the log too)."""

    def __init__(self, text: str, every: float = WARN_EVERY) -> None:
        super().__init__()
        self.text = text
        self.every = every
        self._last = -every

    def filter(self, record: logging.LogRecord) -> bool:
        if self.text not in record.getMessage():
            return True
        now = time.monotonic()
        if now - self._last < self.every:
            return False
        self._last = now
        return True


def quiet_concurrency_warnings() -> None:
    """Install ``OncePerInterval`` on uvicorn's logger (once per process)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, OncePerInterval) for f in logger.filters):
        logger.addFilter(OncePerInterval("Exceeded concurrency limit"))

