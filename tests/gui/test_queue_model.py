"""The queue model and the bridge's coalescing, with the in-memory stand-in (no server needed)."""

from __future__ import annotations

import threading
from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableView
from pytestqt.qtbot import QtBot

from sgsend_desktop.core.model import Direction, EngineEvent, TransferSnapshot, TransferState
from sgsend_desktop.gui.engine_bridge import EngineBridge
from sgsend_desktop.gui.formatting import format_eta, format_size, format_speed, progress_fraction
from sgsend_desktop.gui.progress_delegate import ProgressDelegate
from sgsend_desktop.gui.qr import qr_image, qr_matrix
from sgsend_desktop.gui.queue_model import PROGRESS_ROLE, Column, TransferQueueModel


def snap(
    local_id: str,
    state: TransferState = TransferState.UPLOADING,
    done: int = 0,
    size: int = 1000,
    **extra: object,
) -> TransferSnapshot:
    return TransferSnapshot(
        local_id, Direction.SEND, f"{local_id}.bin", size, state, bytes_done=done, **extra
    )  # type: ignore[arg-type]


def test_formatting() -> None:
    assert format_size(0) == "0 B"
    assert format_size(1536) == "1.5 KB"
    assert format_size(12 * 1024 * 1024) == "12.0 MB"
    assert format_eta(None) == ""
    assert format_eta(59.4) == "59 s"
    assert format_eta(3725) == "1 h 02 min"
    assert progress_fraction(snap("a", done=250)) == 0.25
    assert progress_fraction(snap("a", TransferState.DONE, done=0)) == 1.0
    assert progress_fraction(snap("a", size=0)) == 0.0


def test_upsert_updates_in_place_and_remove(qtbot: QtBot) -> None:
    model = TransferQueueModel()
    model.upsert(snap("a"))
    model.upsert(snap("b"))
    assert model.rowCount() == 2
    with qtbot.waitSignal(model.dataChanged):
        model.upsert(snap("a", done=500))
    assert model.rowCount() == 2
    assert model.index(0, Column.PROGRESS).data(PROGRESS_ROLE) == 500
    assert model.index(0, Column.NAME).data() == "a.bin"
    failed = snap("b", TransferState.FAILED, error="The server refused the upload.")
    model.upsert(failed)
    assert "refused" in model.index(1, Column.NAME).data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(1, Column.STATE).data() == "Failed"
    model.remove("a")
    assert model.rowCount() == 1 and model.row_of("b") == 0


def test_the_size_column_counts_moving_bytes_until_a_transfer_is_over() -> None:
    model = TransferQueueModel()
    model.upsert(snap("a", done=250, size=4000, file_size=3938))
    assert model.index(0, Column.SIZE).data() == "250 B of 3.9 KB"
    model.upsert(snap("a", TransferState.PAUSED, done=250, size=4000, file_size=3938))
    assert model.index(0, Column.SIZE).data() == "250 B of 3.9 KB"
    model.upsert(snap("a", TransferState.CANCELLED, done=0, size=4000, file_size=3938))
    assert model.index(0, Column.SIZE).data() == "3.8 KB"  # the file's own size, not "0 B of 3.9 KB"
    model.upsert(snap("a", TransferState.FAILED, done=250, size=4000, file_size=3938))
    assert model.index(0, Column.SIZE).data() == "250 B of 3.9 KB"  # how far it got: Retry goes on


def test_a_finishing_row_shows_no_speed_and_no_time_left() -> None:
    """Found using the window: "Finishing · 3.9 MB/s · 0 s" while the server assembled the parts —
    every byte had moved; the speed was the last upload's and "0 s" was not true either."""
    model = TransferQueueModel()
    model.upsert(snap("a", done=500, speed_bps=4e6, eta_seconds=2.0))
    assert model.index(0, Column.SPEED).data() == format_speed(4e6)
    assert model.index(0, Column.ETA).data() == format_eta(2.0)
    model.upsert(snap("a", TransferState.COMPLETING, done=1000, speed_bps=3.9e6, eta_seconds=0.0))
    assert model.index(0, Column.SPEED).data() == "" and model.index(0, Column.ETA).data() == ""
    assert model.totals().speed_bps == 0.0
    from sgsend_desktop.gui.details_panel import DetailsPanel

    summary = DetailsPanel.summary(snap("a", TransferState.COMPLETING, done=1000, speed_bps=3.9e6,
                                        eta_seconds=0.0))
    assert summary.startswith("Send · Finishing") and "/s" not in summary and "left" not in summary


def test_add_missing_keeps_newer_rows_and_set_order() -> None:
    model = TransferQueueModel()
    model.upsert(snap("a", TransferState.DONE, done=1000))
    model.add_missing([snap("a", TransferState.UPLOADING, done=10), snap("b"), snap("c")])
    assert model.snapshot_of("a").state is TransferState.DONE  # type: ignore[union-attr]
    model.set_order(["c", "a", "b"])
    assert [s.id for s in model.snapshots()] == ["c", "a", "b"]
    assert model.row_of("b") == 2


def test_totals_count_unfinished_bytes() -> None:
    model = TransferQueueModel()
    model.upsert(snap("a", done=500, speed_bps=100.0))
    model.upsert(snap("b", TransferState.DONE, done=1000))
    totals = model.totals()
    assert (totals.count, totals.active, totals.bytes_done, totals.bytes_total) == (2, 1, 500, 1000)
    assert totals.speed_bps == 100.0


def test_progress_delegate_paints_a_bar(qtbot: QtBot) -> None:
    model = TransferQueueModel()
    model.upsert(snap("a", done=700))
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setItemDelegateForColumn(Column.PROGRESS, ProgressDelegate(view))
    view.resize(900, 200)
    view.show()
    image = view.viewport().grab().toImage()
    rect = view.visualRect(model.index(0, Column.PROGRESS))
    colours = {image.pixel(x, rect.center().y()) for x in range(rect.left() + 6, rect.right() - 6)}
    assert len(colours) > 2  # a filled part, an empty part and text: not a blank cell


def test_bridge_coalesces_progress_from_threads(qtbot: QtBot) -> None:
    bridge = EngineBridge(interval_ms=100)
    batches: list[list[TransferSnapshot]] = []
    bridge.progress_received.connect(batches.append)

    def flood() -> None:
        for i in range(1, 5001):
            bridge.listener(EngineEvent("progress", snap("a", done=i % 1000)))
        bridge.listener(EngineEvent("progress", snap("a", done=999)))

    thread = threading.Thread(target=flood)
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: bool(batches) and batches[-1][-1].bytes_done == 999, timeout=2000)
    assert sum(len(b) for b in batches) <= 5  # 5001 reports became a handful of repaints
    bridge.stop()


def test_state_event_supersedes_pending_progress(qtbot: QtBot) -> None:
    bridge = EngineBridge(interval_ms=10_000)  # never flushes by itself during the test
    events: list[EngineEvent] = []
    bridge.event_received.connect(events.append)
    progress: list[list[TransferSnapshot]] = []
    bridge.progress_received.connect(progress.append)
    bridge.listener(EngineEvent("progress", snap("a", done=10)))
    done = replace(snap("a", TransferState.DONE, done=1000))
    threading.Thread(target=bridge.listener, args=(EngineEvent("done", done),)).start()
    qtbot.waitUntil(lambda: len(events) == 1, timeout=2000)
    bridge.flush()
    assert events[0].snapshot.state is TransferState.DONE
    assert progress == []  # the stale 10-byte progress was dropped, not replayed over "done"
    bridge.stop()


def test_qr_code_of_a_link() -> None:
    link = "https://send.example/en-gb/download/#0123456789ab/" + "A" * 43
    matrix = qr_matrix(link)
    assert len(matrix) >= 29 and any(any(row) for row in matrix)
    image = qr_image(link, module_px=3)
    assert image.width() == len(matrix) * 3
    assert image.pixelColor(0, 0).name() == "#ffffff"  # quiet zone
    assert image.pixelColor(4 * 3 + 1, 4 * 3 + 1).name() == "#000000"  # finder pattern corner


def test_the_total_speed_counts_files_that_finish_within_a_second(qtbot: QtBot) -> None:
    """Found using the window: 50 photos under an 8 MB/s limit read "4.2 MB/s" in the total line: each
    finished before its own speed was measured, and a finished row has none. The total now comes from
    the bytes all the rows moved over the last seconds."""
    now = [100.0]
    model = TransferQueueModel(clock=lambda: now[0])
    kb = 1024
    model.upsert_many([snap(f"p{n}", TransferState.QUEUED, size=500 * kb) for n in range(12)])
    model.upsert(snap("movie", TransferState.UPLOADING, size=300 * 1024 * kb, speed_bps=0.0))
    speeds = []
    for n in range(12):  # a photo finishes every 0.25 s: 2000 KB/s
        model.upsert(snap(f"p{n}", TransferState.DONE, done=500 * kb, size=500 * kb))
        speeds.append(model.totals().speed_bps)
        now[0] += 0.25
    assert speeds[0] == 0.0  # not before a second of samples
    assert all(abs(speed - 2000 * kb) < 1 for speed in speeds[5:]), speeds
    model.remove("p0")  # rows going away do not read as a negative speed
    assert model.totals().speed_bps == 0.0
    model.upsert(snap("movie", TransferState.UPLOADING, done=0, size=300 * 1024 * kb, speed_bps=3e6))
    assert model.totals().speed_bps == 3e6  # a row's own speed when it is the larger
