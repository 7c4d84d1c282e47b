"""`sgsend-desktop [LINK]`: the desktop app's entry point and the object that wires it together."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import (
    QEvent,
    QMessageLogContext,
    QObject,
    QTimer,
    QtMsgType,
    QUrl,
    Signal,
    qInstallMessageHandler,
)
from PySide6.QtGui import QFileOpenEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from sgsend_desktop import __version__
from sgsend_desktop.core.logsetup import configure_logging
from sgsend_desktop.gui.backend import Backend, open_backend
from sgsend_desktop.gui.background import BackgroundRunner
from sgsend_desktop.gui.engine_bridge import EngineBridge
from sgsend_desktop.gui.icons import app_icon
from sgsend_desktop.gui.main_window import MainWindow
from sgsend_desktop.gui.qt_guard import broken_pyside_message
from sgsend_desktop.gui.settings import APPLICATION, ORGANIZATION, AppSettings
from sgsend_desktop.gui.single_instance import SingleInstanceServer, forward_to_running
from sgsend_desktop.gui.tray import TrayController, tray_available

log = logging.getLogger(__name__)

BackendFactory = Callable[..., Backend]


class FileOpenLinks(QObject):
    """Links the OS hands over as a Qt FileOpen event: macOS delivers an `sgsend://` link to the app as
    an Apple Event (also when it is already running), never in argv. Emits ``opened`` with the link, for
    the same path as links from the command line and from a second launch; local files are left alone.
    """

    opened = Signal(list)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
            url = event.url()
            if url.isValid() and not url.isLocalFile() and url.scheme():
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
        for link in links:
            self.window.handle_incoming_link(link)

    def _opened(self, result: tuple[str | None, Backend]) -> None:
        token, backend = result
        self.window.token = token
        if self._closing:
            self.runner.run(backend.close)
            return
        self.window.attach_backend(backend)

    def _activated(self, links: list[str]) -> None:
        self.window.bring_to_front()
        for link in links:
            self.window.handle_incoming_link(link)

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sgsend-desktop", description="SGraph Send Desktop: end-to-end encrypted file sending."
    )
    parser.add_argument(
        "links",
        nargs="*",
        metavar="LINK",
        help="share link(s) to download: https://…/download/#… or sgsend://open?url=…",
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="send a generated file through the real window and a local server, download it "
        "back and compare (works offscreen); exit 0 only if all steps pass",
    )
    parser.add_argument(
        "--data-dir", type=Path, help="state directory (default: SGSEND_DATA_DIR or the platform data dir)"
    )
    parser.add_argument("--links-fd", type=int, help=argparse.SUPPRESS)  # see hide_links_from_process_list
    parser.add_argument("--version", action="version", version=f"sgsend-desktop {__version__}")
    return parser


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
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("SGraph Send")
    app.setDesktopFileName("sgsend-desktop")
    app.setWindowIcon(app_icon())
    return app


def _quit_on_signals(desktop: DesktopApp) -> None:
    """SIGINT/SIGTERM quit like the Quit action (transfers paused, resumable)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _n, _f: QTimer.singleShot(0, desktop.shutdown))
    wake = QTimer(desktop)  # lets the Python interpreter run signal handlers during Qt's event loop
    wake.timeout.connect(lambda: None)
    wake.start(250)


def hide_links_from_process_list(args: argparse.Namespace) -> None:
    """Links carry their key, and a process's command line is readable by every user of the computer
    (/proc/PID/cmdline) for as long as it runs. So the app starts itself again at once with the links
    in a pipe instead of its arguments (POSIX; the exec keeps the pid). No return when it re-executes."""
    if not args.links or os.name != "posix" or os.environ.get("SGSEND_KEEP_ARGV"):
        return
    read_end, write_end = os.pipe()
    os.write(write_end, "\n".join(args.links).encode("utf-8"))  # far below a pipe's buffer
    os.close(write_end)
    os.set_inheritable(read_end, True)
    rest = ["--links-fd", str(read_end)]
    if args.data_dir is not None:
        rest += ["--data-dir", str(args.data_dir)]
    frozen = getattr(sys, "frozen", False)
    program = [sys.executable] if frozen else [sys.executable, "-m", "sgsend_desktop.gui"]
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    os.execv(program[0], program + rest)


def links_from_fd(fd: int) -> list[str]:
    with os.fdopen(fd, "rb") as pipe:
        return [line for line in pipe.read(1 << 20).decode("utf-8", "replace").splitlines() if line.strip()]


def ensure_std_streams() -> None:
    """Closed or missing standard streams (`sgsend-desktop >&- 2>&-`, a windowed Windows build) point at
    the null device: no file the app opens later may get descriptor 1 or 2, where C libraries write their
    warnings, and code that writes to sys.stdout or sys.stderr needs an object there."""
    if os.name == "posix":
        for fd in (0, 1, 2):
            try:
                os.fstat(fd)
            except OSError:
                null = os.open(os.devnull, os.O_RDWR)
                if null != fd:
                    os.dup2(null, fd)
                    os.close(null)
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # kept for the life of the process
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    ensure_std_streams()
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if argv is None and not args.self_test:
        hide_links_from_process_list(args)
    if args.links_fd is not None:
        args.links = links_from_fd(args.links_fd)
    configure_logging()
    if args.self_test:
        from sgsend_desktop.gui.self_test import run_self_test

        return run_self_test()
    if args.data_dir is not None:
        os.environ["SGSEND_DATA_DIR"] = str(args.data_dir)
    from sgsend_desktop.core.config import data_dir

    directory = data_dir()
    qt_app = make_qapplication([sys.argv[0]])
    if forward_to_running(directory, list(args.links)):
        return 0
    if refusal := broken_pyside_message():  # it would abort mid-transfer; say so before it does
        logging.getLogger(__name__).error("%s", refusal)
        QMessageBox.critical(None, "SGraph Send Desktop cannot start", refusal)
        return 1
    qt_app.setQuitOnLastWindowClosed(False)  # closing to the tray keeps running; Quit ends it
    desktop = DesktopApp(directory)
    if not desktop.single_instance.listen() and forward_to_running(directory, list(args.links)):
        return 0  # another launch won the race to listen: it got our links
    desktop.finished.connect(qt_app.quit)
    desktop.start(args.links)
    _quit_on_signals(desktop)
    code = int(qt_app.exec())
    desktop.runner.shutdown(wait=True)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
