"""`sgsend-desktop [LINK…]`: the desktop app's command — its arguments, the self-test, the single-instance
hand-over, signal handling, and keeping links (with their keys) out of the process list.

The app itself (window, tray, engine) is gui/app.py; this module only starts it."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox

from sgsend_desktop import __version__
from sgsend_desktop.core.logsetup import configure_logging
from sgsend_desktop.gui.app import DesktopApp, make_qapplication
from sgsend_desktop.gui.incoming import as_incoming
from sgsend_desktop.gui.qt_guard import broken_pyside_message
from sgsend_desktop.gui.single_instance import forward_to_running


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sgsend-desktop", description="SGraph Send Desktop: end-to-end encrypted file sending."
    )
    parser.add_argument(
        "links",
        nargs="*",
        metavar="LINK",
        help="share link(s) to download (https://…/download/#… or sgsend://open?url=…), or files and "
        "folders to send (with the window's send options; to the running app if there is one)",
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
    items = [as_incoming(arg, Path.cwd()) for arg in args.links]  # files as absolute file:// URLs
    qt_app = make_qapplication([sys.argv[0]])
    if forward_to_running(directory, items):
        return 0
    if refusal := broken_pyside_message():  # it would abort mid-transfer; say so before it does
        logging.getLogger(__name__).error("%s", refusal)
        QMessageBox.critical(None, "SGraph Send Desktop cannot start", refusal)
        return 1
    qt_app.setQuitOnLastWindowClosed(False)  # closing to the tray keeps running; Quit ends it
    desktop = DesktopApp(directory)
    if not desktop.single_instance.listen() and forward_to_running(directory, items):
        return 0  # another launch won the race to listen: it got our links
    desktop.finished.connect(qt_app.quit)
    desktop.start(items)
    _quit_on_signals(desktop)
    code = int(qt_app.exec())
    desktop.runner.shutdown(wait=True)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
