"""A transfer waiting for an unreachable server: what the queue row and the details panel show."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from sgsend_desktop.core.model import Direction, TransferSnapshot, TransferState
from sgsend_desktop.gui.details_panel import DetailsPanel
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
    assert state_label(snap, now) == "Reconnecting… next try in 40 s"
    assert reconnect_text(snap, now) == f"{REASON} — reconnecting in 40 s"
    assert state_label(snap, now + 41) == "Reconnecting… trying now"
    assert reconnect_text(snap, now + 41) == f"{REASON} — reconnecting now"
    assert state_label(snap, now - 100) == "Reconnecting… next try in 2 min 20 s"
    paused = TransferSnapshot("r1", Direction.SEND, "big.iso", 1000, TransferState.PAUSED,
                              reconnect_at=now + 40, reconnect_reason=REASON)
    assert state_label(paused, now) == "Paused" and reconnect_text(paused, now) == ""


def test_queue_row_and_details_panel_show_reconnecting(qtbot: QtBot) -> None:
    model = TransferQueueModel()
    model.upsert(waiting(40.4))
    assert model.index(0, Column.STATE).data() in ("Reconnecting… next try in 40 s",
                                                   "Reconnecting… next try in 39 s")  # a slow machine
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
    assert "Reconnecting… next try in" in panel.subtitle.text()
    assert not panel.error_label.isVisible() and not panel.retry_button.isVisible()
    done = TransferSnapshot("r1", Direction.SEND, "big.iso", 1000, TransferState.UPLOADING, bytes_done=500)
    panel.show_snapshot(done)
    assert not panel.reconnect_label.isVisible()
