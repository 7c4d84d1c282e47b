"""Issue 11: what the window shows — honest states, readable text, the drop target, the rows, History,
Settings, About — on the real widgets (stand-in engine for the commands)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.qtbot import QtBot

from sgsend_desktop.core.model import Direction, TransferSnapshot, TransferState
from sgsend_desktop.gui.colors import ToneLabel, contrast, error_color, secondary_text
from sgsend_desktop.gui.dialogs.history import EMPTY_TEXT, HistoryDialog
from sgsend_desktop.gui.dialogs.open_link import OpenLinkDialog
from sgsend_desktop.gui.dialogs.settings_dialog import SettingsDialog
from sgsend_desktop.gui.drop_zone import deliver_drop
from sgsend_desktop.gui.formatting import display_name
from sgsend_desktop.gui.main_window import MainWindow
from sgsend_desktop.gui.progress_delegate import BADGE
from sgsend_desktop.gui.queue_model import PROGRESS_TEXT_ROLE, Column, TransferQueueModel
from sgsend_desktop.gui.settings import Preferences
from tests.gui.standin_engine import StandInEngine
from tests.gui.test_keyboard_and_questions import LINK, _done_send, _rows, _set
from tests.gui.test_window_unit import make_window


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, color in (
        (QPalette.ColorRole.Window, QColor(40, 42, 46)),
        (QPalette.ColorRole.WindowText, QColor(230, 230, 230)),
        (QPalette.ColorRole.Base, QColor(30, 31, 34)),
        (QPalette.ColorRole.AlternateBase, QColor(46, 48, 52)),
        (QPalette.ColorRole.Text, QColor(230, 230, 230)),
        (QPalette.ColorRole.Button, QColor(52, 54, 58)),
        (QPalette.ColorRole.ButtonText, QColor(230, 230, 230)),
        (QPalette.ColorRole.Highlight, QColor(61, 130, 214)),
        (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
        (QPalette.ColorRole.Mid, QColor(90, 92, 96)),
    ):
        palette.setColor(role, color)
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor(100, 100, 100))
    return palette


@pytest.fixture
def palettes(qapp: QApplication):  # type: ignore[no-untyped-def]
    original = QApplication.palette()
    yield
    QApplication.setPalette(original)


def _color_pixels(image: QImage, color: QColor, tolerance: int = 30) -> int:
    count = 0
    for x in range(image.width()):
        for y in range(image.height()):
            pixel = image.pixelColor(x, y)
            if (
                abs(pixel.red() - color.red())
                + abs(pixel.green() - color.green())
                + abs(pixel.blue() - color.blue())
            ) <= tolerance:
                count += 1
    return count


def test_status_bar_messages_have_room_to_be_seen(qtbot: QtBot, data_dir: Path) -> None:
    """Found using the window: "Copied the link.", "Queued 2 files to send." and the other status bar
    messages were set but never seen — the server label, a stretching permanent widget, took the whole
    bar. A message now takes the server label's place for as long as it shows."""
    window, _ = make_window(qtbot, data_dir)
    window.resize(900, 600)
    bar = window.statusBar()
    window.server_label.setText("Server: Local server (this computer)")
    window.live_label.setText("● live")
    qtbot.waitUntil(window.server_label.isVisible, timeout=2000)
    message = "Cannot send /home/someone/Documents/missing-report.pdf: there is no such file or folder."
    bar.showMessage(message, 4000)
    qtbot.waitUntil(lambda: not window.server_label.isVisible(), timeout=2000)
    room = min(w.x() for w in (window.live_label,) if w.isVisible())  # where the permanent part starts
    assert room >= bar.fontMetrics().horizontalAdvance(message), (room, bar.width())
    image = bar.grab().toImage()  # and the message is painted there: text pixels in its first half
    background = image.pixelColor(image.width() // 2, 1)
    painted = sum(image.pixelColor(x, y) != background
                  for x in range(4, min(room, 400)) for y in range(image.height()))
    assert painted > 50
    bar.clearMessage()
    qtbot.waitUntil(window.server_label.isVisible, timeout=2000)

    # an error is not covered by a passing note (a send finished, no tray): the note waits for it
    import sgsend_desktop.gui.main_window as main_window

    main_window.ERROR_SHOWN_MS = 600  # (10 s in the app)
    try:
        window.show_error("Cannot send /tmp/gone.txt: there is no such file or folder.")
        window.show_note("Sent: pics.zip is uploaded; its link is ready to share.", 4000)
        qtbot.wait(300)
        assert bar.currentMessage().startswith("Cannot send /tmp/gone.txt")
        qtbot.waitUntil(lambda: bar.currentMessage().startswith("Sent: pics.zip"), timeout=3000)
        # a note still waiting when the window goes is dropped with it (it crashed a relaunch test in CI)
        from sgsend_desktop.gui.background import BackgroundRunner
        from sgsend_desktop.gui.engine_bridge import EngineBridge
        from sgsend_desktop.gui.settings import AppSettings

        closing = MainWindow(AppSettings(data_dir), BackgroundRunner(), EngineBridge())
        closing.show_error("Cannot open this link: it is incomplete.")
        closing.show_note("Sent: late.bin is uploaded; its link is ready to share.")
        assert closing._note_timer.isActive()
        closing.deleteLater()
        qtbot.wait(900)  # past the error's time: nothing fires on the deleted window
    finally:
        main_window.ERROR_SHOWN_MS = 10_000


# --- honest states -------------------------------------------------------------------------------
def test_a_failed_receive_shows_no_full_bar_and_keeps_its_red_badge_when_selected(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    window, engine = _rows(qtbot, tmp_path, data_dir, count=1)
    failed = TransferSnapshot(
        "r1",
        Direction.RECEIVE,
        "video.mp4",
        1000,
        TransferState.FAILED,
        bytes_done=1000,
        error="The key does not open this file (wrong key or damaged).",
    )
    running = TransferSnapshot(
        "r2", Direction.RECEIVE, "other.mp4", 1000, TransferState.DOWNLOADING, bytes_done=1000
    )
    engine.emit("added", failed)
    engine.emit("added", running)
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=3000)
    model = window.model
    assert model.index(model.row_of("r1"), Column.PROGRESS).data(PROGRESS_TEXT_ROLE) == "Failed"
    highlight = window.table.palette().color(QPalette.ColorRole.Highlight)

    def cell(local_id: str, column: Column) -> QImage:
        window.table.viewport().update()
        QApplication.processEvents()
        picture = window.table.viewport().grab()
        rect = window.table.visualRect(window.index_for(local_id, column))
        return picture.copy(rect).toImage()

    window.select_transfer("t1")  # neither row selected
    assert _color_pixels(cell("r2", Column.PROGRESS), highlight) > 100  # a full bar is drawn full...
    assert _color_pixels(cell("r1", Column.PROGRESS), highlight) < 10  # ...a failed one is not
    window.select_transfer("r1")  # selected: the badge stays red with white text
    assert _color_pixels(cell("r1", Column.STATE), BADGE, tolerance=20) > 40
    assert window.details.error_label.isVisible() and "wrong key" in window.details.error_label.text()
    assert window.details.retry_button.isVisible()


def test_link_errors_read_as_sentences_for_people(qtbot: QtBot) -> None:
    dialog = OpenLinkDialog()
    qtbot.addWidget(dialog)
    for text, expected in (
        ("https://send.example/en-gb/download/#zzz", "Copy the whole link again"),
        ("https://send.example/en-gb/download/#0123456789ab/abc", "key is damaged or incomplete"),
        ("hello there", "not a SGraph Send link"),
    ):
        dialog.link_edit.setText(text)
        dialog.accept()
        shown = dialog.error_label.text()
        assert expected in shown, shown
        for jargon in ("lowercase hex", "base64url", "got '", "12 "):
            assert jargon not in shown, shown
        assert shown[0].isupper() and shown.endswith(".")


def test_long_names_are_elided_and_do_not_widen_the_window(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    window, engine = make_window(qtbot, data_dir)
    name = "Quarterly report of the regional sales teams for the financial year " * 4 + "final version.pdf"
    engine.emit(
        "added",
        TransferSnapshot(
            "long",
            Direction.SEND,
            name,
            10_000,
            TransferState.DONE,
            share_link=LINK + "x" * 300,
            link_only=LINK,
            key_text="A" * 43,
        ),
    )
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=3000)
    window.select_transfer("long")
    window.resize(1000, 720)
    qtbot.waitUntil(lambda: window.details.title.isVisible(), timeout=3000)
    QApplication.processEvents()
    title = window.details.title
    assert "…" in title.text() and title.text().endswith("version.pdf")  # cut in the middle, extension kept
    assert title.toolTip() == name and title.full_text() == name
    assert window.minimumSizeHint().width() <= 900, window.minimumSizeHint()
    window.resize(760, 560)
    QApplication.processEvents()
    assert window.width() == 760
    assert window.model.index(0, Column.NAME).data(Qt.ItemDataRole.ToolTipRole)


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_secondary_and_error_text_keep_aa_contrast(
    qtbot: QtBot, tmp_path: Path, data_dir: Path, dark: bool, palettes: None
) -> None:
    if dark:
        QApplication.setPalette(dark_palette())
    window, engine = _rows(qtbot, tmp_path, data_dir, count=1)
    _set(engine, "t1", state=TransferState.FAILED, error="The server refused the upload.")
    window.select_transfer("t1")
    QApplication.processEvents()
    palette = QApplication.palette()
    backgrounds = [palette.color(QPalette.ColorRole.Window), palette.color(QPalette.ColorRole.Base)]
    labels = [w for w in window.findChildren(ToneLabel)]
    assert len(labels) >= 6
    for label in labels:
        for background in backgrounds:
            ratio = contrast(label.text_color(), background)
            assert ratio >= 4.5, f"{label.accessibleName()}: {ratio:.2f}:1 on {background.name()}"
    assert contrast(secondary_text(palette), backgrounds[0]) >= 4.5
    assert contrast(error_color(palette), backgrounds[1]) >= 4.5
    # nothing is drawn in the disabled colour to look secondary any more
    assert not [w for w in window.findChildren(QLabel) if not w.isEnabled() and w.isVisible()]


def test_settings_labels_have_buddies_and_no_literal_ampersand(qtbot: QtBot) -> None:
    dialog = SettingsDialog(Preferences(server_url="https://send.example"), "tok")
    qtbot.addWidget(dialog)
    for label in dialog.findChildren(QLabel):
        if "&" in label.text():
            assert label.buddy() is not None, f"{label.text()!r} shows its & literally"
    folder = next(lab for lab in dialog.findChildren(QLabel) if lab.text() == "Download &folder:")
    assert folder.buddy() is dialog.folder_edit


def test_title_and_about(qtbot: QtBot, data_dir: Path) -> None:
    from sgsend_desktop import __version__
    from sgsend_desktop.gui.app import configure_application

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    configure_application(app)
    window, _engine = make_window(qtbot, data_dir)
    # Qt appends the display name to any title that does not end with it ("X — SGraph Send")
    assert window.windowTitle() == "SGraph Send Desktop"
    assert window.windowTitle().endswith(QGuiApplication.applicationDisplayName())
    assert __version__ in window.about_text() and "Qt " in window.about_text()


def test_history_has_headers_an_empty_state_search_and_filter(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    empty = HistoryDialog([])
    qtbot.addWidget(empty)
    empty.show()
    assert empty.empty_label.isVisible() and empty.empty_label.text() == EMPTY_TEXT
    assert not empty.copy_button.isEnabled()
    headers = [
        empty.model.headerData(c, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole)
        for c in range(empty.model.columnCount())
    ]
    assert all(headers), headers

    now = time.time()
    snaps = [
        TransferSnapshot(
            "a", Direction.SEND, "report.pdf", 10, TransferState.DONE, share_link=LINK, created_at=now - 10
        ),
        TransferSnapshot(
            "b",
            Direction.RECEIVE,
            "photo.jpg",
            10,
            TransferState.DONE,
            saved_path="/tmp/photo.jpg",
            created_at=now - 5,
        ),
        TransferSnapshot(
            "c",
            Direction.SEND,
            "notes.txt",
            10,
            TransferState.DONE,
            share_link=LINK + "c",
            created_at=now,
            deleted_remote=True,
        ),
    ]
    dialog = HistoryDialog(snaps)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.table.isVisible() and dialog.proxy.rowCount() == 3
    assert not dialog.copy_button.isEnabled()  # nothing selected
    dialog.direction_combo.setCurrentIndex(2)  # Received
    assert dialog.proxy.rowCount() == 1
    dialog.table.selectRow(0)
    assert not dialog.copy_button.isEnabled()  # a received file has no link to copy
    dialog.direction_combo.setCurrentIndex(0)
    QTest.keyClicks(dialog.search_edit, "report")
    assert dialog.proxy.rowCount() == 1
    dialog.table.selectRow(0)
    assert dialog.copy_button.isEnabled()
    dialog.copy_selected()
    assert QApplication.clipboard().text() == LINK
    dialog.search_edit.setText("no such thing")
    assert dialog.empty_label.isVisible() and "No transfer matches" in dialog.empty_label.text()
    dialog.search_edit.setText("notes")
    dialog.table.selectRow(0)
    assert not dialog.copy_button.isEnabled()  # deleted from the server: its link is dead


def test_totals_count_every_row_once_and_drop_a_stale_speed(qtbot: QtBot) -> None:
    clock = [100.0]
    model = TransferQueueModel(clock=lambda: clock[0])
    states = [
        TransferState.UPLOADING,
        TransferState.QUEUED,
        TransferState.PAUSED,
        TransferState.DONE,
        TransferState.FAILED,
        TransferState.CANCELLED,
    ]
    for n, state in enumerate(states):
        model.upsert(
            TransferSnapshot(
                f"s{n}", Direction.SEND, f"{n}.bin", 1000, state, bytes_done=250, speed_bps=2048.0
            )
        )
    totals = model.totals()
    assert totals.count == 6 == (totals.active + totals.waiting + totals.paused + totals.done + totals.failed
                                 + totals.cancelled)
    assert (totals.active, totals.waiting, totals.paused, totals.done, totals.failed,
            totals.cancelled) == (1, 1, 1, 1, 1, 1)
    # paused apart from waiting: "waiting" starts by itself, a paused row waits for Resume (seen using
    # the window: after Pause all the line read "1 waiting")
    assert totals.summary() == "1 active · 1 waiting · 1 paused · 1 done · 1 failed · 1 cancelled"
    assert totals.bytes_total == 3000 and totals.speed_bps == 2048.0
    assert model.index(0, Column.SPEED).data() == "2.0 KB/s"
    clock[0] += 10  # no progress for 10 s: the speed is stale, not "2 KB/s" for ever
    assert model.totals().speed_bps == 0 and model.index(0, Column.SPEED).data() == ""
    assert model.index(0, Column.ETA).data() == ""


def test_window_totals_title_and_tray_tooltip_follow_progress(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    from sgsend_desktop.gui.tray import TrayController

    window, engine = _rows(qtbot, tmp_path, data_dir, count=2)
    tray = TrayController(window, native=False)
    _set(engine, "t1", state=TransferState.UPLOADING, bytes_done=500, speed_bps=1000.0)
    qtbot.waitUntil(lambda: "25 %" in window.total_label.text(), timeout=3000)
    assert window.total_label.text().startswith("Total: 1 active · 1 waiting · 25 %")
    assert window.windowTitle() == "25 % · SGraph Send Desktop"
    assert "1 active · 1 waiting · 25 %" in tray.icon.toolTip()
    assert tray.status_action.text().startswith("1 active")
    assert tray.pause_all_action is window.actions_.pause_all and tray.quit_action is window.actions_.quit


# --- dropping ------------------------------------------------------------------------------------
def test_drop_anywhere_with_the_choice_of_one_link_or_one_each(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    window, engine = make_window(qtbot, data_dir)
    files = []
    for n in range(3):
        (tmp_path / f"p{n}.jpg").write_bytes(b"x" * 100)
        files.append(tmp_path / f"p{n}.jpg")
    assert not window.drop_zone.compact and window.drop_zone.height() >= 150
    viewport = window.table.viewport()
    # a drop on the queue (not the drop zone), in the main area: one link per file (the default)
    assert deliver_drop(viewport, files[:2], QPoint(20, 20))
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=3000)
    assert not [c for c in engine.calls if c[0] == "send_together"]
    assert window.drop_zone.compact  # compact once rows exist
    qtbot.waitUntil(lambda: window.drop_zone.height() < 60, timeout=3000)
    # the band at the bottom of the window: one link for all (one zip)
    overlay = window.drop_overlay
    band_point = window.mapFromGlobal(overlay.mapToGlobal(overlay.band_rect().center()))
    target = window.childAt(band_point) or window
    assert deliver_drop(target, files, target.mapFrom(window, band_point))
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=3000)
    bundle = window.model.snapshots()[-1]
    assert [c[0] for c in engine.calls].count("send_together") == 1
    assert bundle.item_count == 3 and bundle.name == "p0 and 2 more.zip"
    # with "One link for all" chosen, the main area groups and the band does not
    window.send_options.set_together(True)
    assert deliver_drop(window.drop_zone, files[:2])
    qtbot.waitUntil(lambda: window.model.rowCount() == 4, timeout=3000)
    assert [c[0] for c in engine.calls].count("send_together") == 2


def test_the_overlay_shows_both_choices_while_dragging(qtbot: QtBot, tmp_path: Path, data_dir: Path) -> None:
    from PySide6.QtCore import QMimeData, QUrl

    from sgsend_desktop.gui.drop_zone import drag_enter_event

    window, _engine = make_window(qtbot, data_dir)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / f"{n}.txt")) for n in range(4)])
    enter = drag_enter_event(QPoint(30, 30), mime)
    QApplication.sendEvent(window.table.viewport(), enter)
    assert enter.isAccepted() and window.drop_overlay.isVisible()
    main, band = window.drop_overlay.texts()
    assert main == "One link for each of the 4 items" and band == "One link for all 4 items (sent as one zip)"
    assert window.drop_overlay.geometry() == window.centralWidget().geometry()
    from PySide6.QtGui import QDragLeaveEvent

    QApplication.sendEvent(window, QDragLeaveEvent())
    assert not window.drop_overlay.isVisible()


def test_more_rows_fit_with_a_link_shown(qtbot: QtBot, tmp_path: Path, data_dir: Path) -> None:
    window, engine = _rows(qtbot, tmp_path, data_dir, count=20)
    _done_send(engine, "t1")
    window.resize(1000, 720)
    window.select_transfer("t1")
    qtbot.waitUntil(lambda: window.details.share_box.isVisible(), timeout=3000)
    qtbot.wait(50)
    visible = window.table.viewport().height() // window.table.rowHeight(0)
    assert visible >= 10, f"only {visible} rows fit at 1000×720 with a link shown"
    assert window.details.copy_link_button.height() > 10  # and the details are not squeezed


# --- the rows ------------------------------------------------------------------------------------
def test_rows_show_bytes_speed_eta_icons_and_after_sending_the_limits(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    window, engine = _rows(qtbot, tmp_path, data_dir, count=2)
    model = window.model
    _set(
        engine,
        "t1",
        state=TransferState.UPLOADING,
        size=300 * 1024 * 1024,
        bytes_done=120 * 1024 * 1024,
        speed_bps=2 * 1024 * 1024,
        eta_seconds=90.0,
        max_downloads=3,
        expires_at=time.time() + 6.2 * 86400,
    )
    qtbot.waitUntil(lambda: model.index(0, Column.SPEED).data() == "2.0 MB/s", timeout=3000)
    assert model.index(0, Column.SIZE).data() == "120.0 MB of 300.0 MB"
    assert model.index(0, Column.ETA).data() == "1 min 30 s"
    assert not model.index(0, Column.NAME).data(Qt.ItemDataRole.DecorationRole).isNull()  # file type
    assert not model.index(0, Column.STATE).data(Qt.ItemDataRole.DecorationRole).isNull()  # state
    window.select_transfer("t1")
    assert "up to 3 downloads" in window.details.facts_label.text()
    engine.emit(
        "done", replace(engine.snapshot("t1"), state=TransferState.DONE, share_link=LINK, download_count=1)
    )
    qtbot.waitUntil(lambda: model.index(0, Column.STATE).data() == "Sent · 1 of 3 downloads", timeout=3000)
    assert model.index(0, Column.ETA).data() == "expires in 6 days"
    facts = window.details.facts_label.text()
    assert "Downloaded once" in facts and "2 of 3 downloads left" in facts and "(in 6 days)" in facts
    notices: list[tuple[str, str]] = []
    window.notification.connect(lambda title, text, _error, _id: notices.append((title, text)))
    engine.emit("downloaded", replace(engine.snapshot("t1"), download_count=3))
    qtbot.waitUntil(lambda: "all 3 downloads used" in model.index(0, Column.STATE).data(), timeout=3000)
    # the server counts a download when it starts (found using the window: "was downloaded" at 34 %)
    assert notices[-1][0] == "Downloaded"
    assert notices[-1][1] == f"A recipient started downloading {display_name(engine.snapshot('t1'))} " \
                             "(3 downloads so far)."
    assert "no longer works" in window.details.facts_label.text()


def test_row_buttons_appear_on_hover_and_act_on_that_row(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    window, engine = _rows(qtbot, tmp_path, data_dir, count=3)
    _set(engine, "t3", state=TransferState.UPLOADING, bytes_done=10)
    window.select_transfer("t1")
    viewport = window.table.viewport()
    rect = window.table.visualRect(window.index_for("t3", Column.ACTIONS))
    QTest.mouseMove(viewport, rect.center())
    qtbot.waitUntil(lambda: window.row_actions_delegate.hover_row == 2, timeout=3000)
    buttons = window.row_actions_delegate.buttons(rect, engine.snapshot("t3"))
    assert [key for key, _r in buttons] == ["pause", "cancel"]
    pause_rect = buttons[0][1]
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pause_rect.center())
    qtbot.waitUntil(lambda: ("paused", "t3") in engine.calls, timeout=3000)
    assert [s.id for s in window.selected_snapshots()] == ["t3"]


# --- structure -----------------------------------------------------------------------------------
def test_enabling_rules_are_pure_functions_of_the_selection() -> None:
    from sgsend_desktop.gui.rules import action_states, cancel_question, delete_question, remove_question

    def s(state: TransferState, **extra: object) -> TransferSnapshot:
        return TransferSnapshot("x", Direction.SEND, "a.txt", 10, state, **extra)  # type: ignore[arg-type]

    assert action_states([]).items() == [(name, False) for name, _ in action_states([]).items()]
    running = action_states([s(TransferState.UPLOADING)], [0], 2)
    assert (
        running.pause and running.cancel and not running.resume and not running.retry and not running.move_up
    )
    queued = action_states([s(TransferState.QUEUED)], [1], 2)
    assert queued.move_up and not queued.move_down
    cancelled = action_states([s(TransferState.CANCELLED)], [0], 1)
    assert cancelled.retry and not cancelled.cancel and cancelled.discard
    shared = s(TransferState.DONE, share_link=LINK)
    assert action_states([shared]).copy_link and action_states([shared]).delete_remote
    deleted = replace(shared, deleted_remote=True)
    assert not action_states([deleted]).copy_link and not action_states([deleted]).delete_remote
    both = action_states([shared, s(TransferState.PAUSED)], [0, 1], 2)
    assert both.copy_link and both.resume and not both.copy_key and not both.move_down
    received = TransferSnapshot("r", Direction.RECEIVE, "a.zip", 1, TransferState.DONE, saved_path="/x/a.zip")
    assert action_states([received]).unpack and action_states([received]).open_file
    assert cancel_question([shared]) is None and delete_question([deleted]) is None
    assert remove_question([s(TransferState.CANCELLED)]) is None
    assert remove_question([shared]) is not None


def test_commands_given_before_the_engine_starts_wait_for_it(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    from sgsend_desktop.gui.backend import Backend
    from sgsend_desktop.gui.background import BackgroundRunner
    from sgsend_desktop.gui.engine_bridge import EngineBridge
    from sgsend_desktop.gui.settings import AppSettings

    window = MainWindow(AppSettings(data_dir), BackgroundRunner(), EngineBridge())
    window.confirm_quit = lambda: True
    qtbot.addWidget(window)
    (tmp_path / "a.txt").write_bytes(b"1")
    window.send_paths([tmp_path / "a.txt"])
    window.commands.pause_all()
    engine = StandInEngine()
    window.bridge.attach(engine)
    window.attach_backend(Backend(engine=engine, data_dir=data_dir))
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=3000)
    qtbot.waitUntil(lambda: ("paused", "t1") in engine.calls, timeout=3000)


def test_the_launcher_is_apart_from_the_app(qtbot: QtBot) -> None:
    """app.py and self_test.py no longer import each other; the entry points still work."""
    import subprocess
    import sys

    from sgsend_desktop.gui import app, launcher
    from tests.gui.real_app import REPO_ROOT

    source = Path(app.__file__).read_text()
    assert "self_test" not in source and "argparse" not in source
    assert "gui.app" not in Path(launcher.__file__).read_text().split("def main", 1)[1]
    assert app.build_parser is launcher.build_parser  # older imports keep working
    assert app.ensure_std_streams is launcher.ensure_std_streams
    done = subprocess.run(
        [sys.executable, "-m", "sgsend_desktop.gui", "--version"],
        capture_output=True,
        text=True,
        cwd=str(REPO_ROOT),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("sgsend-desktop ")
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    assert 'sgsend-desktop = "sgsend_desktop.gui.launcher:main"' in pyproject


def test_unpack_shows_an_unsafe_archive_as_is_and_lists_what_was_skipped(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    import zipfile

    window, engine = make_window(qtbot, data_dir)
    hostile = tmp_path / "hostile.zip"
    with zipfile.ZipFile(hostile, "w") as zf:
        zf.writestr("../evil.sh", b"rm -rf ~")
    mixed = tmp_path / "mixed.zip"
    with zipfile.ZipFile(mixed, "w") as zf:
        zf.writestr("album/a.jpg", b"1" * 100)
        zf.writestr("__MACOSX/album/._a.jpg", b"x")
    for local_id, path in (("h", hostile), ("m", mixed)):
        engine.emit(
            "added",
            TransferSnapshot(
                local_id, Direction.RECEIVE, path.name, 100, TransferState.DONE, saved_path=str(path)
            ),
        )
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=3000)
    out = tmp_path / "out"
    window.choose_unpack_folder = lambda default: out
    details = window.details

    window.select_transfer("h")
    window.actions_.unpack.trigger()
    qtbot.waitUntil(details.unpack_label.isVisible, timeout=10_000)
    from sgsend_desktop.core.unzip import UnsafeArchiveError, unpack_zip

    with pytest.raises(UnsafeArchiveError) as refused:
        unpack_zip(hostile, tmp_path / "elsewhere")
    assert details.unpack_label.text() == str(refused.value)  # as the core says it
    assert not (tmp_path / "evil.sh").exists()
    assert not out.exists() or not any(out.iterdir())

    window.select_transfer("m")
    qtbot.mouseClick(details.unpack_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Unpacked 1 file" in details.unpack_label.text(), timeout=10_000)
    assert "Not unpacked (1): __MACOSX" in details.unpack_label.text()
    assert (out / "album" / "a.jpg").read_bytes() == b"1" * 100
    opened: list[str] = []
    details.open_url = lambda url: opened.append(url.toLocalFile())
    details.unpack_label.linkActivated.emit(details.unpack_label.text().split('href="')[1].split('"')[0])
    assert opened == [str(out / "album")]


def test_the_details_pane_follows_its_content(qtbot: QtBot, tmp_path: Path, data_dir: Path) -> None:
    """A QR code makes it taller; a row with less to say gives the space back to the queue."""
    window, engine = _rows(qtbot, tmp_path, data_dir, count=2)
    window.resize(1000, 720)
    _done_send(engine, "t1")
    _set(engine, "t2", state=TransferState.UPLOADING, bytes_done=10)
    window.select_transfer("t1")
    qtbot.waitUntil(lambda: window.details.share_box.isVisible(), timeout=3000)
    window.details.qr_toggle.setChecked(True)
    qtbot.waitUntil(lambda: window.splitter.sizes()[1] >= window.details.qr_label.height(), timeout=3000)
    tall = window.splitter.sizes()[1]
    window.details.qr_toggle.setChecked(False)
    window.select_transfer("t2")
    fitted = lambda: window.splitter.sizes()[1] <= window.details.sizeHint().height() + 2  # noqa: E731
    qtbot.waitUntil(fitted, timeout=3000)
    assert window.splitter.sizes()[1] < tall - 50


def test_the_window_opens_inside_a_small_or_scaled_screen(qtbot: QtBot, data_dir: Path) -> None:
    """Found using the window at 150 % scaling: it opened at a fixed 1000×720, larger than the screen,
    with its status bar and right edge off it. It now opens at what fits (centred), and a size saved
    on a bigger screen is fitted to this one."""
    from PySide6.QtCore import QRect, QSize

    from sgsend_desktop.gui.placement import COMFORTABLE, SMALLEST, first_geometry, smallest_size

    laptop = QRect(0, 0, 910, 480)  # 1366×768 at 150 %, less a panel
    placed = first_geometry(laptop)
    assert laptop.contains(placed) and placed.size() == QSize(819, 432)
    assert placed.center() == laptop.center()
    assert smallest_size(laptop) == QSize(SMALLEST.width(), 432)
    desk = QRect(0, 0, 2560, 1400)
    assert first_geometry(desk).size() == COMFORTABLE and smallest_size(desk) == SMALLEST

    window, _ = make_window(qtbot, data_dir)
    window.show()
    qtbot.waitExposed(window)
    room = window.screen().availableGeometry()
    assert COMFORTABLE.width() > room.width()  # the offscreen screen is 800×800: too small for 1000×720
    assert room.contains(window.frameGeometry()), (room, window.frameGeometry())
    window.setGeometry(QRect(0, 0, 2400, 1600))
    window.close()  # saves the geometry, as a quit does
    again, _ = make_window(qtbot, data_dir)
    again.show()
    qtbot.waitExposed(again)
    assert room.contains(again.geometry()), (room, again.geometry())  # Qt lets the frame's 1 px out


def test_file_type_icons_keep_their_colours_on_a_selected_row(qtbot: QtBot) -> None:
    """Found using the window: the style's tint turned a selected row's ZIP band a muddy olive."""
    from PySide6.QtGui import QIcon

    from sgsend_desktop.gui.icons import file_icon

    for name in ("many.zip", "video.mkv", "report.pdf"):
        icon = file_icon(name)
        normal = icon.pixmap(32, 32, QIcon.Mode.Normal).toImage()
        selected = icon.pixmap(32, 32, QIcon.Mode.Selected).toImage()
        assert selected == normal, name


def test_a_narrow_window_wraps_the_options_and_lets_columns_give_way(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    """Found using the window at its smallest (640 px): the options' labels were squeezed to
    "Max downloa", and the table scrolled sideways with Speed, Time left and the row buttons off to the
    right. The options now wrap a labelled control at a time, and speed, then time left, then size give
    way to the name; they come back, at their widths, when the window is wide again."""
    window, engine = _rows(qtbot, tmp_path, data_dir, count=3)
    _set(engine, "t1", state=TransferState.UPLOADING, bytes_done=500)
    header = window.table.horizontalHeader()
    window.resize(1300, 720)
    qtbot.waitUntil(lambda: not header.isSectionHidden(Column.SPEED), timeout=3000)
    speed_width = header.sectionSize(Column.SPEED)
    assert speed_width > 0
    options = window.send_options
    labels = [label for label in options.findChildren(QLabel) if label.isVisibleTo(options)]
    assert len(labels) == 4

    def rows_of_options() -> int:
        return len({label.mapTo(options, QPoint(0, 0)).y() for label in labels})

    window.resize(window.minimumWidth(), 600)
    qtbot.waitUntil(lambda: window.width() == window.minimumWidth() == 640, timeout=3000)
    QApplication.processEvents()
    for label in labels:
        assert label.width() >= label.sizeHint().width(), label.text()
    assert rows_of_options() == 2
    assert window.table.horizontalScrollBar().maximum() == 0  # nothing to scroll to
    assert header.isSectionHidden(Column.SPEED) and header.isSectionHidden(Column.ETA)
    assert not header.isSectionHidden(Column.STATE) and not header.isSectionHidden(Column.PROGRESS)
    assert header.sectionSize(Column.NAME) >= 160
    actions = window.table.visualRect(window.index_for("t1", Column.ACTIONS))
    assert window.table.viewport().rect().contains(actions)
    # a short window cannot give the details all they need: they scroll (the second line of "This link
    # works only on this computer…" was cut off at 640×480)
    from sgsend_desktop.core.model import LOCAL_COMPUTER

    _done_send(engine, "t2")
    _set(engine, "t2", local_scope=LOCAL_COMPUTER)
    window.select_transfer("t2")
    window.resize(640, 480)
    details, reach = window.details, window.details.reach_label
    layout = details.layout()
    assert layout is not None

    def details_whole_and_scrolling() -> bool:
        needed = layout.totalHeightForWidth(details.width())
        bar = window.details_scroll.verticalScrollBar()
        return reach.isVisible() and details.height() >= needed and bar.maximum() > 0

    qtbot.waitUntil(details_whole_and_scrolling, timeout=3000)
    assert reach.height() >= reach.heightForWidth(reach.width()) >= 2 * reach.fontMetrics().lineSpacing()
    window.details_scroll.ensureWidgetVisible(reach)
    visible = reach.visibleRegion().boundingRect()
    assert visible.height() == reach.height()  # scrolled to, all its lines are on screen

    window.resize(1300, 720)
    qtbot.waitUntil(lambda: not header.isSectionHidden(Column.SPEED), timeout=3000)
    assert not header.isSectionHidden(Column.ETA) and not header.isSectionHidden(Column.SIZE)
    assert header.sectionSize(Column.SPEED) == speed_width
    assert rows_of_options() == 1
    assert window.table.horizontalScrollBar().maximum() == 0


def test_the_details_of_a_row_selected_as_the_queue_loads_get_their_room(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    """Found relaunching the app: the rows from the journal arrive in an empty window (the big drop
    zone), the first is selected, and the pane was fitted before the drop zone went compact (the
    splitter still 168 px tall): it kept the 18 px it got then, its content scrolled away under a tall
    empty queue. It is fitted again when its scroll area gets its real size."""
    window, engine = make_window(qtbot, data_dir)
    window.resize(640, 480)
    qtbot.waitExposed(window)
    QApplication.processEvents()
    path = tmp_path / "report.pdf"
    path.write_bytes(b"x" * 1000)
    engine.send([path])
    _done_send(engine, "t1")
    window.select_transfer("t1")
    bar = window.details_scroll.verticalScrollBar()
    layout = window.details.layout()
    assert layout is not None

    def fitted() -> bool:
        total = sum(window.splitter.sizes())
        want = min(layout.totalHeightForWidth(window.details_scroll.width()), total - 150)
        return window.details.link_field.isVisible() and window.splitter.sizes()[1] >= want > 100

    qtbot.waitUntil(fitted, timeout=3000)
    assert bar.isVisible() == (bar.maximum() > 0)
    # nothing selected: the one-line pane has no gap under it (the scroll area asked for ~70 px)
    window.table.clearSelection()
    qtbot.waitUntil(lambda: not window.details.link_field.isVisible(), timeout=3000)
    pane = window.details
    qtbot.waitUntil(lambda: window.splitter.sizes()[1] <= pane.sizeHint().height() + 2, timeout=3000)


def test_a_folder_being_zipped_says_so_with_its_progress(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    from sgsend_desktop.gui.formatting import progress_text, state_label

    window, engine = _rows(qtbot, tmp_path, data_dir, count=1)
    _set(engine, "t1", state=TransferState.PREPARING, zipping=True, size=480 << 20, bytes_done=120 << 20,
         speed_bps=60e6)
    snap = window.model.snapshot_of("t1")
    assert snap is not None
    assert state_label(snap) == "Zipping" and progress_text(snap) == "25 %"
    assert window.model.data(window.index_for("t1", Column.SIZE)) == "120.0 MB of 480.0 MB"
    window.select_transfer("t1")
    assert "Zipping" in window.details.subtitle.text()


def test_queuing_says_what_was_queued(qtbot: QtBot, tmp_path: Path, data_dir: Path) -> None:
    """A dropped folder read "Queued 1 file to send."; the name says what it was."""
    window, _engine = make_window(qtbot, data_dir)
    folder = tmp_path / "holiday photos"
    folder.mkdir()
    window.send_paths([folder], together=False)
    assert window.statusBar().currentMessage() == "Queued holiday photos to send."
    files = [tmp_path / f"{n}.txt" for n in range(3)]
    window.send_paths(files, together=False)
    assert window.statusBar().currentMessage() == "Queued 3 items to send, one link each."
    window.send_paths(files, together=True)
    assert window.statusBar().currentMessage() == "Queued 3 items to send as one zip with one link."


def test_transfers_finishing_together_are_told_in_one_notification(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    """Found using the window: 50 files dropped at once made 50 "Sent" notifications. Those that finish
    together are told together (once none has finished for 2 s, or 10 s after the first)."""
    window, engine = _rows(qtbot, tmp_path, data_dir, count=6)
    notices: list[tuple[str, str, str]] = []
    window.notification.connect(lambda title, text, _error, local_id: notices.append((title, text, local_id)))
    for local_id in ("t1", "t2", "t3", "t4", "t5"):
        _done_send(engine, local_id)
    qtbot.wait(300)
    assert notices == []  # more may come
    qtbot.waitUntil(lambda: len(notices) == 1, timeout=5000)
    title, text, local_id = notices[0]
    assert title == "Sent" and local_id == "t5"
    first = display_name(engine.snapshot("t1"))
    assert text == f"{first} and 4 more are uploaded; their links are ready to share."
    _done_send(engine, "t6")  # later, on its own
    qtbot.waitUntil(lambda: len(notices) == 2, timeout=5000)
    assert notices[1][1] == f"{display_name(engine.snapshot('t6'))} is uploaded; its link is ready to share."


def test_received_files_told_together_name_their_folder() -> None:
    from sgsend_desktop.gui.main_window import finished_text

    def got(name: str, folder: str) -> TransferSnapshot:
        return TransferSnapshot(name, Direction.RECEIVE, name, 10, TransferState.DONE,
                                saved_path=f"{folder}/{name}")

    assert finished_text([got("a.pdf", "/home/me")]) == "a.pdf was saved to /home/me/a.pdf."
    same = [got("a.pdf", "/dl"), got("b.jpg", "/dl"), got("c.mov", "/dl")]
    assert finished_text(same) == "a.pdf and 2 more were saved to /dl."
    assert finished_text([got("a.pdf", "/dl"), got("b.jpg", "/media/usb")]) == "a.pdf and b.jpg were saved."
