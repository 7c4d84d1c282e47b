"""Issue 9, item 4: the access token goes only to the server it was configured for.

A link's host is whoever made the link. A small recording HTTP server on loopback plays that host and
keeps the headers of every request it gets; the token must be in none of them."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sgsend_desktop.core import crypto
from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.links import make_link
from sgsend_desktop.core.model import TransferState
from tests.helpers.servers import ServerProc
from tests.integration.conftest import run_cli, wait_state

TOKEN = "configured-token-for-our-server"
TOKEN_HEADER = "x-sgraph-access-token"


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict[str, str]]

    def _answer(self) -> None:
        self.seen.append({k.lower(): v for k, v in self.headers.items()})
        body = json.dumps({"status": "deleted", "transfer_id": "0123456789ab"}).encode()
        self.send_response(200 if self.command == "DELETE" else 404)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = do_PUT = _answer

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def foreign_host() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_sgsend_delete_never_sends_the_access_token_to_the_links_host(
        tmp_path: Path, foreign_host: tuple[str, list[dict[str, str]]]) -> None:
    host, seen = foreign_host
    link = make_link(host, "0123456789ab", crypto.generate_key()).combined()
    done = run_cli(["delete", link, "--token", TOKEN], tmp_path / "data", server_url=None, timeout=60)
    assert done.returncode == 0, done.stderr
    assert seen, "the delete never reached the link's host"
    assert all(TOKEN_HEADER not in headers for headers in seen)
    assert all(TOKEN not in json.dumps(headers) for headers in seen)


def test_a_receive_from_another_host_carries_no_token(
        tmp_path: Path, disk_server: ServerProc, foreign_host: tuple[str, list[dict[str, str]]],
        make_engine: Callable[..., TransferEngine]) -> None:
    host, seen = foreign_host
    engine = make_engine(disk_server.url, token=TOKEN)
    link = make_link(host, "0123456789ab", crypto.generate_key()).combined()
    local_id = engine.receive(link, dest_dir=tmp_path / "in")
    assert wait_state(engine, local_id, [TransferState.FAILED]).state is TransferState.FAILED
    assert seen, "the receive never reached the link's host"
    assert all(TOKEN_HEADER not in headers for headers in seen)
