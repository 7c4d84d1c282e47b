"""Issue 8 (items 3, 4) in the real window: the default local server across a quit and a relaunch.

The real app (window, bridge, backend, engine) on the local server (empty server URL in Settings). A send
is paused by quitting the app mid-upload; meanwhile another program takes the local server's port, so
the relaunched app's server gets a new one; the row resumes there and completes, and the details panel
says where its link opens.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.local_server import LAN_ADDRESS_ENV
from sgsend_desktop.core.model import Direction, TransferState
from sgsend_desktop.gui.backend import LAN_SERVER_LABEL, LOCAL_SERVER_LABEL
from sgsend_desktop.gui.details_panel import REACH_TEXT
from sgsend_desktop.gui.settings import AppSettings
from sgsend_desktop.server.embedded import stored_port
from tests.gui.real_app import rows, sha256_of, start_desktop, wait_state, write_random

MiB = 1024 * 1024


def test_a_send_paused_by_quitting_resumes_on_the_relaunched_local_server(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    source = write_random(tmp_path / "local.bin", 10 * MiB)
    desktop = start_desktop(qtbot, data_dir, "", tmp_path / "downloads", upload_limit_kbps=2560)
    try:
        window = desktop.window
        assert window.server_label.text() == f"Server: {LOCAL_SERVER_LABEL}"
        window.send_paths([source])
        qtbot.waitUntil(lambda: len(rows(desktop, Direction.SEND)) == 1, timeout=10_000)
        local_id = rows(desktop)[0].id

        def uploading() -> bool:
            snap = window.model.snapshot_of(local_id)
            return snap is not None and snap.state is TransferState.UPLOADING and snap.bytes_done > 0

        qtbot.waitUntil(uploading, timeout=30_000)
        assert desktop.backend is not None and desktop.backend.server is not None
        old_url = desktop.backend.server.url
    finally:
        desktop.close_now()  # quit mid-upload
    old_port = int(old_url.rsplit(":", 1)[1])
    assert stored_port(data_dir / "server") == old_port

    squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # another program takes the port
    squatter.bind(("127.0.0.1", old_port))
    squatter.listen(1)
    try:
        desktop = start_desktop(qtbot, data_dir, "", tmp_path / "downloads")
        try:
            window = desktop.window
            assert desktop.backend is not None and desktop.backend.server is not None
            new_url = desktop.backend.server.url
            assert new_url != old_url
            qtbot.waitUntil(
                lambda: f"port {old_port} is used by another program" in window.statusBar().currentMessage(),
                timeout=5_000,
            )
            qtbot.waitUntil(lambda: len(rows(desktop)) == 1, timeout=10_000)
            assert rows(desktop)[0].state is TransferState.PAUSED
            window.select_transfer(local_id)
            qtbot.waitUntil(window.actions_.resume.isEnabled, timeout=5_000)
            qtbot.mouseClick(window.row_buttons["resume"], Qt.MouseButton.LeftButton)
            done = wait_state(qtbot, desktop, local_id, TransferState.DONE, 90_000)
            assert done.share_link and done.share_link.startswith(new_url + "/")

            window.select_transfer(local_id)
            reach = window.details.reach_label
            qtbot.waitUntil(lambda: window.details.link_field.text() == done.share_link, timeout=5_000)
            assert reach.isVisible() and "only on this computer" in reach.text()
            assert reach.text() == REACH_TEXT["computer"]
            assert stored_port(data_dir / "server") == int(new_url.rsplit(":", 1)[1])  # kept from now on

            # the link opens (on this computer, while the local server runs)
            receiver = TransferEngine(tmp_path / "receiver", "http://127.0.0.1:9")
            receiver.start()
            try:
                got_id = receiver.receive(done.share_link, dest_dir=tmp_path / "got")
                qtbot.waitUntil(
                    lambda: receiver.snapshot(got_id).state in (TransferState.DONE, TransferState.FAILED),
                    timeout=60_000,
                )
                got = receiver.snapshot(got_id)
                assert got.state is TransferState.DONE and got.saved_path
                assert sha256_of(Path(got.saved_path)) == sha256_of(source)
            finally:
                receiver.close()
        finally:
            desktop.close_now()
    finally:
        squatter.close()


def test_turning_on_local_network_sharing_moves_the_links_to_the_lan_address(
    qtbot: QtBot, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LAN_ADDRESS_ENV, "127.0.0.3")  # stands in for this host's network address
    source = write_random(tmp_path / "small.bin", 200_000)
    desktop = start_desktop(qtbot, data_dir, "", tmp_path / "downloads")
    try:
        window = desktop.window
        window.send_paths([source])
        qtbot.waitUntil(lambda: len(rows(desktop, Direction.SEND)) == 1, timeout=10_000)
        local_id = rows(desktop)[0].id
        before = wait_state(qtbot, desktop, local_id, TransferState.DONE)
        assert before.share_link and before.share_link.startswith("http://127.0.0.1:")
        port = before.share_link.split("/")[2].rsplit(":", 1)[1]

        dialog = window.open_settings()
        assert dialog.lan_check.isEnabled() and not dialog.lan_check.isChecked()
        dialog.lan_check.setChecked(True)
        dialog.accept()
        qtbot.waitUntil(lambda: "shared on the local network" in window.server_label.text(), timeout=15_000)
        assert window.server_label.text() == "Server: " + LAN_SERVER_LABEL.format(
            url=f"http://127.0.0.3:{port}"
        )

        def moved() -> bool:
            snap = window.model.snapshot_of(local_id)
            return bool(snap and snap.share_link and snap.share_link.startswith(f"http://127.0.0.3:{port}/"))

        qtbot.waitUntil(moved, timeout=10_000)  # same port, the LAN address
        window.select_transfer(local_id)
        qtbot.waitUntil(lambda: window.details.reach_label.text() == REACH_TEXT["network"], timeout=5_000)
        assert AppSettings(data_dir).load().share_on_lan
    finally:
        desktop.close_now()
