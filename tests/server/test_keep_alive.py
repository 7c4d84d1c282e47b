"""An idle keep-alive connection outlives the clients' own idle limit (httpx: 5 s), so a request sent
after a person's pause never meets the server closing that connection (a reset, seen once in 5000
requests under bench/server_load.py --think-ms 2000)."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from sgsend_desktop.server.runner import KEEP_ALIVE_SECONDS
from tests.helpers.servers import running_server

REQUEST = b"GET /api/presigned/capabilities HTTP/1.1\r\nHost: sgsend\r\n\r\n"


def read_answer(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += conn.recv(65536)
    return head


def test_an_idle_connection_is_still_open_after_the_clients_idle_limit(tmp_path: Path) -> None:
    assert KEEP_ALIVE_SECONDS > 5
    with running_server(tmp_path) as server:
        where = urlsplit(server.url)
        with socket.create_connection((where.hostname, where.port), timeout=10) as conn:
            conn.sendall(REQUEST)
            assert read_answer(conn).startswith(b"HTTP/1.1 200")
            time.sleep(6.5)  # longer than uvicorn's default 5 s, which closed it here
            conn.sendall(REQUEST)
            assert read_answer(conn).startswith(b"HTTP/1.1 200")
