"""What the upstream SGraph Send browser UI (v0.3.x) needs from `sgsend serve` when the UI is served from
another origin than the API (see docs/interop.md for the by-hand check with the real UI in Chromium):

- the multipart flow exactly as the UI runs it: envelope size declared at create, num_parts =
  ceil(payload / max_part_size), 10 MiB slices PUT cross-origin to the absolute part URLs (preflighted),
  the ETag readable by the page, then presigned/complete and transfers/complete; the download URL absolute
  and readable cross-origin;
- the access gate's `check-token` (and the download page's `validate-token`);
- `sgsend get LINK --server URL` with a link whose host is the web UI's static host, not the API.
"""

from __future__ import annotations

import functools
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.helpers.servers import REPO_ROOT, ServerProc, running_server
from tests.integration.conftest import run_cli, sha256
from tests.server.flows import MIB, random_file

UI_ORIGIN = "http://127.0.0.1:18080"  # where the page would live; never contacted by these requests


@pytest.fixture(scope="module")
def disk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    with running_server(tmp_path_factory.mktemp("web-ui")) as proc:
        yield proc


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    args = ("--access-token", "ui-tok_1")
    with running_server(tmp_path_factory.mktemp("web-ui-token"), extra_args=args) as proc:
        yield proc


def _cors_ok(response: httpx.Response) -> None:
    assert response.headers.get("access-control-allow-origin") in ("*", UI_ORIGIN), response.headers


def test_browser_multipart_flow_cross_origin(disk_server: ServerProc, tmp_path: Path) -> None:
    """12 MiB as the web UI uploads it from another origin, then fetched as its download page does."""
    payload = random_file(tmp_path / "payload.bin", 12 * MIB + 1234).read_bytes()
    origin = {"Origin": UI_ORIGIN}
    with httpx.Client(base_url=disk_server.url, timeout=60, headers=origin) as api:
        caps = api.get("/api/presigned/capabilities").json()
        assert caps["multipart_upload"] is True
        part_size = caps["max_part_size"]
        created = api.post("/api/transfers/create", json={
            "file_size_bytes": len(payload) - 28, "content_type_hint": "application/octet-stream"})
        assert created.status_code == 200, created.text
        transfer_id = created.json()["transfer_id"]
        num_parts = math.ceil(len(payload) / part_size)
        init = api.post("/api/presigned/initiate", json={
            "transfer_id": transfer_id, "file_size_bytes": len(payload), "num_parts": num_parts})
        assert init.status_code == 200, init.text
        part_urls = init.json()["part_urls"]
        assert [p["part_number"] for p in part_urls] == list(range(1, num_parts + 1))
        parts = []
        for i, item in enumerate(part_urls):
            url = item["upload_url"]
            assert url.startswith(disk_server.url + "/"), url  # a relative URL would hit the UI's origin
            ask = {**origin, "Access-Control-Request-Method": "PUT"}
            preflight = httpx.options(url, headers=ask, timeout=30)
            assert preflight.status_code == 200
            _cors_ok(preflight)
            assert "PUT" in preflight.headers["access-control-allow-methods"]
            piece = payload[i * part_size:(i + 1) * part_size]
            put = httpx.put(url, content=piece, headers=origin, timeout=60)
            assert put.status_code == 200, put.text
            _cors_ok(put)
            assert "etag" in put.headers["access-control-expose-headers"].lower()  # res.headers.get('ETag')
            parts.append({"part_number": item["part_number"], "etag": put.headers["etag"]})
        done = api.post("/api/presigned/complete", json={
            "transfer_id": transfer_id, "upload_id": init.json()["upload_id"], "parts": parts})
        assert done.status_code == 200, done.text
        completed = api.post(f"/api/transfers/complete/{transfer_id}")
        assert completed.status_code == 200
        _cors_ok(completed)
        info = api.get(f"/api/transfers/info/{transfer_id}").json()
        assert info["status"] == "completed"
        # download page: info → download-url → GET it (over 5 MiB, so /download would be 413 here)
        got_url = api.get(f"/api/presigned/download-url/{transfer_id}")
        _cors_ok(got_url)
        url = got_url.json()["download_url"]
        assert url.startswith(disk_server.url + "/"), url
    fetched = httpx.get(url, headers=origin, timeout=60)
    assert fetched.status_code == 200
    _cors_ok(fetched)
    assert fetched.content == payload


def test_check_token_without_a_configured_token(disk_server: ServerProc) -> None:
    url = disk_server.url + "/api/transfers/check-token/anything"
    response = httpx.get(url, headers={"Origin": UI_ORIGIN}, timeout=30)
    assert response.status_code == 200
    _cors_ok(response)
    assert response.json() == {"valid": True, "status": "active"}


def test_check_token_with_a_configured_token(token_server: ServerProc) -> None:
    base = token_server.url + "/api/transfers"
    assert httpx.get(f"{base}/check-token/ui-tok_1", timeout=30).json() == {"valid": True, "status": "active"}
    wrong = httpx.get(f"{base}/check-token/ui-tok_2", timeout=30)
    assert wrong.status_code == 200
    assert wrong.json() == {"valid": False, "reason": "not_found"}
    # needs no token itself; consumes nothing; downloads need no token here, so validate-token succeeds
    assert httpx.get(f"{base}/check-token/ui-tok_1", timeout=30).json()["valid"] is True
    assert httpx.post(f"{base}/validate-token/whatever", timeout=30).json() == {"success": True}


def test_serve_warns_about_a_token_the_web_ui_cannot_send(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sgsend_desktop", "serve", "--port", "0", "--data-dir", str(tmp_path / "d"),
         "--access-token", "Secret!"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=str(REPO_ROOT))
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("Serving on ") or time.monotonic() > deadline:
                break
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert any("web UI" in line and "warning" in line for line in seen), seen


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def static_ui_host(tmp_path: Path) -> Iterator[str]:
    """A plain static host (like the web UI's): every /api/... request there is a 404."""
    root = tmp_path / "ui-root"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_get_with_explicit_server_ignores_the_links_host(
    disk_server: ServerProc, static_ui_host: str, tmp_path: Path
) -> None:
    """The web UI builds links on its own origin; `--server` must name the API server all the same."""
    source = random_file(tmp_path / "from-ui.bin", 300_000)
    sent = run_cli(["send", str(source)], tmp_path / "sender", disk_server.url, timeout=120)
    assert sent.returncode == 0, sent.stderr
    link = sent.stdout.strip()
    assert link.startswith(disk_server.url + "/en-gb/download/#")
    ui_link = static_ui_host + link[len(disk_server.url):]
    got = run_cli(["get", ui_link, "--server", disk_server.url, "-o", str(tmp_path / "out")],
                  tmp_path / "receiver", None, timeout=120)
    assert got.returncode == 0, got.stderr
    saved = Path(got.stdout.strip())
    assert sha256(saved) == sha256(source)
