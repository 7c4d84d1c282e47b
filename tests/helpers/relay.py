"""A listener on 127.0.0.1 that hands every accepted connection to ``serve`` in a thread of its own: the
common part of the test relays (drop_proxy.DropProxy, slow_link.SlowLink)."""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Self


class LoopbackRelay:
    name = "relay"

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._accept, name=self.name, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._closing.set()
        self._listener.close()
        self._thread.join(5)

    def serve(self, client: socket.socket) -> None:
        raise NotImplementedError

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(client,), daemon=True).start()
