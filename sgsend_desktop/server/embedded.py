"""An in-process server for the CLI and the GUI: disk backend, no token, Lambda limits on."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sgsend_desktop.server.config import ServerConfig
from sgsend_desktop.server.runner import AnnouncingServer, bind_socket, build_server, socket_url

START_TIMEOUT = 15.0


class EmbeddedServer:
    def __init__(self, server: AnnouncingServer, thread: threading.Thread, url: str) -> None:
        self._server = server
        self._thread = thread
        self.url = url

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> EmbeddedServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_embedded_server(data_dir: Path, host: str = "127.0.0.1", port: int = 0) -> EmbeddedServer:
    config = ServerConfig(storage="disk", data_dir=Path(data_dir), lambda_limits=True)
    sock = bind_socket(host, port)
    ready = threading.Event()
    server, app = build_server(config, sock, ready.set)

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
    return EmbeddedServer(server, thread, socket_url(sock))
