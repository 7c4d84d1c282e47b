"""A small HTTP/1.1 proxy on 127.0.0.1 in front of a real `sgsend serve` that counts the body bytes of every
answer and can cut each connection after it has carried ``drop_every`` bytes towards the client (a link
that drops every few MB). A test instrument for issue 10, shared by tests/reliability and the bench.

    with DropProxy(server.url, drop_every=6_000_000) as proxy:
        engine.receive(link_through(proxy.url), ...)
        proxy.body_bytes("GET", "/storage/")   # ranged GETs of the payload: what the storage sent
        proxy.drops                            # connections cut

The disk backend signs presigned URLs for the request's Host, so ranged GETs come back through the proxy.
Answers are forwarded as they come (Content-Length bodies byte-counted exactly; chunked or unframed ones,
e.g. event streams, until the server closes). A cut is a clean close (FIN) of both sides mid-body: every
byte sent before it reached the client.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections import Counter
from urllib.parse import urlsplit

from tests.helpers.relay import LoopbackRelay

HEAD_LIMIT = 64 * 1024
PUMP = 64 * 1024


class _Cut(Exception):
    pass


class DropProxy(LoopbackRelay):
    name = "drop-proxy"

    def __init__(self, upstream: str, drop_every: int | None = None) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.drop_every = drop_every
        self.drops = 0
        self.requests: list[tuple[str, str, str]] = []  # (method, target, range header)
        self._bodies: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        super().__init__()

    def body_bytes(self, method: str, prefix: str) -> int:
        """Body bytes answered to requests ``method`` whose path starts with ``prefix``."""
        with self._lock:
            return sum(n for (m, path), n in self._bodies.items() if m == method and path.startswith(prefix))

    # plumbing -------------------------------------------------------------------------------------
    def serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self._upstream, timeout=120)
        except OSError:
            client.close()
            return
        client.settimeout(120)
        carried = [0]  # bytes towards the client on this connection
        pending = bytearray()
        answer = bytearray()
        try:
            while True:
                head = _read_head(client, pending)
                if head is None:
                    return
                method, target, headers = _parse_request(head)
                with self._lock:
                    self.requests.append((method, target, headers.get("range", "")))
                upstream.sendall(head)
                _pump_exact(client, upstream, pending, int(headers.get("content-length", "0") or 0))
                response = _read_head(upstream, answer)
                if response is None:
                    return
                self._send(client, response, carried)
                status, rheaders = _parse_response(response)
                path = target.split("?", 1)[0]
                if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
                    continue
                length = rheaders.get("content-length")
                if length is not None and "chunked" not in rheaders.get("transfer-encoding", ""):
                    self._body(upstream, client, answer, int(length), method, path, carried)
                else:  # chunked or until close: forward until the server closes
                    self._body(upstream, client, answer, None, method, path, carried)
                    return
        except (_Cut, OSError):
            return
        finally:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _send(self, client: socket.socket, data: bytes | bytearray | memoryview, carried: list[int]) -> None:
        view = memoryview(data)
        if self.drop_every is not None and carried[0] + len(view) >= self.drop_every:
            keep = max(0, self.drop_every - carried[0])
            client.sendall(view[:keep])
            carried[0] += keep
            with self._lock:
                self.drops += 1
            raise _Cut(keep)
        client.sendall(view)
        carried[0] += len(view)

    def _body(self, upstream: socket.socket, client: socket.socket, buffered: bytearray, length: int | None,
              method: str, path: str, carried: list[int]) -> None:
        left = length
        while left is None or left > 0:
            if buffered:
                take = len(buffered) if left is None else min(len(buffered), left)
                piece = bytes(buffered[:take])
                del buffered[:take]
            else:
                piece = upstream.recv(PUMP if left is None else min(PUMP, left))
                if not piece:
                    return
            sent_before = carried[0]
            try:
                self._send(client, piece, carried)
            finally:
                with self._lock:
                    self._bodies[(method, path)] += carried[0] - sent_before
            if left is not None:
                left -= len(piece)


def _read_head(sock: socket.socket, buffered: bytearray) -> bytes | None:
    while b"\r\n\r\n" not in buffered:
        if len(buffered) > HEAD_LIMIT:
            raise OSError("head too large")
        chunk = sock.recv(PUMP)
        if not chunk:
            return None
        buffered += chunk
    end = buffered.index(b"\r\n\r\n") + 4
    head = bytes(buffered[:end])
    del buffered[:end]
    return head


def _headers(lines: list[bytes]) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in lines:
        name, _, value = line.decode("latin-1").partition(":")
        found[name.strip().lower()] = value.strip()
    return found


def _parse_request(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.split(b"\r\n")
    method, target, _ = lines[0].decode("latin-1").split(" ", 2)
    return method, target, _headers([line for line in lines[1:] if line])


def _parse_response(head: bytes) -> tuple[int, dict[str, str]]:
    lines = head.split(b"\r\n")
    return int(lines[0].split(b" ", 2)[1]), _headers([line for line in lines[1:] if line])


def _pump_exact(source: socket.socket, target: socket.socket, buffered: bytearray, length: int) -> None:
    while length > 0:
        if buffered:
            piece = bytes(buffered[:length])
            del buffered[:len(piece)]
        else:
            piece = source.recv(min(PUMP, length))
            if not piece:
                raise OSError("closed mid-body")
        target.sendall(piece)
        length -= len(piece)
