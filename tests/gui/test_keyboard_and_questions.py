"""Issue 11: the window is usable from the keyboard alone, and asks before what cannot be undone.

Real widgets and real key events (QTest); the in-memory stand-in engine records the commands.
"""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QApplication, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from sgsend_desktop.core.model import Direction, TransferSnapshot, TransferState
from sgsend_desktop.gui.main_window import MainWindow
from sgsend_desktop.gui.queue_model import Column
from tests.gui.standin_engine import StandInEngine
from tests.gui.test_window_unit import Answers, make_window

LINK = "https://h/en-gb/download/#0123456789ab/" + "A" * 43


def _rows(qtbot: QtBot, tmp_path: Path, data_dir: Path, count: int = 3) -> tuple[MainWindow, StandInEngine]:
    window, engine = make_window(qtbot, data_dir)
    files = []
    for n in range(count):
        path = tmp_path / f"file{n}.pdf"
        path.write_bytes(b"x" * 1000)
        files.append(path)
    engine.send(files)
    qtbot.waitUntil(lambda: window.model.rowCount() == count, timeout=3000)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    return window, engine


def _set(engine: StandInEngine, local_id: str, **changes: object) -> None:
    engine.emit("changed", replace(engine.snapshot(local_id), **changes))  # type: ignore[arg-type]


def _done_send(engine: StandInEngine, local_id: str) -> None:
    engine.emit(
        "done",
        replace(
            engine.snapshot(local_id),
            state=TransferState.DONE,
            share_link=LINK,
            link_only=LINK.rsplit("/", 1)[0],
            key_text="A" * 43,
            transfer_id="0123456789ab",
        ),
    )


def _tab_cycle(
    window: MainWindow, start: QWidget, presses: int = 80, backwards: bool = False
) -> list[QWidget]:
    """Press Tab (or Shift+Tab) from ``start`` and collect where the focus goes."""
    start.setFocus(Qt.FocusReason.TabFocusReason)
    seen: list[QWidget] = []
    for _ in range(presses):
        focused = QApplication.focusWidget()
        assert focused is not None, "the focus left the window"
        seen.append(focused)
        modifier = Qt.KeyboardModifier.ShiftModifier if backwards else Qt.KeyboardModifier.NoModifier
        QTest.keyClick(focused, Qt.Key.Key_Backtab if backwards else Qt.Key.Key_Tab, modifier)
    return seen


def test_tab_leaves_the_queue_and_reaches_every_control(qtbot: QtBot, tmp_path: Path, data_dir: Path) -> None:
    """The old trap: Tab moved from cell to cell inside the queue for ever. Now Tab goes toolbar → send
    options → queue → the details panel's buttons → toolbar, and the buttons work from the keyboard."""
    window, engine = _rows(qtbot, tmp_path, data_dir)
    _done_send(engine, "t1")
    window.select_transfer("t1")
    qtbot.waitUntil(lambda: window.details.link_field.text() == LINK, timeout=3000)
    first = window.row_buttons["add_files"]
    seen = _tab_cycle(window, first)
    cycle = seen[: seen.index(first, 1)] if first in seen[1:] else seen
    assert first in seen[1:], "Tab never came back to the toolbar: a keyboard trap"
    assert cycle.count(window.table) == 1, "Tab stays inside the queue"
    toolbar = [b for b in window.row_buttons.values() if b.isEnabled() and b.isVisible()]
    options = window.send_options.focus_chain()
    details = [
        window.details.copy_link_button,
        window.details.copy_link_only_button,
        window.details.copy_key_button,
        window.details.qr_toggle,
        window.details.delete_button,
    ]
    for widget in [*toolbar, *options, window.table, *details]:
        assert widget in cycle, f"Tab never reaches {widget.accessibleName() or widget}"
    order = [cycle.index(w) for w in (toolbar[0], options[0], window.table, details[0])]
    assert order == sorted(order), "Tab order is not toolbar → options → queue → details"
    # and backwards out of the queue too
    back = _tab_cycle(window, window.table, presses=3, backwards=True)
    assert back[1] is not window.table

    # keyboard only: Tab to "Copy link" and press Space
    QApplication.clipboard().clear()
    window.details.copy_link_button.setFocus(Qt.FocusReason.TabFocusReason)
    QTest.keyClick(window.details.copy_link_button, Qt.Key.Key_Space)
    assert QApplication.clipboard().text() == LINK
    # QR code from the keyboard
    window.details.qr_toggle.setFocus(Qt.FocusReason.TabFocusReason)
    QTest.keyClick(window.details.qr_toggle, Qt.Key.Key_Space)
    assert window.details.qr_label.isVisible()


def test_keyboard_reaches_open_show_in_folder_unpack_and_retry(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    window, engine = _rows(qtbot, tmp_path, data_dir)
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("photos/a.jpg", b"1")
    received = TransferSnapshot(
        "r1",
        Direction.RECEIVE,
        "photos.zip",
        100,
        TransferState.DONE,
        saved_path=str(archive),
        transfer_id="0123456789ab",
    )
    engine.emit("added", received)
    qtbot.waitUntil(lambda: window.model.row_of("r1") >= 0, timeout=3000)
    window.select_transfer("r1")
    details = window.details
    cycle = _tab_cycle(window, window.table, presses=40)
    for widget in (details.open_button, details.show_folder_button, details.unpack_button):
        assert widget in cycle, widget.accessibleName()
    opened: list[str] = []
    details.open_url = lambda url: opened.append(url.toLocalFile())
    details.open_button.setFocus(Qt.FocusReason.TabFocusReason)
    QTest.keyClick(details.open_button, Qt.Key.Key_Space)
    assert opened == [str(archive)]

    _set(engine, "t2", state=TransferState.FAILED, error="The server refused the upload.")
    window.select_transfer("t2")
    qtbot.waitUntil(details.retry_button.isVisible, timeout=3000)
    assert details.retry_button in _tab_cycle(window, window.table, presses=30)
    details.retry_button.setFocus(Qt.FocusReason.TabFocusReason)
    QTest.keyClick(details.retry_button, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: ("queued", "t2") in engine.calls, timeout=3000)


def test_every_toolbar_action_has_an_icon_and_a_name(qtbot: QtBot, data_dir: Path) -> None:
    window, _engine = make_window(qtbot, data_dir)
    assert window.toolbar.isVisible()
    for key, button in window.row_buttons.items():
        assert not button.icon().isNull(), key
        assert button.accessibleName(), key
        assert button.focusPolicy() & Qt.FocusPolicy.TabFocus, key


def test_del_asks_before_cancelling_and_a_cancelled_row_starts_again(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    window, engine = _rows(qtbot, tmp_path, data_dir, count=2)
    answers = window.confirm
    assert isinstance(answers, Answers)
    _set(engine, "t1", state=TransferState.UPLOADING, bytes_done=400)
    window.select_transfer("t1")
    window.table.setFocus()
    answers.answer = False
    QTest.keyClick(window.table, Qt.Key.Key_Delete)
    assert len(answers.asked) == 1 and answers.asked[0].title == "Cancel sending “file0.pdf”?"
    assert "cannot be resumed" in answers.asked[0].text and answers.asked[0].reject == "Keep going"
    assert "“Start again”" in answers.asked[0].text  # the button the cancelled row offers, by its name
    qtbot.wait(100)
    assert ("cancelled", "t1") not in engine.calls
    answers.answer = True
    QTest.keyClick(window.table, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: window.model.snapshot_of("t1").state is TransferState.CANCELLED, timeout=3000)  # type: ignore[union-attr]
    # the cancelled row says so and offers to start again (it used to be a dead end)
    assert window.actions_.retry.isEnabled()
    assert window.details.retry_button.isVisible() and window.details.retry_button.text() == "Start again"
    assert "Cancelled" in window.details.error_label.text()
    window.actions_.retry.trigger()
    qtbot.waitUntil(lambda: ("send_again", "t1") in engine.calls, timeout=3000)
    qtbot.waitUntil(lambda: window.model.row_of("t1") == -1, timeout=3000)
    new = window.selected_snapshot()
    assert new is not None and new.name == "file0.pdf" and new.state is TransferState.QUEUED


def test_shift_del_asks_for_running_and_linked_rows_only(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    window, engine = _rows(qtbot, tmp_path, data_dir)
    answers = window.confirm
    assert isinstance(answers, Answers)
    _set(engine, "t1", state=TransferState.UPLOADING, bytes_done=10)
    _done_send(engine, "t2")
    _set(engine, "t3", state=TransferState.CANCELLED)
    window.table.setFocus()
    answers.answer = False
    for local_id, asks in (("t1", "still running"), ("t2", "link and key are forgotten")):
        window.select_transfer(local_id)
        QTest.keyClick(window.table, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)
        assert asks in answers.asked[-1].text
    qtbot.wait(100)
    assert not [c for c in engine.calls if c[0] == "discard"]
    window.select_transfer("t3")  # cancelled: nothing is lost, no question
    asked = len(answers.asked)
    QTest.keyClick(window.table, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: ("discard", "t3") in engine.calls, timeout=3000)
    assert len(answers.asked) == asked


def test_delete_from_server_asks_then_the_row_says_deleted(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    window, engine = _rows(qtbot, tmp_path, data_dir, count=1)
    answers = window.confirm
    assert isinstance(answers, Answers)
    _done_send(engine, "t1")
    window.select_transfer("t1")
    qtbot.waitUntil(window.details.delete_button.isEnabled, timeout=3000)
    answers.answer = False
    qtbot.mouseClick(window.details.delete_button, Qt.MouseButton.LeftButton)
    assert answers.asked[-1].title == "Delete “file0.pdf” from the server?"
    qtbot.wait(100)
    assert ("delete_remote", "t1") not in engine.calls
    answers.answer = True
    qtbot.mouseClick(window.details.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.model.snapshot_of("t1").deleted_remote, timeout=3000)  # type: ignore[union-attr]
    row = window.model.row_of("t1")
    assert window.model.index(row, Column.STATE).data() == "Deleted from server"
    details = window.details
    assert details.deleted_label.isVisible() and not details.share_box.isVisible()
    assert not details.qr_label.isVisible() and details.link_field.text() == ""
    assert not window.actions_.delete_remote.isEnabled() and not window.actions_.copy_link.isEnabled()


def test_quit_from_the_tray_asks_while_transfers_run(qtbot: QtBot, tmp_path: Path, data_dir: Path) -> None:
    from sgsend_desktop.gui.tray import TrayController

    window, engine = _rows(qtbot, tmp_path, data_dir, count=1)
    tray = TrayController(window, native=False)
    window.confirm_quit = window._ask_quit  # the real question, through window.confirm
    answers = window.confirm
    assert isinstance(answers, Answers)
    _set(engine, "t1", state=TransferState.UPLOADING, bytes_done=10)
    answers.answer = False
    quits: list[bool] = []
    window.quit_requested.connect(lambda: quits.append(True))
    tray.quit_action.trigger()
    assert (
        answers.asked[-1].title == "Quit SGraph Send?"
        and "1 transfer is still running" in answers.asked[-1].text
    )
    assert quits == []
    answers.answer = True
    tray.quit_action.trigger()
    assert quits == [True]


def test_the_real_question_box_defaults_to_the_safe_answer(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    """The QMessageBox itself: Enter keeps the transfer; the destructive button must be chosen."""
    from sgsend_desktop.gui.dialogs.confirm import ask

    window, engine = _rows(qtbot, tmp_path, data_dir, count=1)
    window.confirm = lambda question: ask(window, question)
    _set(engine, "t1", state=TransferState.UPLOADING, bytes_done=10)
    window.select_transfer("t1")
    seen: list[str] = []

    def answer(key: Qt.Key, button_text: str | None = None) -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox), box
        seen.append(box.text())
        if button_text is None:
            QTest.keyClick(box, key)
        else:
            button = next(b for b in box.findChildren(QAbstractButton) if b.text() == button_text)
            button.click()

    QTimer.singleShot(200, lambda: answer(Qt.Key.Key_Return))
    window.actions_.cancel.trigger()
    assert seen and seen[0].startswith("Cancel sending")
    qtbot.wait(100)
    assert ("cancelled", "t1") not in engine.calls
    QTimer.singleShot(200, lambda: answer(Qt.Key.Key_Return, "Cancel transfer"))
    window.actions_.cancel.trigger()
    qtbot.waitUntil(lambda: ("cancelled", "t1") in engine.calls, timeout=3000)


def test_multi_select_acts_on_the_selection(qtbot: QtBot, tmp_path: Path, data_dir: Path) -> None:
    window, engine = _rows(qtbot, tmp_path, data_dir, count=4)
    answers = window.confirm
    assert isinstance(answers, Answers)
    _set(engine, "t1", state=TransferState.UPLOADING, bytes_done=10)
    _set(engine, "t2", state=TransferState.UPLOADING, bytes_done=10)
    _done_send(engine, "t3")
    engine.emit("done", replace(engine.snapshot("t4"), state=TransferState.DONE, share_link=LINK + "B"))
    window.table.setFocus()
    window.select_transfer("t1")
    QTest.keyClick(window.table, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)  # keyboard selection
    assert [s.id for s in window.selected_snapshots()] == ["t1", "t2"]
    assert window.details.title.full_text() == "2 transfers selected"
    window.actions_.pause.trigger()
    qtbot.waitUntil(lambda: {("paused", "t1"), ("paused", "t2")} <= set(engine.calls), timeout=3000)
    qtbot.waitUntil(window.actions_.resume.isEnabled, timeout=3000)
    window.actions_.resume.trigger()
    qtbot.waitUntil(lambda: {("queued", "t1"), ("queued", "t2")} <= set(engine.calls), timeout=3000)
    # the two done sends: one Ctrl+C copies both links
    QTest.keyClick(window.table, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert len(window.selected_snapshots()) == 4
    QApplication.clipboard().clear()
    QTest.keyClick(window.table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == f"{LINK}\n{LINK}B"
    # remove all four: one question
    asked = len(answers.asked)
    QTest.keyClick(window.table, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)
    assert len(answers.asked) == asked + 1 and answers.asked[-1].title == "Remove 4 transfers from the list?"
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=3000)
