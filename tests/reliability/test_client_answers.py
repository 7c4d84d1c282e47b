"""Issue 9, item 11: what a broken or hostile server answers ends in one sentence, at once — not a
KeyError traceback, not eight retries of an address that can never work, not "the key is wrong"."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from sgsend_desktop.core import crypto
from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.links import make_link
from sgsend_desktop.core.model import TransferState
from tests.integration.conftest import wait_state

TRANSFER = "0123456789ab"


def _server(download_answer: dict[str, object] | None,
            direct_status: int = 200) -> type[BaseHTTPRequestHandler]:
    class Hostile(BaseHTTPRequestHandler):
        hits: ClassVar[list[str]] = []

        def _json(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self.hits.append(self.path)
            if self.path.startswith("/api/presigned/capabilities"):
                self._json(200, {"presigned_download": download_answer is not None})
            elif self.path.startswith("/api/transfers/info/"):
                self._json(200, {"transfer_id": TRANSFER, "status": "completed", "file_size_bytes": 100,
                                 "download_count": 0, "max_downloads": 0, "is_expired": False})
            elif self.path.startswith("/api/presigned/download-url/"):
                self._json(200, download_answer)
            elif self.path.startswith("/api/transfers/download/"):
                self.send_response(direct_status)
                self.send_header("location", "http://127.0.0.1:9/elsewhere")
                self.send_header("content-length", "64")
                self.end_headers()
                self.wfile.write(b"<html>moved</html>".ljust(64))
            else:
                self._json(404, {"detail": "Not Found"})

        def log_message(self, *_: object) -> None:
            pass

    return Hostile


@pytest.fixture
def hostile() -> Iterator[Callable[..., tuple[str, list[str]]]]:
    servers: list[ThreadingHTTPServer] = []

    def start(download_answer: dict[str, object] | None, direct_status: int = 200) -> tuple[str, list[str]]:
        handler = _server(download_answer, direct_status)
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}", handler.hits  # type: ignore[attr-defined]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _receive(engine: TransferEngine, host: str, tmp_path: Path) -> tuple[str, str]:
    link = make_link(host, TRANSFER, crypto.generate_key()).combined()
    snap = wait_state(engine, engine.receive(link, dest_dir=tmp_path / "in"), [TransferState.FAILED,
                                                                               TransferState.DONE], 60)
    assert snap.state is TransferState.FAILED
    return snap.error or "", str(snap)


@pytest.mark.parametrize(("answer", "words"), [
    ({"expires_in": 60}, "has no 'download_url'"),
    ({"download_url": "ftp://127.0.0.1/payload", "expires_in": 60}, "cannot use: ftp://"),
    ({"download_url": "/x", "expires_in": "soon"}, "malformed"),
])
def test_a_broken_download_url_answer_fails_at_once_in_one_sentence(
        answer: dict[str, object], words: str, tmp_path: Path, hostile: Callable[..., tuple[str, list[str]]],
        make_engine: Callable[..., TransferEngine]) -> None:
    host, hits = hostile(answer)
    engine = make_engine(host, data_dir=tmp_path / "data")
    error, _ = _receive(engine, host, tmp_path)
    assert words in error and "Traceback" not in error and "Error(" not in error
    assert sum("/download-url/" in hit for hit in hits) == 1  # asking again would get the same answer


def test_a_redirect_instead_of_the_file_is_not_called_a_wrong_key(
        tmp_path: Path, hostile: Callable[..., tuple[str, list[str]]],
        make_engine: Callable[..., TransferEngine]) -> None:
    host, _ = hostile(None, direct_status=302)  # no presigned download: the direct route answers 302
    engine = make_engine(host, data_dir=tmp_path / "data")
    error, _ = _receive(engine, host, tmp_path)
    assert "302" in error and "key" not in error.lower()
    assert not (tmp_path / "in").exists() or not any((tmp_path / "in").iterdir())


def test_the_cli_suggests_resume_only_when_it_can_help(tmp_path: Path) -> None:
    """A link to a transfer the server does not have: `sgsend resume` would fail the same way."""
    from tests.helpers.servers import running_server
    from tests.integration.conftest import run_cli

    with running_server(tmp_path / "serve") as server:
        missing = make_link(server.url, TRANSFER, crypto.generate_key()).combined()
        got = run_cli(["get", missing, "-o", str(tmp_path / "in")], tmp_path / "data", server.url, timeout=60)
        assert got.returncode == 1 and "no transfer" in got.stderr.lower()
        assert "sgsend resume" not in got.stderr
        listed = run_cli(["list"], tmp_path / "data", server.url, timeout=60)
        assert "failed" in listed.stdout  # the row is kept, with its sentence
