"""One running app per user and data dir: a second launch hands its link over and exits.

The QLocalServer name is derived from the user name and the data dir, so separate data dirs (tests,
portable setups) never talk to each other.
"""

from __future__ import annotations

import getpass
import hashlib
import json
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

TIMEOUT_MS = 2000


def server_name(data_dir: Path) -> str:
    try:
        user = getpass.getuser()
    except Exception:  # pragma: no cover - no user name at all
        user = "user"
    digest = hashlib.sha256(f"{user}\0{data_dir.resolve()}".encode()).hexdigest()[:16]
    return f"sgsend-desktop-{digest}"


def forward_to_running(data_dir: Path, links: list[str]) -> bool:
    """True when another instance is running (it got ``links`` and will show itself)."""
    socket = QLocalSocket()
    socket.connectToServer(server_name(data_dir))
    if not socket.waitForConnected(TIMEOUT_MS):
        return False
    socket.write(json.dumps({"links": links}).encode() + b"\n")
    socket.flush()
    socket.waitForBytesWritten(TIMEOUT_MS)
    socket.waitForReadyRead(TIMEOUT_MS)  # the ack: the first instance has it
    socket.disconnectFromServer()
    return True


def _answers(name: str) -> bool:
    probe = QLocalSocket()
    probe.connectToServer(name)
    alive = probe.waitForConnected(500)
    probe.abort()
    return alive


class SingleInstanceServer(QObject):
    """Listens for later launches; emits ``activated`` with the links they were given."""

    activated = Signal(list)

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = server_name(data_dir)
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)
        self._buffers: dict[QLocalSocket, bytes] = {}

    @property
    def is_listening(self) -> bool:
        return self._server.isListening()

    def listen(self) -> bool:
        """False when another instance already listens (e.g. two launches at once): its socket is kept."""
        if self._server.isListening():
            return True
        # Qt's listen() with socket options replaces an existing socket file (it renames a new one
        # over it), so ask first: a live instance that started just before us keeps its socket.
        if _answers(self.name):
            return False
        if self._server.listen(self.name):
            return True
        # A stale socket file from a crashed instance (nobody accepts connections on it).
        QLocalServer.removeServer(self.name)
        return self._server.listen(self.name)

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            self._buffers[socket] = b""
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(lambda s=socket: self._drop(s))

    def _read(self, socket: QLocalSocket) -> None:
        data = self._buffers.get(socket, b"") + bytes(socket.readAll().data())
        if b"\n" not in data:
            self._buffers[socket] = data[:65536]
            return
        line = data.split(b"\n", 1)[0]
        self._buffers[socket] = b""
        try:
            message = json.loads(line)
            links = [str(link) for link in message.get("links", []) if isinstance(link, str)]
        except (ValueError, AttributeError):
            links = []
        socket.write(b"ok\n")
        socket.flush()
        self.activated.emit(links)

    def _drop(self, socket: QLocalSocket) -> None:
        self._buffers.pop(socket, None)
        socket.deleteLater()
