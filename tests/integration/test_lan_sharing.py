"""Issue 8 item 4: sharing the local server on the local network, on loopback only.

``SGSEND_LAN_ADDRESS=127.0.0.2`` stands in for this host's network address (the detection is never
exercised here: tests bind nothing but loopback addresses).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.local_server import LAN_ADDRESS_ENV, TOKEN_SECRET_ID, open_local_server
from sgsend_desktop.core.model import LOCAL_NETWORK, TransferState
from sgsend_desktop.core.secrets import SecretStore
from tests.helpers.ports import port_answers
from tests.integration.conftest import FAST_RETRY, FINISHED, MiB, make_file, run_cli, sha256, wait_state

LAN = "127.0.0.2"


@pytest.fixture(autouse=True)
def lan_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LAN_ADDRESS_ENV, LAN)


def test_lan_links_carry_the_lan_address_uploads_need_the_token_downloads_do_not(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = open_local_server(data, lan=True)
    try:
        port = int(server.url.rsplit(":", 1)[1])
        assert server.url == f"http://{LAN}:{port}" and server.endpoint.lan
        token = server.endpoint.token
        assert token and SecretStore(data).get(TOKEN_SECRET_ID) == token
        assert not port_answers("127.0.0.1", port)  # bound to the LAN address only

        # an upload without the token is refused; with it, it is not
        create = server.url + "/api/transfers/create"
        assert httpx.post(create, json={"file_size_bytes": 1}, timeout=10).status_code == 401
        wrong = httpx.post(create, json={"file_size_bytes": 1}, headers={"x-sgraph-access-token": "x"},
                           timeout=10)
        assert wrong.status_code == 401
        ok = httpx.post(create, json={"file_size_bytes": 1}, headers={"x-sgraph-access-token": token},
                        timeout=10)
        assert ok.status_code == 200

        # a colleague's client without the token cannot send through it
        outsider = TransferEngine(tmp_path / "outsider", server.url, retry=FAST_RETRY)
        outsider.start()
        try:
            [refused] = outsider.send([make_file(tmp_path / "x.bin", 1000)])
            snap = wait_state(outsider, refused, FINISHED, 60)
            assert snap.state is TransferState.FAILED
        finally:
            outsider.close()

        # this computer's engine sends with the local token; links carry the LAN address
        engine = TransferEngine(data, server.url, server.endpoint.token, local=server.endpoint,
                                retry=FAST_RETRY)
        engine.start()
        try:
            source = make_file(tmp_path / "shared.bin", 7 * MiB)
            [local_id] = engine.send([source])
            done = wait_state(engine, local_id, FINISHED, 60)
            assert done.state is TransferState.DONE, done.error
            assert done.share_link and done.share_link.startswith(f"http://{LAN}:{port}/")
            assert done.local_scope == LOCAL_NETWORK
        finally:
            engine.close()

        # a colleague downloads with no token at all
        colleague = TransferEngine(tmp_path / "colleague", "http://127.0.0.1:9", retry=FAST_RETRY)
        colleague.start()
        try:
            got_id = colleague.receive(done.share_link, dest_dir=tmp_path / "got")
            got = wait_state(colleague, got_id, FINISHED, 60)
            assert got.state is TransferState.DONE, got.error
            assert got.saved_path and sha256(Path(got.saved_path)) == sha256(source)
        finally:
            colleague.close()
    finally:
        server.stop()

    again = open_local_server(data, lan=True)  # relaunch: same address, same port, same token
    try:
        assert again.url == server.url and again.endpoint.token == token
    finally:
        again.stop()


def test_the_cli_shares_on_the_lan_with_sgsend_share_lan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`SGSEND_SHARE_LAN=1 sgsend send` (no server): a LAN link; here it joins the app's running server, so
    the link still opens after the command ended."""
    monkeypatch.setenv("SGSEND_SHARE_LAN", "1")
    data = tmp_path / "data"
    app = open_local_server(data, lan=True)  # the desktop app, sharing on the network
    try:
        source = make_file(tmp_path / "cli.bin", 1 * MiB)
        sent = run_cli(["send", str(source)], data, None)
        assert sent.returncode == 0, sent.stderr
        [link] = sent.stdout.split()
        assert link.startswith(app.url + "/") and app.url.startswith(f"http://{LAN}:")
        assert "on the local network" in sent.stderr
        colleague = TransferEngine(tmp_path / "colleague", "http://127.0.0.1:9", retry=FAST_RETRY)
        colleague.start()
        try:
            got = wait_state(colleague, colleague.receive(link, dest_dir=tmp_path / "got"), FINISHED, 60)
            assert got.state is TransferState.DONE, got.error
            assert got.saved_path and sha256(Path(got.saved_path)) == sha256(source)
        finally:
            colleague.close()
    finally:
        app.stop()
