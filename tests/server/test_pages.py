"""Download page, landing page, CSP and CORS (what a browser and the web UI see)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sgsend_desktop.server.embedded import start_embedded_server
from tests.helpers.servers import ServerProc, running_server


@pytest.fixture(scope="module")
def disk_server(tmp_path_factory: pytest.TempPathFactory) -> ServerProc:
    with running_server(tmp_path_factory.mktemp("pages")) as proc:
        yield proc  # type: ignore[misc]


@pytest.mark.parametrize(
    "path", ["/en-gb/download/", "/pt/view/", "/en-us/browse/", "/de/gallery/", "/en-gb/v/"]
)
def test_download_page(disk_server: ServerProc, path: str) -> None:
    response = httpx.get(disk_server.url + path, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    text = response.text
    assert "end-to-end encrypted" in text
    assert "Open in SGraph Send Desktop" in text
    assert "https://" not in text and "http://" not in text  # no external assets
    script = httpx.get(disk_server.url + "/_static/download.js", timeout=30).text
    assert "sgsend://open?url=" in script and "encodeURIComponent(window.location.href)" in script


@pytest.mark.parametrize("path", ["/EN/download/", "/en-gb/upload/", "/english/download/", "/_static/../x"])
def test_other_paths_are_404(disk_server: ServerProc, path: str) -> None:
    assert httpx.get(disk_server.url + path, timeout=30).status_code == 404


def test_landing_page(disk_server: ServerProc) -> None:
    response = httpx.get(disk_server.url + "/", timeout=30)
    assert response.status_code == 200 and "SGraph Send" in response.text
    assert "content-security-policy" in response.headers


def test_cors_preflight_and_exposed_etag(disk_server: ServerProc) -> None:
    preflight = httpx.options(
        disk_server.url + "/api/transfers/create",
        headers={
            "Origin": "https://send.sgraph.ai",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-sgraph-access-token",
        },
        timeout=30,
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] in ("*", "https://send.sgraph.ai")
    assert "x-sgraph-access-token" in preflight.headers["access-control-allow-headers"].lower()
    simple = httpx.get(
        disk_server.url + "/api/presigned/capabilities", headers={"Origin": "https://x.example"}, timeout=30
    )
    assert "etag" in simple.headers["access-control-expose-headers"].lower()


def test_embedded_server(tmp_path: Path) -> None:
    server = start_embedded_server(tmp_path / "embedded")
    try:
        assert server.url.startswith("http://127.0.0.1:")
        caps = httpx.get(server.url + "/api/presigned/capabilities", timeout=30).json()
        assert caps["storage"] == "disk" and caps["lambda_limits"] is True
        created = httpx.post(server.url + "/api/transfers/create", json={"file_size_bytes": 1}, timeout=30)
        assert created.status_code == 200
    finally:
        server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/", timeout=2)
