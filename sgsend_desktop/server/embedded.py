"""An in-process server for the CLI and the GUI: disk backend, Lambda limits on.

``start_embedded_server(dir)`` runs it on a port chosen by the OS (tests, the self-test).
``start_stable_server(dir)`` is the local server of the desktop client: it keeps its port in
``dir/port`` so links of this computer's sends stay the same across launches, and holds
``dir/running.lock`` while it runs, so a second process of the same data dir joins it
(``ServerAlreadyRunning``) instead of taking another port.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sgsend_desktop.server.config import EMBEDDED_ABANDONED_AFTER, ServerConfig
from sgsend_desktop.server.runner import AnnouncingServer, bind_socket, build_server, socket_url

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no joining, a taken port just falls back
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)
START_TIMEOUT = 15.0
PORT_FILE = "port"  # the local server's port, one number (written once chosen, kept across launches)
RUNNING_FILE = "running.json"  # {"pid", "url", "protected"} of the process serving this dir right now
LOCK_FILE = "running.lock"  # flock-ed by that process for as long as it serves
PORT_RANGE = (47400, 47999)  # where a first launch picks its port (random: data dirs do not collide)


class ServerAlreadyRunning(Exception):
    """Another process (or another server of this process) serves this data dir: use ``url``."""

    def __init__(self, url: str, protected: bool = False) -> None:
        super().__init__(f"the local server already runs at {url}")
        self.url = url
        self.protected = protected  # it requires an access token for uploads


class EmbeddedServer:
    def __init__(self, server: AnnouncingServer, thread: threading.Thread, url: str,
                 moved_from: int | None = None, on_stop: Callable[[], None] | None = None) -> None:
        self._server = server
        self._thread = thread
        self.url = url
        self.port = int(url.rsplit(":", 1)[1])
        self.moved_from = moved_from  # the stored port, when another program held it
        self._on_stop = on_stop

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        on_stop, self._on_stop = self._on_stop, None
        if on_stop is not None:
            on_stop()

    def __enter__(self) -> EmbeddedServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _run(config: ServerConfig, sock: socket.socket) -> tuple[AnnouncingServer, threading.Thread]:
    ready = threading.Event()
    server, app = build_server(config, sock, ready.set, fast=False)  # one user: asyncio and h11 suffice

    def run() -> None:
        try:
            server.run(sockets=[sock])
        finally:
            app.state.ctx.store.close()
            sock.close()

    thread = threading.Thread(target=run, name="sgsend-embedded-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not ready.wait(0.05):
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("The embedded sgsend server did not start")
    return server, thread


def _config(data_dir: Path, access_token: str | None,
            abandoned_after: float = EMBEDDED_ABANDONED_AFTER) -> ServerConfig:
    # Sends the user paused stay resumable for 30 days (not `sgsend serve`'s 24 h): the disk is the user's
    # own, and a laptop closed over a holiday is no abandoned upload. Beyond that, a resumed send starts
    # again by itself (core/upload.py).
    return ServerConfig(storage="disk", data_dir=Path(data_dir), lambda_limits=True,
                        access_token=access_token, abandoned_after=abandoned_after)


def start_embedded_server(data_dir: Path, host: str = "127.0.0.1", port: int = 0, *,
                          access_token: str | None = None,
                          abandoned_after: float = EMBEDDED_ABANDONED_AFTER) -> EmbeddedServer:
    """A server on ``host:port`` (0: any free port). ``access_token``: required for uploads;
    ``abandoned_after``: seconds before a pending transfer left idle is swept (0 = never)."""
    sock = bind_socket(host, port)
    server, thread = _run(_config(data_dir, access_token, abandoned_after), sock)
    return EmbeddedServer(server, thread, socket_url(sock))


# the stable local server ------------------------------------------------------------------------------
def stored_port(data_dir: Path) -> int | None:
    try:
        port = int((Path(data_dir) / PORT_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    return port if 0 < port < 65536 else None


def _store_port(data_dir: Path, port: int) -> None:
    path = Path(data_dir) / PORT_FILE
    temp = path.with_name(PORT_FILE + ".tmp")
    temp.write_text(f"{port}\n")
    os.replace(temp, path)


def running_server(data_dir: Path) -> ServerAlreadyRunning | None:
    """What serves ``data_dir`` right now according to its running file (check the lock first)."""
    try:
        info = json.loads((Path(data_dir) / RUNNING_FILE).read_text())
        return ServerAlreadyRunning(str(info["url"]), bool(info.get("protected")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _lock(data_dir: Path) -> int | None:
    """Take the dir's running lock; None when fcntl is missing. Raises BlockingIOError when held."""
    if fcntl is None:  # pragma: no cover - Windows
        return None
    fd = os.open(Path(data_dir) / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _bind_stable(host: str, data_dir: Path) -> tuple[socket.socket, int | None]:
    """Bind the stored port; else (taken, or none stored yet) another one. Returns (socket, moved_from)."""
    port = stored_port(data_dir)
    if port is not None:
        try:
            return bind_socket(host, port), None
        except OSError as error:
            if error.errno not in (errno.EADDRINUSE, errno.EACCES):
                raise
            log.warning("the local server's port %s is taken by another program; choosing another", port)
    candidates = [*random.sample(range(PORT_RANGE[0], PORT_RANGE[1] + 1), 8), 0]
    for candidate in candidates:
        try:
            return bind_socket(host, candidate), port
        except OSError as error:
            if candidate == 0 or error.errno not in (errno.EADDRINUSE, errno.EACCES):
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def start_stable_server(data_dir: Path, host: str = "127.0.0.1", *,
                        access_token: str | None = None) -> EmbeddedServer:
    """The local server of a data dir on its kept port (see the module docstring).

    Raises ``ServerAlreadyRunning`` when another server serves ``data_dir`` at the moment. When the kept
    port is taken by another program, a free one is chosen and kept instead (``moved_from`` says so).
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = _lock(data_dir)
    except BlockingIOError:
        deadline = time.monotonic() + START_TIMEOUT  # its owner may still be starting
        while (running := running_server(data_dir)) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if running is None:
            raise RuntimeError("Another process holds the local server's lock but serves nothing") from None
        raise running from None

    def unlock() -> None:
        with contextlib.suppress(FileNotFoundError):
            (data_dir / RUNNING_FILE).unlink()
        if fd is not None:
            os.close(fd)  # drops the lock

    try:
        with contextlib.suppress(FileNotFoundError):
            (data_dir / RUNNING_FILE).unlink()  # a crashed owner's: joiners wait for ours
        sock, moved_from = _bind_stable(host, data_dir)
        try:
            server, thread = _run(_config(data_dir, access_token), sock)
        except BaseException:
            sock.close()
            raise
        url = socket_url(sock)
        port = int(url.rsplit(":", 1)[1])
        if port != stored_port(data_dir):
            _store_port(data_dir, port)
        info = {"pid": os.getpid(), "url": url, "protected": bool(access_token)}
        (data_dir / RUNNING_FILE).write_text(json.dumps(info))
    except BaseException:
        unlock()
        raise
    return EmbeddedServer(server, thread, url, moved_from=moved_from, on_stop=unlock)
