"""A transfer waiting for an unreachable server: what the queue row and the details panel show."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from sgsend_desktop.core.model import Direction, TransferSnapshot, TransferState
from sgsend_desktop.gui.details_panel import EVENTS_DOWN_TEXT, LIVE_TEXT, DetailsPanel
from sgsend_desktop.gui.formatting import reconnect_text, state_label
from sgsend_desktop.gui.queue_model import Column, TransferQueueModel

REASON = "Cannot reach 127.0.0.1:8080 (connection refused)"


def waiting(in_seconds: float, state: TransferState = TransferState.UPLOADING) -> TransferSnapshot:
    return TransferSnapshot("r1", Direction.SEND, "big.iso", 1000, state, bytes_done=400, speed_bps=0.0,
                            eta_seconds=12.0, reconnect_at=time.time() + in_seconds,
                            reconnect_reason=REASON)


def test_labels_count_down_to_the_next_try() -> None:
    now = 1000.0
    snap = TransferSnapshot("r1", Direction.SEND, "big.iso", 1000, TransferState.UPLOADING,
                            reconnect_at=now + 40.3, reconnect_reason=REASON)
    assert state_label(snap, now) == "Reconnecting in 40 s"
    assert reconnect_text(snap, now) == f"{REASON} — reconnecting in 40 s"
    assert state_label(snap, now + 41) == "Reconnecting now"
    assert reconnect_text(snap, now + 41) == f"{REASON} — reconnecting now"
    assert state_label(snap, now - 100) == "Reconnecting in 2 min 20 s"
    paused = TransferSnapshot("r1", Direction.SEND, "big.iso", 1000, TransferState.PAUSED,
                              reconnect_at=now + 40, reconnect_reason=REASON)
    assert state_label(paused, now) == "Paused" and reconnect_text(paused, now) == ""


def test_queue_row_and_details_panel_show_reconnecting(qtbot: QtBot) -> None:
    model = TransferQueueModel()
    model.upsert(waiting(40.4))
    assert model.index(0, Column.STATE).data() in ("Reconnecting in 40 s",
                                                   "Reconnecting in 39 s")  # a slow machine
    tooltip = model.index(0, Column.NAME).data(Qt.ItemDataRole.ToolTipRole)
    assert tooltip.startswith(f"{REASON} — reconnecting in")
    assert model.index(0, Column.ETA).data() == ""
    assert model.index(0, Column.STATE).data(Qt.ItemDataRole.ForegroundRole) is None  # not a failure

    panel = DetailsPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.show_snapshot(waiting(40.4))
    assert panel.reconnect_label.isVisible()
    assert panel.reconnect_label.text().startswith(f"{REASON} — reconnecting in")
    assert "Reconnecting in" in panel.subtitle.text()
    assert not panel.error_label.isVisible()
    # Try now: probe the server at once instead of after the countdown
    assert panel.retry_button.isVisible() and panel.retry_button.text() == "Try now"
    asked: list[str] = []
    panel.retry_requested.connect(asked.append)
    panel.retry_button.click()
    assert asked == ["r1"]
    done = TransferSnapshot("r1", Direction.SEND, "big.iso", 1000, TransferState.UPLOADING, bytes_done=500)
    panel.show_snapshot(done)
    assert not panel.reconnect_label.isVisible()


def test_the_status_bar_and_details_say_offline_not_live_while_the_server_is_away(
        qtbot: QtBot, data_dir) -> None:  # type: ignore[no-untyped-def]
    """Found using the window: with the server killed, the status bar kept its "● live" and the details
    panel "Live progress from the server" next to "Cannot reach … reconnecting in 13 s"."""
    from dataclasses import replace

    from sgsend_desktop.core.model import EngineEvent
    from sgsend_desktop.gui.background import BackgroundRunner
    from sgsend_desktop.gui.engine_bridge import EngineBridge
    from sgsend_desktop.gui.main_window import MainWindow
    from sgsend_desktop.gui.settings import AppSettings

    window = MainWindow(AppSettings(data_dir), BackgroundRunner(), EngineBridge())
    window.confirm_quit = lambda: True
    qtbot.addWidget(window)
    away = replace(waiting(40), transfer_id="a1b2c3d4e5f6")
    window.on_engine_event(EngineEvent("added", away))
    qtbot.waitUntil(lambda: window.live_label.text() == "○ offline", timeout=3000)
    assert DetailsPanel.progress_source_text(away) == ""
    back = replace(away, reconnect_at=None, reconnect_reason=None, live_events=True, speed_bps=1e6)
    window.on_engine_event(EngineEvent("changed", back))
    qtbot.waitUntil(lambda: window.live_label.text() == "● live", timeout=3000)
    assert DetailsPanel.progress_source_text(back) != ""
    # S3: the API server away, the parts still going to the store (no reconnect wait), the stream down
    stream_down = replace(back, live_events=False, events_down=True)
    window.on_engine_event(EngineEvent("changed", stream_down))
    qtbot.waitUntil(lambda: window.live_label.text() == "○ events reconnecting", timeout=3000)


def test_details_say_when_live_progress_is_down_but_the_upload_goes_on() -> None:
    """An S3 send whose API server is away: parts still go to the store, the event stream is down."""
    base = dict(transfer_id="abc123def456", bytes_done=400)
    live = TransferSnapshot("r1", Direction.SEND, "big.iso", 1000, TransferState.UPLOADING,
                            live_events=True, **base)  # type: ignore[arg-type]
    down = TransferSnapshot("r1", Direction.SEND, "big.iso", 1000, TransferState.UPLOADING,
                            events_down=True, **base)  # type: ignore[arg-type]
    assert DetailsPanel.progress_source_text(live) == LIVE_TEXT
    assert DetailsPanel.progress_source_text(down) == EVENTS_DOWN_TEXT
    assert "reconnecting" in EVENTS_DOWN_TEXT and "still upload" in EVENTS_DOWN_TEXT


def test_retry_on_a_reconnecting_row_tries_the_server_now(qtbot: QtBot) -> None:
    """Retry (Ctrl+R, the details' Try now) on a row waiting for the server: one probe for all the
    waiting transfers, not a resume; a failed row in the same selection still resumes."""
    from sgsend_desktop.gui.backend import Backend
    from sgsend_desktop.gui.background import BackgroundRunner
    from sgsend_desktop.gui.commands import TransferCommands
    from sgsend_desktop.gui.rules import action_states, can_retry
    from tests.gui.standin_engine import StandInEngine

    engine = StandInEngine()
    commands = TransferCommands(BackgroundRunner())
    commands.attach(Backend(engine))  # type: ignore[arg-type]
    failed = TransferSnapshot("f1", Direction.SEND, "a.bin", 10, TransferState.FAILED, error="HTTP 500")
    engine._rows["f1"], engine._order = failed, ["f1"]
    away = waiting(40)
    assert can_retry(away) and action_states([away]).retry
    got: list[list[str]] = []
    commands.retry([away, failed], on_result=got.append)
    qtbot.waitUntil(lambda: bool(got), timeout=3000)
    assert sorted(got[0]) == ["f1", "r1"]
    assert engine.calls.count(("reconnect_now", "")) == 1
    assert engine._rows["f1"].state is TransferState.QUEUED  # the failed one resumed


def test_a_reconnecting_row_keeps_its_pause_and_cancel_buttons() -> None:
    """Found using the window: once Retry also meant *Try now*, a row waiting for its server showed the
    failed row's Retry and Remove buttons instead of Pause and Cancel."""
    from sgsend_desktop.gui.rules import hover_actions

    assert hover_actions(waiting(40)) == ["pause", "cancel"]
    assert hover_actions(waiting(40, TransferState.DOWNLOADING)) == ["pause", "cancel"]
    failed = TransferSnapshot("f1", Direction.SEND, "a.bin", 10, TransferState.FAILED, error="HTTP 500")
    assert hover_actions(failed) == ["retry", "discard"]


def test_outline_state_icons_take_the_selection_text_colour_on_a_selected_row(qtbot: QtBot) -> None:
    """Found using the window: the orange "reconnecting" ring on a selected (blue) row was washed out
    by the style's tint; outline icons now draw in the selection's text colour there, filled discs keep
    their own colour."""
    from PySide6.QtGui import QColor, QIcon, QPalette
    from PySide6.QtWidgets import QApplication

    from sgsend_desktop.gui.icons import state_color, state_icon

    palette = QApplication.palette()
    text = palette.color(QPalette.ColorRole.HighlightedText)

    def ring_colour(kind: str, mode: QIcon.Mode) -> QColor:
        image = state_icon(kind, palette).pixmap(32, 32, mode).toImage()
        return image.pixelColor(image.width() // 2, 2)  # the top of the ring (or disc)

    for kind in ("reconnecting", "paused", "queued-up"):
        assert ring_colour(kind, QIcon.Mode.Selected).name() == text.name(), kind
        assert ring_colour(kind, QIcon.Mode.Normal).name() == state_color(kind, palette).name(), kind
    done = state_color("done", palette).name()
    assert ring_colour("done", QIcon.Mode.Selected).name() == done
