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

from tests.helpers.relay import LoopbackRelay

PIECE = 64 * 1024


class SlowLink(LoopbackRelay):
    name = "slow-link"

    def __init__(self, host: str, port: int, delay: float) -> None:
        self._upstream = (host, port)
        self.delay = delay
        super().__init__()

    def serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self._upstream)
        except OSError:
            client.close()
            return
        threading.Thread(target=self._pump, args=(upstream, client, 0.0), daemon=True).start()
        self._pump(client, upstream, self.delay)

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
