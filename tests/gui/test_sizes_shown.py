"""The Size column and the details panel show a finished file's own size, as a file manager would: an
empty file is "0 B", not the 62 B of its encrypted payload (the envelope, IV and tag), both for the
sender and for the recipient who saved it. While a transfer moves, the encrypted bytes moved are shown
(that is what the progress counts)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from sgsend_desktop.core.model import Direction, TransferState
from sgsend_desktop.gui.app import DesktopApp
from sgsend_desktop.gui.dialogs.history import HistoryDialog
from sgsend_desktop.gui.drop_zone import deliver_drop
from sgsend_desktop.gui.queue_model import Column
from tests.gui.real_app import rows, start_desktop, wait_state
from tests.helpers.servers import running_server


def size_cell(desktop: DesktopApp, local_id: str) -> str:
    model = desktop.window.model
    return str(model.index(model.row_of(local_id), Column.SIZE).data(Qt.ItemDataRole.DisplayRole))


def test_finished_rows_show_the_files_own_size_for_sender_and_recipient(
        qtbot: QtBot, tmp_path: Path, data_dir: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    small = tmp_path / "ünïcödé naïve file.txt"
    small.write_bytes("héllo wörld\n".encode())  # 14 bytes
    downloads = tmp_path / "downloads"
    with running_server(tmp_path / "serve") as server:
        desktop = start_desktop(qtbot, data_dir, server.url, downloads)
        try:
            window = desktop.window
            assert deliver_drop(window.drop_zone, [empty, small])
            qtbot.waitUntil(lambda: len(rows(desktop)) == 2, timeout=10_000)
            by_name = {s.name: s.id for s in rows(desktop)}
            sent = {name: wait_state(qtbot, desktop, local_id, TransferState.DONE)
                    for name, local_id in by_name.items()}
            assert sent["empty.txt"].size > 40  # the payload: envelope, IV and tag around no bytes
            assert size_cell(desktop, by_name["empty.txt"]) == "0 B"
            assert size_cell(desktop, by_name[small.name]) == "14 B"
            window.select_transfer(by_name[small.name])
            qtbot.waitUntil(lambda: "14 B" in window.details.subtitle.text(), timeout=5_000)

            link = sent[small.name].share_link
            assert link
            dialog = window.open_link_dialog(link)
            qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda: len(rows(desktop, Direction.RECEIVE)) == 1, timeout=10_000)
            got_id = rows(desktop, Direction.RECEIVE)[0].id
            got = wait_state(qtbot, desktop, got_id, TransferState.DONE)
            assert got.saved_path and Path(got.saved_path).stat().st_size == 14
            assert got.file_size == 14 and got.size > 14
            assert size_cell(desktop, got_id) == "14 B"

            history = HistoryDialog(desktop.window.model.snapshots())
            qtbot.addWidget(history)
            cells = history.model.index
            sizes = {cells(row, 2).data(): cells(row, 3).data()
                     for row in range(history.model.rowCount()) if cells(row, 1).data() != "Received"}
            assert sizes == {"empty.txt": "0 B", small.name: "14 B"}
        finally:
            desktop.close_now()
