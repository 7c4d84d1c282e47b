"""Run the app with uvicorn on a socket we bind ourselves (so `--port 0` can report the real port)."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import sys
from collections.abc import Callable
from types import FrameType

import uvicorn
from fastapi import FastAPI

from sgsend_desktop.server.app import create_app
from sgsend_desktop.server.config import ServerConfig
from sgsend_desktop.server.fdlimit import (
    QuietAcceptErrors,
    accept_batch,
    gated_protocol,
    max_connections,
    quiet_concurrency_warnings,
    raise_fd_limit,
)
from sgsend_desktop.server.tokens import read_token_file

# what the upstream web UI's access gate lets a user enter (it lower-cases, then checks this)
WEB_UI_TOKEN = re.compile(r"[a-z0-9_-]+")
KEEP_ALIVE_SECONDS = 20  # idle connections kept open (uvicorn: 5 s); see build_server


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: accepted sockets inherit it, and asyncio sets TCP_NODELAY on a transport's
    # socket only when ``sock.proto == IPPROTO_TCP``. Without it Nagle holds back the tail of every answer
    # written in two pieces (headers, then body) until the client's delayed ACK: ~40 ms per request on a
    # kept-alive connection (bench/server_load.py: p50 58 ms for `info`, 8 ms with it).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def socket_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class AnnouncingServer(uvicorn.Server):
    """A uvicorn server that calls ``on_ready`` once it is accepting connections.

    ``on_start(loop)`` runs then too (background work: the abandoned-upload sweep), and ``on_shutdown()``
    as soon as shutting down begins (ends event streams, so a graceful shutdown is quick)."""

    def __init__(
        self,
        config: uvicorn.Config,
        on_ready: Callable[[], None],
        on_start: Callable[[asyncio.AbstractEventLoop], None] | None = None,
        on_shutdown: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(config)
        self._on_ready = on_ready
        self._on_start = on_start
        self._on_shutdown = on_shutdown

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """SIGINT/SIGTERM: shut down gracefully and exit 0 (uvicorn would re-raise the signal)."""
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(QuietAcceptErrors())  # EMFILE on accept: one line, not a traceback
        await super().startup(sockets)
        if not self.should_exit:
            if self._on_start is not None:
                self._on_start(loop)
            self._on_ready()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._on_shutdown is not None:
            self._on_shutdown()
        await super().shutdown(sockets)


def build_server(
    config: ServerConfig, sock: socket.socket, on_ready: Callable[[], None], log_level: str = "warning",
    fast: bool = True,
) -> tuple[AnnouncingServer, FastAPI]:
    """``fast``: uvloop and httptools when installed (the ``server`` extra: ~25 % less CPU per request,
    ~30 % more requests/s under load, bench/server_load.py); the embedded server of the desktop app
    passes False and always runs on asyncio and h11, the same with or without the extra."""
    holder: list[AnnouncingServer] = []
    raise_fd_limit()  # the login default is often 1024 (macOS: 256); also for the embedded server
    connections = max_connections(config.max_connections)
    batch = accept_batch(connections)
    app = create_app(config, should_exit=lambda: bool(holder and holder[0].should_exit))
    uv_config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        # no console (a windowed app: sys.stdout is None): uvicorn would ask sys.stdout.isatty()
        use_colors=None if sys.stdout is not None else False,
        timeout_graceful_shutdown=5,
        # idle keep-alive connections outlive the clients' own idle limit (httpx and most clients: 5 s, as
        # uvicorn's default): otherwise a request sent just as the server closes the idle connection fails
        # with a reset (one create in 5000 in bench/server_load.py --think-ms 2000)
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        lifespan="off",
        proxy_headers=False,
        # beyond this many connections a request gets a quick 503 and its connection is closed: held
        # connections stay well within the open-file limit (fdlimit.py)
        limit_concurrency=connections,
        backlog=batch,  # also how many connections asyncio accepts per loop tick
        http=gated_protocol(connections + batch, fast),
        loop="auto" if fast else "asyncio",
    )
    quiet_concurrency_warnings()
    ctx = app.state.ctx
    server = AnnouncingServer(uv_config, on_ready, on_start=ctx.start_background, on_shutdown=ctx.shutdown)
    holder.append(server)
    return server, app


def serve(config: ServerConfig, host: str, port: int, log_level: str = "warning") -> int:
    """Blocking: serve until SIGINT/SIGTERM. Prints `Serving on http://HOST:PORT` when ready."""
    if config.access_token and not WEB_UI_TOKEN.fullmatch(config.access_token):
        print("sgsend serve: warning: the SGraph Send web UI lower-cases access tokens and accepts only "
              "a-z, 0-9, '_' and '-': web UI users cannot send with this token", file=sys.stderr, flush=True)
    if config.tokens_file is not None:
        odd = [t.name for t in read_token_file(config.tokens_file) if not WEB_UI_TOKEN.fullmatch(t.token)]
        if odd:
            names = ", ".join(odd[:10])
            print("sgsend serve: warning: the SGraph Send web UI lower-cases access tokens and accepts only "
                  f"a-z, 0-9, '_' and '-': web UI users cannot send with the token(s) of {names}",
                  file=sys.stderr, flush=True)
    sock = bind_socket(host, port)
    url = socket_url(sock)

    def announce() -> None:
        print(f"Serving on {url}", flush=True)

    server, app = build_server(config, sock, announce, log_level)
    try:
        server.run(sockets=[sock])
    finally:
        app.state.ctx.store.close()
        sock.close()
    sys.stdout.flush()
    return 0
