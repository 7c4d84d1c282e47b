"""Window wiring with the in-memory stand-in engine (pure view logic; real-engine tests are elsewhere)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from sgsend_desktop.core.model import TransferState
from sgsend_desktop.gui.backend import Backend
from sgsend_desktop.gui.background import BackgroundRunner
from sgsend_desktop.gui.dialogs.history import HistoryDialog
from sgsend_desktop.gui.dialogs.settings_dialog import SettingsDialog
from sgsend_desktop.gui.drop_zone import deliver_drop
from sgsend_desktop.gui.engine_bridge import EngineBridge
from sgsend_desktop.gui.main_window import MainWindow
from sgsend_desktop.gui.rules import Question
from sgsend_desktop.gui.settings import AppSettings, Preferences
from tests.gui.standin_engine import StandInEngine


class Answers:
    """Records the questions the window asks and gives the prepared answer (yes by default)."""

    def __init__(self) -> None:
        self.asked: list[Question] = []
        self.answer = True

    def __call__(self, question: Question) -> bool:
        self.asked.append(question)
        return self.answer


def make_window(qtbot: QtBot, data_dir: Path) -> tuple[MainWindow, StandInEngine]:
    runner = BackgroundRunner()
    bridge = EngineBridge()
    window = MainWindow(AppSettings(data_dir), runner, bridge)
    window.confirm_quit = lambda: True  # no modal question when qtbot closes it
    window.confirm = Answers()
    qtbot.addWidget(window)
    engine = StandInEngine()
    bridge.attach(engine)
    window.attach_backend(Backend(engine=engine, data_dir=data_dir))
    window.show()
    return window, engine


def test_drop_queues_rows_and_actions_follow_state(qtbot: QtBot, tmp_path: Path, data_dir: Path) -> None:
    window, engine = make_window(qtbot, data_dir)
    files = [tmp_path / "a.txt", tmp_path / "b.txt"]
    for f in files:
        f.write_bytes(b"x" * 10)
    assert deliver_drop(window.drop_zone, files)
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=3000)
    window.select_transfer("t1")
    assert window.actions_.pause.isEnabled() and not window.actions_.resume.isEnabled()
    window.table.setFocus()
    window.actions_.toggle.trigger()
    qtbot.waitUntil(lambda: window.model.snapshot_of("t1").state is TransferState.PAUSED, timeout=3000)  # type: ignore[union-attr]
    assert window.actions_.resume.isEnabled()
    window.actions_.move_down.trigger()
    qtbot.waitUntil(lambda: window.model.row_of("t1") == 1, timeout=3000)
    assert ("move", "t1") in engine.calls
    window.actions_.discard.trigger()
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=3000)


def test_drop_zone_refuses_non_files(qtbot: QtBot, data_dir: Path) -> None:
    from PySide6.QtCore import QMimeData, QPoint

    from sgsend_desktop.gui.drop_zone import drag_enter_event

    window, _engine = make_window(qtbot, data_dir)
    mime = QMimeData()
    mime.setText("hello")
    event = drag_enter_event(QPoint(5, 5), mime)
    QApplication.sendEvent(window.drop_zone, event)
    assert not event.isAccepted()


def test_settings_round_trip_and_dialog(qtbot: QtBot, data_dir: Path) -> None:
    settings = AppSettings(data_dir)
    prefs = Preferences(
        server_url="http://127.0.0.1:9", workers=6, upload_limit_kbps=512, close_to_tray=False
    )
    settings.save(prefs)
    loaded = AppSettings(data_dir).load()
    assert loaded == prefs and loaded.upload_limit_bps == 512 * 1024
    dialog = SettingsDialog(loaded, "secret-token")
    qtbot.addWidget(dialog)
    dialog.workers_spin.setValue(3)
    dialog.server_edit.setText("")
    assert dialog.preferences().workers == 3 and dialog.preferences().uses_local_server
    assert dialog.token() == "secret-token"
    settings.save_token("secret-token")
    assert settings.load_token() == "secret-token"


def test_every_control_has_an_accessible_name(qtbot: QtBot, data_dir: Path) -> None:
    from PySide6.QtWidgets import QAbstractButton, QComboBox, QLineEdit, QSpinBox, QTableView

    window, _engine = make_window(qtbot, data_dir)
    controls = [
        w
        for kind in (QAbstractButton, QComboBox, QLineEdit, QSpinBox, QTableView)
        for w in window.findChildren(kind)
    ]
    unnamed = [
        w
        for w in controls
        if not w.accessibleName()
        and w.objectName() != "qt_spinbox_lineedit"
        and not w.objectName().startswith("qt_")
    ]
    assert controls and unnamed == []


def test_history_lists_done_transfers(qtbot: QtBot, tmp_path: Path, data_dir: Path) -> None:
    from dataclasses import replace

    window, engine = make_window(qtbot, data_dir)
    (tmp_path / "a.txt").write_bytes(b"1")
    engine.send([tmp_path / "a.txt"])
    engine.emit(
        "done",
        replace(
            engine.snapshot("t1"),
            state=TransferState.DONE,
            share_link="https://h/en-gb/download/#0123456789ab/k",
        ),
    )
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=3000)
    dialog = window.open_history()
    assert isinstance(dialog, HistoryDialog)
    model = dialog.table.model()
    assert model.rowCount() == 1 and "0123456789ab" in model.index(0, 4).data()
    dialog.table.selectRow(0)
    dialog.copy_selected()
    assert QApplication.clipboard().text().endswith("#0123456789ab/k")
    dialog.close()


def test_settings_stay_in_the_test_dir(isolated_settings: Path, data_dir: Path) -> None:
    """A data dir of its own (SGSEND_DATA_DIR) keeps its preferences in it, not in ~/.config/SGraph."""
    settings = AppSettings(data_dir)
    settings.save(Preferences(workers=5))
    assert Path(settings.qsettings.fileName()) == data_dir / "preferences.ini"
    assert (data_dir / "preferences.ini").exists()
    assert AppSettings(data_dir).load().workers == 5


def test_close_without_tray_asks_when_transfers_run(qtbot: QtBot, tmp_path: Path, data_dir: Path) -> None:
    window, engine = make_window(qtbot, data_dir)
    (tmp_path / "a").write_bytes(b"1")
    engine.send([tmp_path / "a"])
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=3000)
    asked: list[bool] = []
    window.confirm_quit = lambda: asked.append(True) or False  # the user says "no"
    window.close()
    assert asked == [True] and window.isVisible()
    window.confirm_quit = lambda: True
    with qtbot.waitSignal(window.quit_requested, timeout=2000):
        window.close()


def test_close_to_tray_hides_and_says_so_once(qtbot: QtBot, data_dir: Path) -> None:
    from sgsend_desktop.gui.tray import TrayController

    runner, bridge = BackgroundRunner(), EngineBridge()
    window = MainWindow(AppSettings(data_dir), runner, bridge, tray_available=True)
    qtbot.addWidget(window)
    tray = TrayController(window)
    window.show()
    window.close()
    assert not window.isVisible() and len(tray.messages) == 1 and "still running" in tray.messages[0][0]
    tray.show_action.trigger()
    assert window.isVisible()
    window.close()
    assert len(tray.messages) == 1  # only the first time
    window.confirm_quit = lambda: True
    window.request_quit()


def test_apply_settings_reaches_the_engine(qtbot: QtBot, data_dir: Path) -> None:
    window, engine = make_window(qtbot, data_dir)
    prefs = Preferences(server_url="http://127.0.0.1:9", workers=7, upload_limit_kbps=100)
    window.apply_settings(prefs, None)
    qtbot.waitUntil(lambda: engine.server_url == "http://127.0.0.1:9", timeout=3000)
    qtbot.waitUntil(lambda: ("limits", f"7/{100 * 1024}/None") in engine.calls, timeout=3000)
    qtbot.waitUntil(lambda: window.server_label.text() == "Server: http://127.0.0.1:9", timeout=3000)
    assert AppSettings(data_dir).load().workers == 7


def test_without_a_tray_notifications_show_in_the_status_bar(qtbot: QtBot, data_dir: Path) -> None:
    """A bare X server has no tray: "downloaded by the recipient" must still reach the user."""
    from sgsend_desktop.gui.tray import TrayController

    window = MainWindow(AppSettings(data_dir), BackgroundRunner(), EngineBridge(), tray_available=False)
    qtbot.addWidget(window)
    tray = TrayController(window)
    window.show()
    window.notification.emit("Downloaded", "A recipient started downloading report.pdf.", False, "")
    assert "A recipient started downloading report.pdf." in window.statusBar().currentMessage()
    assert tray.messages[-1][0] == "Downloaded"
    window.confirm_quit = lambda: True
    window.request_quit()


def test_initial_load_puts_rows_that_came_early_in_queue_order(qtbot: QtBot, data_dir: Path) -> None:
    """A row added by an event before the journal's list arrived takes its saved queue place."""
    from tests.gui.test_queue_model import snap

    window, _ = make_window(qtbot, data_dir)
    window.model.upsert(snap("late"))  # e.g. `sgsend-desktop LINK` queued before the list loaded
    window._initial_snapshots([snap("first"), snap("late"), snap("third")])
    assert [window.model.snapshots()[r].id for r in range(3)] == ["first", "late", "third"]


def test_add_files_and_add_folder_open_where_the_last_pick_was(
        qtbot: QtBot, data_dir: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Found using the window: both dialogs always opened in the process's working directory. (The
    static dialogs are modal and native: replaced here by functions that record where they would open.)"""
    from PySide6.QtWidgets import QFileDialog

    window, _engine = make_window(qtbot, data_dir)
    sent: list[Path] = []
    window.send_paths = sent.extend  # type: ignore[method-assign]
    pictures = tmp_path / "pictures"
    (pictures / "album").mkdir(parents=True)
    photo = pictures / "beach.jpg"
    photo.write_bytes(b"jpeg")
    opened_in: list[str] = []

    def pick_files(parent: object, caption: str, directory: str) -> tuple[list[str], str]:
        opened_in.append(directory)
        return [str(photo)], ""

    def pick_folder(parent: object, caption: str, directory: str) -> str:
        opened_in.append(directory)
        return str(pictures / "album")

    monkeypatch.setattr(QFileDialog, "getOpenFileNames", staticmethod(pick_files))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(pick_folder))
    window.choose_files()
    window.choose_folder()
    window.choose_files()
    assert opened_in == [str(Path.home()), str(pictures), str(pictures)]
    assert sent == [photo, pictures / "album", photo]
    assert AppSettings(data_dir).last_send_dir() == str(pictures)  # kept for the next run
    (pictures / "album").rmdir()
    photo.unlink()
    pictures.rmdir()
    assert AppSettings(data_dir).last_send_dir() == str(Path.home())  # gone: home, not a dead folder
