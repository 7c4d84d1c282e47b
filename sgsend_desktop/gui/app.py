"""The desktop app's object that wires it together (window, tray, engine bridge, single instance) and
its QApplication. The `sgsend-desktop` command itself (arguments, signals, links kept out of the process
list, the self-test) is gui/launcher.py."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import (
    QEvent,
    QMessageLogContext,
    QObject,
    QtMsgType,
    QUrl,
    Signal,
    qInstallMessageHandler,
)
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QApplication

from sgsend_desktop.gui.backend import Backend, open_backend
from sgsend_desktop.gui.background import BackgroundRunner
from sgsend_desktop.gui.engine_bridge import EngineBridge
from sgsend_desktop.gui.icons import app_icon
from sgsend_desktop.gui.main_window import MainWindow
from sgsend_desktop.gui.settings import APPLICATION, ORGANIZATION, AppSettings
from sgsend_desktop.gui.single_instance import SingleInstanceServer
from sgsend_desktop.gui.tray import TrayController, tray_available

log = logging.getLogger(__name__)

BackendFactory = Callable[..., Backend]


class FileOpenLinks(QObject):
    """What the OS hands over as a Qt FileOpen event: macOS delivers an `sgsend://` link to the app as
    an Apple Event (also when it is already running), never in argv, and a file dropped on the Dock icon
    the same way. Emits ``opened`` with the link or the file's ``file://`` URL, for the same path as
    the command line and a second launch (``gui/incoming.py``: links are downloaded, files sent)."""

    opened = Signal(list)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
            url = event.url()
            if url.isValid() and url.isLocalFile():
                self.opened.emit([Path(url.toLocalFile()).as_uri()])
                return True
            if url.isValid() and url.scheme():
                self.opened.emit([url.toString(QUrl.ComponentFormattingOption.FullyEncoded)])
                return True
        return super().eventFilter(watched, event)


class DesktopApp(QObject):
    """Window + tray + engine bridge + single-instance listener around one engine backend."""

    finished = Signal()

    def __init__(
        self, data_dir: Path, backend_factory: BackendFactory = open_backend, tray: bool | None = None
    ) -> None:
        super().__init__()
        self.data_dir = data_dir
        self.settings = AppSettings(data_dir)
        self.runner = BackgroundRunner()
        self.bridge = EngineBridge()
        self.window = MainWindow(
            self.settings, self.runner, self.bridge, tray_available=tray_available() if tray is None else tray
        )
        self.tray = TrayController(self.window)
        self.single_instance = SingleInstanceServer(data_dir, self)
        self.single_instance.activated.connect(self._activated)
        self.file_open = FileOpenLinks(self)
        self.file_open.opened.connect(self._activated)
        if (qt_app := QApplication.instance()) is not None:
            qt_app.installEventFilter(self.file_open)
        self.window.quit_requested.connect(self.shutdown)
        self._backend_factory = backend_factory
        self._closing = False

    @property
    def backend(self) -> Backend | None:
        return self.window.backend

    def start(self, links: Sequence[str] = ()) -> None:
        """Show the window now; the server and the engine start off the GUI thread."""
        if not self.single_instance.is_listening and not self.single_instance.listen():
            log.warning(
                "could not listen as %s: a second launch will not find this one", self.single_instance.name
            )
        self.window.show()
        prefs = self.window.prefs
        self.window.server_label.setText(
            "Server: starting the local server…" if prefs.uses_local_server else f"Server: {prefs.server_url}"
        )

        def open_all() -> tuple[str | None, Backend]:
            token = self.settings.load_token()
            return token, self._backend_factory(self.data_dir, prefs, token, self.bridge.listener)

        self.runner.run(open_all, on_result=self._opened, on_error=self.window.backend_failed)
        self.window.handle_incoming(links)  # links to download, file:// URLs to send (gui/incoming.py)

    def _opened(self, result: tuple[str | None, Backend]) -> None:
        token, backend = result
        self.window.token = token
        if self._closing:
            self.runner.run(backend.close)
            return
        self.window.attach_backend(backend)

    def _activated(self, links: list[str]) -> None:
        self.window.bring_to_front()
        self.window.handle_incoming(links)

    def _stop_listening(self) -> None:
        self.single_instance.close()
        if (qt_app := QApplication.instance()) is not None:
            qt_app.removeEventFilter(self.file_open)

    def shutdown(self) -> None:
        """Quit: close the engine (transfers stay resumable) off the GUI thread, then emit finished."""
        if self._closing:
            return
        self._closing = True
        self._stop_listening()
        self.tray.hide()
        self.window.hide()
        self.bridge.stop()
        backend = self.window.backend
        if backend is None:
            self.finished.emit()
            return
        self.runner.run(
            backend.close, on_result=lambda _r: self.finished.emit(), on_error=lambda _e: self.finished.emit()
        )

    def close_now(self, timeout: float = 15) -> None:
        """Blocking shutdown for tests and the self-test's end."""
        self._closing = True
        self._stop_listening()
        self.tray.hide()
        self.bridge.stop()
        backend = self.window.backend
        self.window.backend = None
        if backend is not None:
            backend.close(timeout)
        self.runner.shutdown(wait=True)
        self.window.deleteLater()


_QUIET_QT_MESSAGES = ("This plugin does not support propagateSizeHints()",)


def _qt_message(mode: QtMsgType, context: QMessageLogContext, message: str) -> None:
    """Qt's own warnings go to the log; a few harmless offscreen-plugin notices are dropped."""
    if message in _QUIET_QT_MESSAGES:
        return
    level = logging.DEBUG if mode in (QtMsgType.QtDebugMsg, QtMsgType.QtInfoMsg) else logging.WARNING
    logging.getLogger("qt").log(level, "%s", message)


def make_qapplication(argv: Sequence[str]) -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    qInstallMessageHandler(_qt_message)
    app = QApplication(list(argv))
    configure_application(app)
    return app


def configure_application(app: QApplication) -> None:
    """Names and icon. Window titles end with the display name (Qt appends it to any title that does
    not), so the window reads "SGraph Send Desktop", not "SGraph Send Desktop — SGraph Send"."""
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APPLICATION)
    app.setDesktopFileName("sgsend-desktop")
    app.setWindowIcon(app_icon())


def main(argv: Sequence[str] | None = None) -> int:
    """The `sgsend-desktop` command (kept here for entry points that name it): see gui/launcher.py."""
    from sgsend_desktop.gui.launcher import main as launch

    return launch(argv)


_MOVED = ("build_parser", "ensure_std_streams", "hide_links_from_process_list", "links_from_fd")


def __getattr__(name: str) -> object:
    """The launcher's helpers moved to gui/launcher.py; older imports from here still find them."""
    if name in _MOVED:
        from sgsend_desktop.gui import launcher

        return getattr(launcher, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
