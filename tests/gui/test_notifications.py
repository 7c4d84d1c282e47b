"""Issue 11: native desktop notifications (over a real, private D-Bus with a fake notification server),
the tray-balloon and status-bar fallbacks, and a click that opens the transfer it is about."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from sgsend_desktop.core.model import TransferState
from sgsend_desktop.gui.notifications import NativeNotifier, native_possible
from sgsend_desktop.gui.tray import TrayController
from tests.gui.fake_notifications import dbus_available, notification_server
from tests.gui.test_keyboard_and_questions import LINK, _rows

pytestmark = pytest.mark.skipif(not dbus_available(), reason="needs dbus-daemon")


def test_a_native_notification_is_sent_over_dbus_and_its_click_opens_the_row(
    qtbot: QtBot, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with notification_server() as server:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", server.address)
        monkeypatch.delenv("SGSEND_NO_NATIVE_NOTIFICATIONS")
        assert native_possible()
        window, engine = _rows(qtbot, tmp_path, data_dir, count=3)
        tray = TrayController(window)  # picks the native notifier by itself here
        assert isinstance(tray.native, NativeNotifier)
        try:
            window.select_transfer("t1")
            engine.emit("done", replace(engine.snapshot("t2"), state=TransferState.DONE, share_link=LINK))
            qtbot.waitUntil(lambda: len(server.service.shown) == 1, timeout=10_000)
            shown = server.service.shown[0]
            assert shown.summary == "Sent" and "file1.pdf" in shown.body
            assert shown.app_name == "SGraph Send Desktop" and "default" in shown.actions
            qtbot.waitUntil(lambda: tray.native is not None and tray.native.sent == 1, timeout=5000)
            assert tray.routes == ["native"]
            window.hide()
            server.click(shown.id)  # the user clicks it in the notification centre
            qtbot.waitUntil(lambda: [s.id for s in window.selected_snapshots()] == ["t2"], timeout=10_000)
            assert window.isVisible()
        finally:
            tray.hide()


def test_without_a_notification_service_it_falls_back_to_the_status_bar(
    qtbot: QtBot, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path / 'no-such-bus'}")
    monkeypatch.delenv("SGSEND_NO_NATIVE_NOTIFICATIONS")
    window, engine = _rows(qtbot, tmp_path, data_dir, count=1)
    tray = TrayController(window)
    try:
        assert tray.native is not None  # the platform could have them: tried first
        engine.emit("failed", replace(engine.snapshot("t1"), state=TransferState.FAILED, error="Disk full."))
        qtbot.waitUntil(lambda: tray.routes == ["native failed", "status bar"], timeout=10_000)
        assert "Transfer failed: file0.pdf: Disk full." in window.statusBar().currentMessage()
    finally:
        tray.hide()


def test_a_balloon_click_opens_its_row(qtbot: QtBot, tmp_path: Path, data_dir: Path) -> None:
    window, _engine = _rows(qtbot, tmp_path, data_dir, count=2)
    tray = TrayController(window, native=False)
    tray.notify("Received", "x", False, "t2")
    assert tray.routes[-1] in ("balloon", "status bar")
    tray._balloon_for = "t2"
    tray.icon.messageClicked.emit()
    assert [s.id for s in window.selected_snapshots()] == ["t2"]
