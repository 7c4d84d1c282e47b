"""Review: download counting under concurrency, and the disk backend's writes off the event loop."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from sgsend_desktop.server.app import create_app
from sgsend_desktop.server.config import ServerConfig
from sgsend_desktop.server.meta import TransferMeta
from sgsend_desktop.server.runner import bind_socket, socket_url
from sgsend_desktop.server.storage.base import PayloadWriter, TransferStore
from sgsend_desktop.server.storage.disk import DiskStore, FileWriter
from tests.helpers.servers import ServerProc, running_server
from tests.server.flows import MIB, put_part, small_transfer
from tests.server.sse import SseListener


def test_concurrent_download_urls_never_exceed_max_downloads(
    client: httpx.Client, server: ServerProc
) -> None:
    transfer_id = small_transfer(client, b"x" * 1000, max_downloads=3)

    def ask(_: int) -> int:
        return httpx.get(f"{server.url}/api/presigned/download-url/{transfer_id}", timeout=60).status_code

    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(ask, range(12)))
    assert sorted(codes).count(200) == 3, codes
    assert set(codes) <= {200, 410}, codes
    info = client.get(f"/api/transfers/info/{transfer_id}").json()
    assert info["download_count"] == 3
    assert info["status"] == "exhausted"


# --- a slow disk must not stall the other requests ---------------------------------------------------

STALL = 0.4  # seconds one write takes on this "disk" (a disk under writeback pressure, a slow NAS)


class SlowFileWriter(FileWriter):
    def write(self, chunk: bytes) -> None:
        time.sleep(STALL)
        super().write(chunk)


class SlowDiskStore(DiskStore):
    def complete_multipart(self, transfer_id: str, upload_id: str, parts: list[tuple[int, str]]) -> str:
        time.sleep(1.0)  # assembling many GiB on a slow disk outlasts a client's read timeout
        return super().complete_multipart(transfer_id, upload_id, parts)

    def payload_writer(self, transfer_id: str) -> PayloadWriter:
        return SlowFileWriter(self.payload_path(transfer_id))

    def part_writer(self, transfer_id: str, upload_id: str, part_number: int) -> FileWriter:
        writer = super().part_writer(transfer_id, upload_id, part_number)
        writer.discard()
        return SlowFileWriter(writer.target)


@contextmanager
def slow_disk_server(data_dir: Path) -> Iterator[str]:
    with inprocess_server(ServerConfig(storage="disk", data_dir=data_dir), SlowDiskStore(data_dir)) as url:
        yield url


@contextmanager
def inprocess_server(config: ServerConfig, store: TransferStore) -> Iterator[str]:
    app = create_app(config, store=store)
    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield socket_url(sock)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def body(chunks: int, size: int = 256 * 1024) -> Iterator[bytes]:
    for _ in range(chunks):
        yield b"z" * size
        time.sleep(0.05)


def worst_latency_during(url: str, upload: threading.Thread) -> float:
    worst = 0.0
    upload.start()
    time.sleep(0.3)
    while upload.is_alive():
        started = time.monotonic()
        assert httpx.get(f"{url}/api/presigned/capabilities", timeout=30).status_code == 200
        worst = max(worst, time.monotonic() - started)
        time.sleep(0.02)
    upload.join()
    return worst


def test_slow_disk_writes_do_not_stall_other_requests(tmp_path: Path) -> None:
    with slow_disk_server(tmp_path) as url, httpx.Client(base_url=url, timeout=60) as client:
        # direct upload (no Lambda limit in the way: 12 chunks of 256 KiB = 3 MiB)
        transfer_id = client.post("/api/transfers/create", json={"file_size_bytes": 3 * 1024 * 1024}).json()[
            "transfer_id"
        ]
        results: list[int] = []
        upload_url = f"{url}/api/transfers/upload/{transfer_id}"
        direct = threading.Thread(
            target=lambda: results.append(httpx.post(upload_url, content=body(12), timeout=60).status_code)
        )
        assert worst_latency_during(url, direct) < STALL / 2
        assert results == [200]

        # a presigned part PUT to the disk backend's storage endpoint
        other = client.post("/api/transfers/create", json={"file_size_bytes": 3 * 1024 * 1024}).json()[
            "transfer_id"
        ]
        init = client.post(
            "/api/presigned/initiate", json={"transfer_id": other, "file_size_bytes": 3 * 1024 * 1024}
        ).json()
        part_url = init["part_urls"][0]["upload_url"]
        part = threading.Thread(
            target=lambda: results.append(httpx.put(part_url, content=body(12), timeout=60).status_code)
        )
        assert worst_latency_during(url, part) < STALL / 2
        assert results == [200, 200]


def test_a_client_dropping_mid_direct_upload_is_not_a_server_error(tmp_path: Path) -> None:
    with running_server(tmp_path) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        transfer_id = client.post("/api/transfers/create", json={"file_size_bytes": 5_000_000}).json()[
            "transfer_id"
        ]
        url = httpx.URL(server.url)
        with socket.create_connection((url.host, url.port or 80)) as raw:
            raw.sendall(
                f"POST /api/transfers/upload/{transfer_id} HTTP/1.1\r\nHost: {url.host}\r\n"
                f"Content-Length: 5000000\r\n\r\n".encode() + b"x" * 100_000
            )
            time.sleep(0.3)
        time.sleep(0.5)
        info = client.get(f"/api/transfers/info/{transfer_id}").json()
        assert info["status"] == "pending"
        # nothing half-written was kept: complete still finds no payload
        assert client.post(f"/api/transfers/complete/{transfer_id}").status_code == 404
    assert not any("Traceback" in line for line in server.output), "".join(server.output)[-3000:]


def test_retried_multipart_complete_is_idempotent(tmp_path: Path) -> None:
    """A client whose complete timed out retries it while (or after) the first call assembles the parts."""
    chunks = [b"a" * (5 * MIB), b"b" * 1000]
    size = sum(map(len, chunks))
    with slow_disk_server(tmp_path) as url, httpx.Client(base_url=url, timeout=60) as client:
        created = client.post("/api/transfers/create", json={"file_size_bytes": size})
        transfer_id = created.json()["transfer_id"]
        plan = {"transfer_id": transfer_id, "file_size_bytes": size, "num_parts": 2}
        init = client.post("/api/presigned/initiate", json=plan).json()
        parts = [
            {"part_number": item["part_number"], "etag": put_part(item["upload_url"], data)}
            for item, data in zip(init["part_urls"], chunks, strict=True)
        ]
        body = {"transfer_id": transfer_id, "upload_id": init["upload_id"], "parts": parts}

        def complete(_: int) -> httpx.Response:
            return httpx.post(f"{url}/api/presigned/complete", json=body, timeout=60)

        with ThreadPoolExecutor(2) as pool:
            first, second = pool.map(complete, range(2))
        again = complete(0)
        for response in (first, second, again):
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "assembled"
        assert first.json()["etag"] == second.json()["etag"] == again.json()["etag"]
        assert client.post(f"/api/transfers/complete/{transfer_id}").status_code == 200
        link = client.get(f"/api/presigned/download-url/{transfer_id}").json()["download_url"]
        assert httpx.get(link, timeout=60).content == b"".join(chunks)


def test_413_over_6_mb_carries_cors_headers(client: httpx.Client) -> None:
    """The web UI runs on another origin: without CORS headers it sees a network error, not the 413."""
    transfer_id = small_transfer(client, b"q" * 10)
    response = client.post(
        f"/api/transfers/upload/{transfer_id}",
        content=b"x" * (6_291_456 + 1),
        headers={"Origin": "https://send.sgraph.ai"},
    )
    assert response.status_code == 413
    assert response.json()["detail"].startswith("Request body too large")
    assert response.headers.get("access-control-allow-origin") == "*"


class CountingDiskStore(DiskStore):
    loads = 0

    def load(self, transfer_id: str) -> TransferMeta | None:
        CountingDiskStore.loads += 1
        return super().load(transfer_id)


def test_idle_event_stream_backs_off_polling_the_store(tmp_path: Path) -> None:
    """A sender's app keeps up to 32 streams open on finished transfers: each must not re-read the store
    (on S3: a paid GET) at the fast upload-progress rate forever; local changes still arrive at once."""
    config = ServerConfig(storage="disk", data_dir=tmp_path, poll_interval=0.05)
    with inprocess_server(config, CountingDiskStore(tmp_path)) as url, httpx.Client(base_url=url) as client:
        transfer_id = small_transfer(client, b"e" * 100)
        listener = SseListener(f"{url}/api/transfers/events/{transfer_id}").start()
        listener.wait_for(lambda events: len(events) >= 1)
        CountingDiskStore.loads = 0
        time.sleep(3.0)
        assert CountingDiskStore.loads < 20, CountingDiskStore.loads  # 0.05 s polling: about 60
        asked = time.monotonic()
        assert client.get(f"/api/presigned/download-url/{transfer_id}").status_code == 200
        listener.wait_count("downloaded", 1, timeout=5)
        assert time.monotonic() - asked < 1.0


def test_non_ascii_digits_are_4xx_not_500(client: httpx.Client) -> None:
    """str.isdigit() is true for '²', which int() refuses: such query values must not reach int()."""
    transfer_id = small_transfer(client, b"d" * 10)
    base = f"/storage/{transfer_id}/payload"
    for query in ("?partNumber=%C2%B2&uploadId=abc", "?expires=%C2%B2&sig=00"):
        response = client.put(base + query, content=b"x")
        assert response.status_code in (400, 403, 404), (query, response.status_code)
    url = f"/api/transfers/events/{transfer_id}"
    with client.stream("GET", url, headers={"Last-Event-ID": b"\xb2"}) as stream:
        assert stream.status_code == 200


def test_odd_range_headers_are_416_not_500(client: httpx.Client, server: ServerProc) -> None:
    transfer_id = small_transfer(client, b"r" * 100)
    url = client.get(f"/api/presigned/download-url/{transfer_id}").json()["download_url"]
    if not url.startswith(server.url):
        return  # S3 mode: the URL goes to the store, not to this server
    for header in (b"bytes=\xb2-", b"bytes=-\xb2", b"bytes=0-" + b"9" * 5000, b"bytes=" + b"1" * 5000 + b"-"):
        response = httpx.get(url, headers={"Range": header}, timeout=30)
        assert response.status_code == 416, (header[:20], response.status_code)
