"""Review findings: keyboard shortcuts on the queue, the Open-link dialog, stale progress, dark palette."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from sgsend_desktop.core.model import TransferState
from sgsend_desktop.gui.main_window import MainWindow
from tests.gui.test_window_unit import make_window


def _two_rows(qtbot: QtBot, tmp_path: Path, data_dir: Path):  # type: ignore[no-untyped-def]
    window, engine = make_window(qtbot, data_dir)
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_bytes(b"x")
    engine.send([tmp_path / "a.txt", tmp_path / "b.txt"])
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=3000)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    window.table.setFocus()
    window.select_transfer("t1")
    return window, engine


def test_space_and_delete_keys_on_the_queue(qtbot: QtBot, tmp_path: Path, data_dir: Path) -> None:
    window, engine = _two_rows(qtbot, tmp_path, data_dir)
    QTest.keyClick(window.table, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: ("paused", "t1") in engine.calls, timeout=3000)
    window.confirm.answer = False  # type: ignore[attr-defined]
    QTest.keyClick(window.table, Qt.Key.Key_Delete)  # asks first: "Keep going" keeps it
    assert window.confirm.asked[-1].title.startswith("Cancel")  # type: ignore[attr-defined]
    qtbot.wait(200)
    assert ("cancelled", "t1") not in engine.calls
    window.confirm.answer = True  # type: ignore[attr-defined]
    QTest.keyClick(window.table, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: ("cancelled", "t1") in engine.calls, timeout=3000)
    asked = len(window.confirm.asked)  # type: ignore[attr-defined]
    QTest.keyClick(window.table, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: ("discard", "t1") in engine.calls, timeout=3000)
    assert len(window.confirm.asked) == asked  # type: ignore[attr-defined]  # a cancelled row: nothing to lose


def test_ctrl_l_opens_the_link_dialog(qtbot: QtBot, tmp_path: Path, data_dir: Path) -> None:
    from sgsend_desktop.gui.dialogs.open_link import OpenLinkDialog

    window, _engine = _two_rows(qtbot, tmp_path, data_dir)
    QTest.keyClick(window.table, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: bool(window.findChildren(OpenLinkDialog)), timeout=3000)
    for dialog in window.findChildren(OpenLinkDialog):
        dialog.reject()


def test_ctrl_c_and_ctrl_down_on_the_queue(qtbot: QtBot, tmp_path: Path, data_dir: Path) -> None:
    from dataclasses import replace

    from PySide6.QtWidgets import QApplication

    window, engine = _two_rows(qtbot, tmp_path, data_dir)
    QTest.keyClick(window.table, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.model.row_of("t1") == 1, timeout=3000)
    link = "https://h/en-gb/download/#0123456789ab/" + "A" * 43
    engine.emit("done", replace(engine.snapshot("t1"), state=TransferState.DONE, share_link=link))
    qtbot.waitUntil(lambda: window.details.link_field.text() == link, timeout=3000)
    QApplication.clipboard().clear()
    QTest.keyClick(window.table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == link


def test_stale_socket_of_a_crashed_instance_does_not_block_start(qtbot: QtBot, data_dir: Path) -> None:
    import socket

    from PySide6.QtCore import QDir

    from sgsend_desktop.gui.single_instance import SingleInstanceServer, forward_to_running, server_name

    path = Path(QDir.tempPath()) / server_name(data_dir)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))  # a crashed instance leaves its socket file behind
    stale.close()
    try:
        assert path.exists()
        assert not forward_to_running(data_dir, ["x"])
        server = SingleInstanceServer(data_dir)
        assert server.listen()
        server.close()
    finally:
        path.unlink(missing_ok=True)


def test_a_second_listener_never_steals_the_running_instances_socket(qtbot: QtBot, data_dir: Path) -> None:
    """Two launches at once: the later one must not unlink the socket of the one already listening."""
    from PySide6.QtNetwork import QLocalSocket

    from sgsend_desktop.gui.single_instance import SingleInstanceServer, server_name

    first = SingleInstanceServer(data_dir)
    second = SingleInstanceServer(data_dir)
    assert first.listen()
    try:
        assert not second.listen()
        received: list[list[str]] = []
        first.activated.connect(received.append)
        probe = QLocalSocket()
        probe.connectToServer(server_name(data_dir))
        assert probe.waitForConnected(2000)
        probe.write(b'{"links": ["L"]}\n')
        probe.flush()
        qtbot.waitUntil(lambda: received == [["L"]], timeout=3000)
        probe.disconnectFromServer()
    finally:
        second.close()
        first.close()
        qtbot.wait(100)  # let the accepted sockets' disconnect handlers run while their server lives


def test_open_link_without_a_key_keeps_the_dialog_open_asking_for_it(qtbot: QtBot) -> None:
    from sgsend_desktop.gui.dialogs.open_link import OpenLinkDialog

    dialog = OpenLinkDialog()
    qtbot.addWidget(dialog)
    accepted: list[bool] = []
    dialog.accepted.connect(lambda: accepted.append(True))
    from sgsend_desktop.core.crypto import friendly_transfer_id

    # the id a friendly key names (a key for another transfer is refused in a sentence of its own)
    dialog.link_edit.setText(f"https://send.sgraph.ai/en-gb/download/#{friendly_transfer_id('apple-mango-5623')}")
    dialog.accept()
    assert accepted == [] and dialog.error_label.isVisibleTo(dialog)
    assert "key" in dialog.error_label.text().lower()
    dialog.key_edit.setText("apple-mango-5623")  # the separately sent key: now it is complete
    dialog.accept()
    assert accepted == [True]


def test_settings_opened_before_the_token_loaded_keep_the_stored_token(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    """Settings → OK right after launch (token still loading off the GUI thread) must not erase it."""
    from sgsend_desktop.gui.app import DesktopApp
    from sgsend_desktop.gui.settings import AppSettings, Preferences

    settings = AppSettings(data_dir)
    settings.save(Preferences(download_dir=str(tmp_path / "dl"), close_to_tray=False))
    settings.save_token("stored-token")
    desktop = DesktopApp(data_dir, tray=False)
    desktop.window.confirm_quit = lambda: True
    try:
        desktop.start()
        dialog = desktop.window.open_settings()  # before the engine (and the token) arrived
        dialog.workers_spin.setValue(2)
        dialog.accept()
        qtbot.waitUntil(lambda: desktop.backend is not None, timeout=20_000)
        label = desktop.window.server_label
        qtbot.waitUntil(lambda: label.text().startswith("Server: Local"), timeout=10_000)
        qtbot.waitUntil(lambda: desktop.runner.pending == 0, timeout=10_000)
        assert AppSettings(data_dir).load().workers == 2
        assert settings.load_token() == "stored-token"
        assert desktop.window.token == "stored-token"
    finally:
        desktop.close_now()


def test_late_progress_never_resurrects_a_discarded_row_or_undoes_done(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    """Engine threads race: a progress snapshot taken just before "removed"/"done" may arrive after it."""
    import threading
    from dataclasses import replace

    window, engine = make_window(qtbot, data_dir)
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_bytes(b"x" * 100)
    engine.send([tmp_path / "a.txt", tmp_path / "b.txt"])
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=3000)
    running = replace(engine.snapshot("t1"), state=TransferState.UPLOADING, bytes_done=50)
    uploading_b = replace(engine.snapshot("t2"), state=TransferState.UPLOADING, bytes_done=50)
    engine.discard("t1")
    engine.emit("done", replace(uploading_b, state=TransferState.DONE, bytes_done=100))
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=3000)
    qtbot.waitUntil(lambda: window.model.snapshot_of("t2").state is TransferState.DONE, timeout=3000)  # type: ignore[union-attr]

    def late() -> None:  # the scheduler thread delivering its stale snapshots
        engine.emit("progress", running)
        engine.emit("progress", uploading_b)

    thread = threading.Thread(target=late)
    thread.start()
    thread.join()
    batches = window.bridge.progress_batches
    qtbot.waitUntil(lambda: window.bridge.progress_batches > batches, timeout=3000)
    assert window.model.row_of("t1") == -1
    assert window.model.snapshot_of("t2").state is TransferState.DONE  # type: ignore[union-attr]


def test_total_line_says_what_is_left_to_go(qtbot: QtBot, tmp_path: Path, data_dir: Path) -> None:
    from dataclasses import replace

    window, engine = make_window(qtbot, data_dir)
    (tmp_path / "a.bin").write_bytes(b"x" * 1000)
    engine.send([tmp_path / "a.bin"])
    engine.emit("changed", replace(engine.snapshot("t1"), state=TransferState.UPLOADING, bytes_done=300))
    qtbot.waitUntil(lambda: "to go" in window.total_label.text(), timeout=3000)
    qtbot.waitUntil(lambda: "700 B of 1000 B to go" in window.total_label.text(), timeout=3000)


def test_total_line_counts_rows_of_unknown_size_apart(qtbot: QtBot, tmp_path: Path, data_dir: Path) -> None:
    """A folder waiting to be zipped has no size yet: the line must not read "100 % · 0 B to go" for it."""
    from dataclasses import replace

    window, engine = make_window(qtbot, data_dir)
    (tmp_path / "a.bin").write_bytes(b"x" * 1000)
    (tmp_path / "b.bin").write_bytes(b"x" * 10)
    engine.send([tmp_path / "a.bin", tmp_path / "b.bin"])
    engine.emit("changed", replace(engine.snapshot("t2"), size=0))
    qtbot.waitUntil(lambda: "1000 B + 1 of unknown size to go" in window.total_label.text(), timeout=3000)


def _long_queue_at_its_top(qtbot: QtBot, tmp_path: Path, data_dir: Path) -> MainWindow:
    """A window whose queue holds 40 sends, more than it shows, with the first selected and in view."""
    window, _engine = make_window(qtbot, data_dir)
    window.resize(1000, 700)
    files = []
    for n in range(40):
        files.append(tmp_path / f"old-{n:02d}.bin")
        files[-1].write_bytes(b"x" * (n + 1))
    window.send_paths(files, together=False)
    qtbot.waitUntil(lambda: window.model.rowCount() == 40, timeout=3000)
    window.select_transfer("t1")
    window.table.scrollToTop()
    return window


def _fully_shown(window: MainWindow, row: int) -> bool:
    rect = window.table.visualRect(window.model.index(row, 0))
    return window.table.viewport().rect().contains(rect)


def test_files_added_to_a_long_queue_come_into_view(qtbot: QtBot, tmp_path: Path, data_dir: Path) -> None:
    """Seen using the window: files added below 32 finished rows were queued out of sight (only the total
    line moved). The selection stays where it is; the first new row is scrolled into view."""
    window = _long_queue_at_its_top(qtbot, tmp_path, data_dir)
    new = tmp_path / "new.bin"
    new.write_bytes(b"y" * 10)
    window.send_paths([new], together=False)
    qtbot.waitUntil(lambda: window.model.rowCount() == 41, timeout=3000)
    qtbot.waitUntil(lambda: _fully_shown(window, 40), timeout=3000)
    assert [s.id for s in window.selected_snapshots()] == ["t1"]


def test_a_link_opened_below_a_long_queue_is_selected_and_fully_shown(
        qtbot: QtBot, tmp_path: Path, data_dir: Path) -> None:
    """Seen using the window: the download of a pasted link was selected at the bottom of a long queue
    but left half hidden (the table scrolled before the details panel took its new size)."""
    window = _long_queue_at_its_top(qtbot, tmp_path, data_dir)
    window.receive_link("http://127.0.0.1:1/en-gb/download/#abcdef123456/" + "A" * 43)
    qtbot.waitUntil(lambda: [s.id for s in window.selected_snapshots()] == ["t41"], timeout=3000)
    qtbot.waitUntil(lambda: _fully_shown(window, 40), timeout=3000)


def test_the_selected_row_stays_shown_when_the_details_panel_grows(
        qtbot: QtBot, tmp_path: Path, data_dir: Path) -> None:
    """Seen using the window: a download selected at the bottom of a long queue was fully shown while it
    ran, then half hidden once it finished (the details panel grew its "Saved to" line and took that
    height from the table). A row the user scrolled away from stays out of view."""
    from dataclasses import replace

    window = _long_queue_at_its_top(qtbot, tmp_path, data_dir)
    window.receive_link("http://127.0.0.1:1/en-gb/download/#abcdef123456/" + "A" * 43)
    qtbot.waitUntil(lambda: [s.id for s in window.selected_snapshots()] == ["t41"], timeout=3000)
    qtbot.waitUntil(lambda: _fully_shown(window, 40), timeout=3000)
    engine = window.commands.backend.engine
    height = window.table.viewport().height()
    saved = tmp_path / "big-video.mkv"
    saved.write_bytes(b"v")
    engine.emit("done", replace(engine.snapshot("t41"), state=TransferState.DONE, saved_path=str(saved)))
    qtbot.waitUntil(lambda: window.model.snapshot_of("t41").state is TransferState.DONE,  # type: ignore[union-attr]
                    timeout=3000)
    grown = window.details_scroll  # the pane's scroll area is what takes height from the table
    grown.setMinimumHeight(grown.height() + 90)  # and it grows some more
    qtbot.waitUntil(lambda: window.table.viewport().height() < height, timeout=3000)
    qtbot.wait(50)
    assert _fully_shown(window, 40)
    window.table.scrollToTop()  # the user looks at the top: a later shrink leaves that alone
    grown.setMinimumHeight(grown.height() + 60)
    qtbot.wait(100)
    assert not _fully_shown(window, 40) and _fully_shown(window, 0)


def test_a_habitual_paste_into_the_prefilled_open_link_dialog_replaces_the_link(qtbot: QtBot) -> None:
    """The dialog prefills the link on the clipboard; a user who then presses Ctrl+V anyway must get that
    link once, not twice in a row (which read as a damaged key)."""
    from PySide6.QtWidgets import QApplication

    from sgsend_desktop.gui.dialogs.open_link import OpenLinkDialog

    link = "https://send.sgraph.ai/en-gb/download/#0123456789ab/" + "A" * 43
    QApplication.clipboard().setText(link)
    dialog = OpenLinkDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.link_edit.text() == link
    QTest.keyClick(dialog.link_edit, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert dialog.link_edit.text() == link
    dialog.reject()
