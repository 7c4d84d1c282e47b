"""`sgsend-desktop --self-test`: the real window, a local server, a round trip, one line per step.

Runs offscreen when there is no display. Uses a throwaway data dir and settings, so it never touches
the user's queue. Exit status 0 only if every step passed.
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

from sgsend_desktop.core.model import Direction, TransferSnapshot, TransferState

SIZE = 12 * 1024 * 1024  # over 5 MiB: the multipart path runs
TIMEOUT_S = 180.0


class StepFailed(Exception):
    pass


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
        wait("the local server and the engine", lambda: window.backend is not None, 60)
        assert window.backend is not None
        _say(True, f"local server started ({window.backend.engine.server_url})")

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
