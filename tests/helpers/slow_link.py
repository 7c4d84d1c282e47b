"""A TCP relay on 127.0.0.1 that holds every piece sent towards ``upstream`` for ``delay`` seconds: a store
that is ``delay`` away (each small request arrives that much later). Bytes pass unchanged, so SigV4
signatures made for the relay's address still verify upstream.

    with SlowLink("127.0.0.1", seaweed_port, delay=0.15) as link:
        start_server(..., extra_args=["--s3-endpoint", link.url])
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType

PIECE = 64 * 1024


class SlowLink:
    def __init__(self, host: str, port: int, delay: float) -> None:
        self._upstream = (host, port)
        self.delay = delay
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="slow-link", daemon=True)

    def __enter__(self) -> SlowLink:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._closing.set()
        self._listener.close()
        self._thread.join(5)

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._upstream)
            threading.Thread(target=self._pump, args=(client, upstream, self.delay), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, 0.0), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket, delay: float) -> None:
        with contextlib.suppress(OSError):
            while piece := source.recv(PIECE):
                if delay:
                    time.sleep(delay)
                target.sendall(piece)
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
