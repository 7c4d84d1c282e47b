"""Process life: metadata survives a restart, SIGTERM ends open SSE streams and exits, keep-alives flow."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers.seaweed import SeaweedS3
from tests.helpers.servers import running_server
from tests.server.flows import create, download_url, small_transfer
from tests.server.sse import SseListener


def _store(backend: str, request: pytest.FixtureRequest) -> SeaweedS3 | None:
    return request.getfixturevalue("seaweedfs") if backend == "s3" else None


@pytest.mark.parametrize("backend", ["disk", "s3"])
def test_metadata_survives_restart(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    store = _store(backend, request)
    data_dir = tmp_path / "data"
    with (
        running_server(tmp_path, backend=backend, s3=store, data_dir=data_dir) as first,
        httpx.Client(base_url=first.url, timeout=30) as client,
    ):
        transfer_id = small_transfer(client, b"persist me", max_downloads=3)
        assert client.get(f"/api/transfers/download/{transfer_id}").status_code == 200
        url = download_url(client, transfer_id)
    with running_server(tmp_path, backend=backend, s3=store, data_dir=data_dir) as second:
        assert second.url != first.url or second.proc.pid != first.proc.pid
        with httpx.Client(base_url=second.url, timeout=30) as client:
            info = client.get(f"/api/transfers/info/{transfer_id}").json()
            assert info["status"] == "completed" and info["download_count"] == 2
            assert client.get(f"/api/transfers/download/{transfer_id}").content == b"persist me"
        if backend == "disk":  # the signing secret persists, so URLs survive a restart (new port aside)
            old = httpx.URL(url)
            moved = old.copy_with(port=httpx.URL(second.url).port)
            assert httpx.get(moved, timeout=30).content == b"persist me"


@pytest.mark.parametrize("backend", ["disk", "s3"])
def test_sigterm_ends_sse_and_exits(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    store = _store(backend, request)
    with running_server(tmp_path, backend=backend, s3=store, extra_args=("--keepalive", "0.3")) as server:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            transfer_id = client.post("/api/transfers/create", json={"file_size_bytes": 10}).json()[
                "transfer_id"
            ]
        listener = SseListener(f"{server.url}/api/transfers/events/{transfer_id}").start()
        listener.wait_for(lambda events: len(events) >= 1)
        deadline = time.monotonic() + 10
        while listener.comments < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert listener.comments >= 2, "no keep-alive comments"
        started = time.monotonic()
        code = server.stop(timeout=10)
        assert code == 0
        assert time.monotonic() - started < 8
        assert listener.ended.wait(5)


def test_port_in_use_is_one_line_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    with running_server(tmp_path) as server:
        port = str(httpx.URL(server.url).port)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "sgsend_desktop",
                "serve",
                "--port",
                port,
                "--data-dir",
                str(tmp_path / "b"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 1
    assert done.stderr.startswith("sgsend: cannot listen on") and "Traceback" not in done.stderr


def test_a_client_dropping_mid_part_is_not_a_server_error(tmp_path: Path) -> None:
    """A paused or killed uploader hangs up mid-PUT: the server logs no traceback and keeps serving."""
    with (
        running_server(tmp_path) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        transfer_id = create(client, 12 * 1024 * 1024)
        initiated = client.post("/api/presigned/initiate", json={
            "transfer_id": transfer_id, "file_size_bytes": 12 * 1024 * 1024, "num_parts": 2}).json()
        part_url = httpx.URL(initiated["part_urls"][0]["upload_url"])
        target = part_url.raw_path.decode()
        with socket.create_connection((part_url.host, part_url.port or 80)) as raw:
            raw.sendall(f"PUT {target} HTTP/1.1\r\nHost: {part_url.host}\r\n"
                        f"Content-Length: {6 * 1024 * 1024}\r\n\r\n".encode() + b"x" * 100_000)
            time.sleep(0.3)
        time.sleep(0.5)
        assert client.get(f"/api/transfers/info/{transfer_id}").status_code == 200
        parts = client.get(f"/api/presigned/parts/{transfer_id}/{initiated['upload_id']}").json()["parts"]
        assert parts == []  # the cut part was discarded, not stored half-written
    assert not any("Traceback" in line for line in server.output), "".join(server.output)[-3000:]


def test_sgsend_serve_runs_on_uvloop_and_httptools_the_desktop_server_on_asyncio_and_h11(
        tmp_path: Path) -> None:
    """The `server` extra (installed with the tests, as a team installs it) is what `sgsend serve` runs on;
    the desktop app's embedded server stays on asyncio and h11 whatever is installed."""
    import sys

    from sgsend_desktop.server.embedded import start_embedded_server

    with running_server(tmp_path) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get("/api/presigned/capabilities").status_code == 200  # parses a request first
        maps = Path(f"/proc/{server.proc.pid}/maps").read_text()
    assert "/uvloop/" in maps and "/httptools/" in maps
    loaded_before = {name for name in sys.modules if name.split(".")[0] in ("uvloop", "httptools")}
    embedded = start_embedded_server(tmp_path / "embedded")
    try:
        assert httpx.get(f"{embedded.url}/api/presigned/capabilities", timeout=30).status_code == 200
        loaded = {name for name in sys.modules if name.split(".")[0] in ("uvloop", "httptools")}
        assert loaded == loaded_before  # neither was imported for it
        assert embedded._server.config.loop == "asyncio"
    finally:
        embedded.stop()
