"""Helpers for the server reliability tests: a real `sgsend serve` subprocess (optionally with a small
file-descriptor limit), its CPU time and peak memory from /proc, and raw loopback connections."""

from __future__ import annotations

import hashlib
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.helpers.seaweed import SeaweedS3
from tests.helpers.servers import ServerProc
from tests.helpers.servers import start_server as start_real_server

DELETE_SECRET = "reliability-delete-secret"
DELETE_HASH = hashlib.sha256(DELETE_SECRET.encode()).hexdigest()
DELETE_HEADERS = {"x-sgraph-transfer-delete-auth": DELETE_SECRET}


def start_server(
    data_dir: Path,
    extra_args: Sequence[str] = (),
    backend: str = "disk",
    s3: SeaweedS3 | None = None,
    nofile: int | None = None,
    bucket: str | None = None,
) -> ServerProc:
    """`python -m sgsend_desktop serve --port 0 ...`; ``nofile`` caps its open files (soft and hard)."""
    return start_real_server(data_dir, backend, extra_args, s3=s3, nofile=nofile, bucket=bucket)


@contextmanager
def serving(data_dir: Path, extra_args: Sequence[str] = (), **options: object) -> Iterator[ServerProc]:
    server = start_server(data_dir, extra_args, **options)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


def problems(server: ServerProc) -> list[str]:
    """Lines of the server's output that show an unhandled error (a traceback, a 500, fd exhaustion)."""
    bad = ("Traceback", "Exception in ASGI", "Too many open files", "EMFILE", "500 Internal")
    return [line for line in server.output if any(word in line for word in bad)]


def assert_clean_log(server: ServerProc) -> None:
    found = problems(server)
    assert not found, "".join(server.output)[-4000:]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss(pid: int) -> int:
    """The process's peak resident set size so far (VmHWM), bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/PID/status")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def create(client: httpx.Client, size: int, **options: object) -> str:
    body = {"file_size_bytes": size, "delete_auth_hash": DELETE_HASH, **options}
    response = client.post("/api/transfers/create", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["transfer_id"])


def gated_body(total: int, before_gate: int, gate: threading.Event, reached: threading.Event,
               chunk: int = 256 * 1024) -> Iterator[bytes]:
    """``total`` bytes; after ``before_gate`` of them, signal ``reached`` and wait for ``gate``."""
    sent = 0
    while sent < total:
        if sent >= before_gate and not reached.is_set():
            reached.set()
            gate.wait(30)
        size = min(chunk, (before_gate if sent < before_gate else total) - sent)
        yield b"r" * size
        sent += size


def in_background(function: Callable[[], httpx.Response]) -> tuple[threading.Thread, list[object]]:
    """Run ``function`` in a thread; its response (or exception) lands in the returned list."""
    result: list[object] = []

    def run() -> None:
        try:
            result.append(function())
        except Exception as error:  # the test inspects it
            result.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def files_of(data_dir: Path, transfer_id: str) -> list[str]:
    """Every file left under the transfer's directory except its meta.json (relative paths)."""
    root = data_dir / "transfers" / transfer_id
    if not root.exists():
        return []
    return sorted(
        str(path.relative_to(root)) for path in root.rglob("*") if path.is_file() and path.name != "meta.json"
    )


def raw_request(url: str, path: str, headers: dict[str, str] | None = None) -> socket.socket:
    """Open a loopback connection and send a GET without reading the answer (cheap many-connection load)."""
    target = httpx.URL(url)
    sock = socket.create_connection((target.host, target.port or 80), timeout=10)
    lines = [f"GET {path} HTTP/1.1", f"Host: {target.host}", "Accept: text/event-stream"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def statuses(socks: list[socket.socket], timeout: float = 20.0) -> list[int | None]:
    """The status code answered on each raw connection (None: closed without one, or no answer in time)."""
    found: dict[int, int | None] = {}
    buffers = {index: b"" for index in range(len(socks))}
    with selectors.DefaultSelector() as selector:
        for index, sock in enumerate(socks):
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, index)
        deadline = time.monotonic() + timeout
        while len(found) < len(socks) and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.2):
                index = key.data
                try:
                    chunk = socks[index].recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    chunk = b""
                buffers[index] += chunk
                if b"\r\n" in buffers[index] or not chunk:
                    head = buffers[index].split(b" ", 2)
                    found[index] = int(head[1]) if len(head) > 1 and head[1].isdigit() else None
                    selector.unregister(socks[index])
    return [found.get(index) for index in range(len(socks))]
