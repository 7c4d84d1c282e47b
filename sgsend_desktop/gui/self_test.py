"""`sgsend-desktop --self-test`: the real window, a local server, a round trip, one line per step.

Runs offscreen when there is no display. Uses a throwaway data dir and settings, so it never touches
the user's queue. Exit status 0 only if every step passed (with stdout closed, that is all it says).

Besides the round trip it checks what a packaged app can lose on the way (a PyInstaller bundle, say):
the icon and the Qt plugins that draw it, the server's pages and static files, the CLI's command
modules and the S3 client's service model.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sgsend_desktop.core.model import Direction, TransferSnapshot, TransferState

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

SIZE = 12 * 1024 * 1024  # over 5 MiB: the multipart path runs
TIMEOUT_S = 180.0


PAGES = ("/", "/en-gb/download/", "/_static/download.js", "/_static/page.css")
CLI_COMMANDS = {"send", "get", "serve", "encrypt", "decrypt"}


class StepFailed(Exception):
    pass


def process_age() -> float | None:
    """Seconds since this process started (Linux), or None."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def check_icon() -> str:
    """The app icon renders: the SVG file is there and Qt's SVG image format and icon engine load."""
    from PySide6.QtGui import QImage

    from sgsend_desktop.gui.icons import APP_ICON_FILE, app_icon

    image = QImage(str(APP_ICON_FILE))
    if image.isNull():
        raise StepFailed(f"the app icon does not render ({APP_ICON_FILE}; is Qt's SVG image format there?)")
    pixmap = app_icon().pixmap(64, 64)
    if pixmap.isNull() or pixmap.toImage().pixelColor(32, 32).alpha() == 0:
        raise StepFailed("the app icon renders empty (is Qt's SVG icon engine there?)")
    return f"app icon renders ({image.width()}×{image.height()} from {APP_ICON_FILE.name})"


def check_cli() -> str:
    """The `sgsend` command modules import and register their commands."""
    import argparse

    from sgsend_desktop.cli import COMMAND_MODULES, build_parser

    parser = build_parser()
    commands: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            commands.update(action.choices)
    missing = CLI_COMMANDS - commands
    if missing:
        raise StepFailed(f"the sgsend commands {sorted(missing)} are missing")
    return f"CLI command modules import ({', '.join(COMMAND_MODULES)}: {len(commands)} commands)"


def check_notifier() -> str:
    """Native notifications can load: ``desktop-notifier`` and this platform's backend import (a bundle
    that missed them would fall back to the tray's balloons without a word). No connection is made."""
    import importlib
    import sys

    import desktop_notifier  # noqa: F401 - the package itself, then its backend

    backend = {"darwin": "macos", "win32": "winrt"}.get(sys.platform, "dbus")
    importlib.import_module(f"desktop_notifier.backends.{backend}")
    return f"desktop notifications load (desktop-notifier, {backend} backend)"


def check_pages(server_url: str) -> str:
    """The server's pages and their static files answer 200 over HTTP."""
    import httpx

    with httpx.Client(base_url=server_url, timeout=10, trust_env=False) as client:
        for path in PAGES:
            response = client.get(path)
            if response.status_code != 200 or not response.content:
                raise StepFailed(f"GET {path} answered {response.status_code} (are the static files there?)")
            if path.endswith("/download/") and "/_static/download.js" not in response.text:
                raise StepFailed(f"GET {path} is not the download page")
    return f"server pages and static files answer 200 ({', '.join(PAGES)})"


def check_s3_model() -> str:
    """boto3 finds the S3 service model (`sgsend serve --storage s3`); no request is made."""
    import boto3

    client = boto3.session.Session().client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="self-test",
        aws_secret_access_key="self-test",
    )
    url = client.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}, ExpiresIn=60)
    if not url.startswith("http://127.0.0.1:9/b/k?"):
        raise StepFailed(f"the S3 client signs an unexpected URL: {url[:60]}")
    return "S3 client loads its service model and signs a URL"


def _say(ok: bool, text: str) -> None:
    print(f"[{'ok' if ok else 'FAIL'}] {text}", flush=True)


def _write_random(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as handle:
        left = size
        while left:
            block = os.urandom(min(left, 1024 * 1024))
            handle.write(block)
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()


def _exposed(window: QWidget) -> bool:
    handle = window.windowHandle()
    return handle is not None and handle.isExposed()


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def run_self_test() -> int:
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    workdir = Path(tempfile.mkdtemp(prefix="sgsend-self-test-"))
    os.environ["SGSEND_DATA_DIR"] = str(workdir / "data")
    os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    try:
        return _run(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(workdir: Path) -> int:
    from PySide6.QtWidgets import QApplication

    from sgsend_desktop.core.config import data_dir
    from sgsend_desktop.gui.app import DesktopApp, make_qapplication
    from sgsend_desktop.gui.drop_zone import deliver_drop
    from sgsend_desktop.gui.settings import AppSettings, use_settings_dir

    app = make_qapplication([sys.argv[0]])
    _say(True, f"Qt {QApplication.platformName()} platform ready")
    from sgsend_desktop.gui.qt_guard import broken_pyside_message

    refusal = broken_pyside_message()
    _say(refusal is None, refusal or "PySide6 reads of None-returning models keep their references")
    if refusal:
        return 1
    use_settings_dir(workdir / "settings")
    downloads = workdir / "downloads"
    downloads.mkdir()
    settings = AppSettings(data_dir())
    prefs = settings.load()
    prefs.download_dir = str(downloads)
    prefs.close_to_tray = False
    settings.save(prefs)

    desktop = DesktopApp(data_dir(), tray=False)
    window = desktop.window
    failures = 0

    def wait(what: str, predicate: Callable[[], bool], timeout: float = TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise StepFailed(f"timed out after {timeout:.0f} s waiting for {what}")
            app.processEvents()
            time.sleep(0.01)

    def find(direction: Direction) -> TransferSnapshot | None:
        for snap in window.model.snapshots():
            if snap.direction is direction:
                if snap.state is TransferState.FAILED:
                    raise StepFailed(f"{direction.value} failed: {snap.error}")
                return snap
        return None

    try:
        desktop.start()
        wait("the window to show", lambda: window.isVisible() and _exposed(window), 30)
        age = process_age()
        _say(True, "window shown" + (f" ({age:.2f} s after the process started)" if age is not None else ""))
        for check in (check_icon, check_cli, check_notifier):  # a failure here still lets the round trip run
            try:
                _say(True, check())
            except StepFailed as error:
                failures += 1
                _say(False, str(error))
            except Exception as error:  # an import that a bundle cannot satisfy, say
                failures += 1
                _say(False, f"{type(error).__name__}: {error}")
        wait("the local server and the engine", lambda: window.backend is not None, 60)
        assert window.backend is not None
        server_url = window.backend.engine.server_url
        _say(True, f"local server started ({server_url})")

        checks: list[tuple[str, Callable[[], str]]] = [
            ("the server's pages", lambda: check_pages(server_url)),
            ("the S3 client", check_s3_model),
        ]
        for what, check in checks:  # network and file work stays off the GUI thread
            checking = desktop.runner.run(check)
            wait(what, checking.done, 60)
            _say(True, checking.result())

        source = workdir / "self-test-12MiB.bin"
        writing = desktop.runner.run(
            lambda: _write_random(source, SIZE)
        )  # file work stays off the GUI thread
        wait("the test file", writing.done, 60)
        expected = writing.result()
        _say(True, f"generated {source.name} ({SIZE} bytes, sha256 {expected[:16]}…)")

        if not deliver_drop(window.drop_zone, [source]):
            raise StepFailed("the drop zone refused the file")
        wait("the send to appear in the queue", lambda: find(Direction.SEND) is not None, 30)
        _say(True, "dropped the file on the window: a send row appeared")

        def sent() -> bool:
            snap = find(Direction.SEND)
            return snap is not None and snap.state is TransferState.DONE

        wait("the upload to finish", sent)
        snap = find(Direction.SEND)
        assert snap is not None
        window.select_transfer(snap.id)
        app.processEvents()
        link = window.details.link_field.text()
        if not link or snap.transfer_id is None or snap.transfer_id not in link:
            raise StepFailed(f"the details panel shows no usable share link ({link!r})")
        _say(True, f"upload done; the window shows the share link for {snap.transfer_id}")

        dialog = window.open_link_dialog(link)
        dialog.accept()
        if dialog.error_label.isVisible():
            raise StepFailed(f"the Open link dialog refused the link: {dialog.error_label.text()}")

        def received() -> bool:
            got = find(Direction.RECEIVE)
            return got is not None and got.state is TransferState.DONE

        wait("the download to finish", received)
        got = find(Direction.RECEIVE)
        assert got is not None and got.saved_path
        _say(True, f"downloaded through the link into {Path(got.saved_path).name}")

        saved = Path(got.saved_path)
        hashing = desktop.runner.run(lambda: _hash_file(saved))
        wait("the hash of the download", hashing.done, 60)
        actual = hashing.result()
        if actual != expected:
            raise StepFailed(f"bytes differ: sha256 {actual[:16]}… != {expected[:16]}…")
        _say(True, "downloaded bytes are identical to the original")
    except StepFailed as error:
        failures += 1
        _say(False, str(error))
    except Exception as error:  # any surprise is a failed self-test, reported in one line
        failures += 1
        _say(False, f"{type(error).__name__}: {error}")
    finally:
        try:
            desktop.close_now()
            _say(True, "engine and local server stopped")
        except Exception as error:
            failures += 1
            _say(False, f"shutdown: {error}")
    print("self-test passed" if failures == 0 else "self-test FAILED", flush=True)
    return 0 if failures == 0 else 1
