"""Helpers for GUI tests that run the real window, the real engine and a real `sgsend serve`."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from pytestqt.qtbot import QtBot

from sgsend_desktop.core.model import Direction, TransferSnapshot, TransferState
from sgsend_desktop.gui.app import DesktopApp
from sgsend_desktop.gui.settings import AppSettings, Preferences

REPO_ROOT = Path(__file__).resolve().parents[2]


def start_desktop(
    qtbot: QtBot,
    data_dir: Path,
    server_url: str,
    downloads: Path,
    *,
    upload_limit_kbps: int = 0,
    download_limit_kbps: int = 0,
    resume_automatically: bool = False,
) -> DesktopApp:
    """The whole app (window, tray controller, bridge, single-instance server) on a real engine."""
    downloads.mkdir(parents=True, exist_ok=True)
    AppSettings(data_dir).save(
        Preferences(
            server_url=server_url,
            download_dir=str(downloads),
            upload_limit_kbps=upload_limit_kbps,
            download_limit_kbps=download_limit_kbps,
            close_to_tray=False,
            resume_automatically=resume_automatically,
        )
    )
    desktop = DesktopApp(data_dir, tray=False)
    desktop.window.confirm_quit = lambda: True
    desktop.start()
    qtbot.waitUntil(lambda: desktop.backend is not None, timeout=20_000)
    return desktop


def rows(desktop: DesktopApp, direction: Direction | None = None) -> list[TransferSnapshot]:
    return [s for s in desktop.window.model.snapshots() if direction is None or s.direction is direction]


def wait_state(
    qtbot: QtBot, desktop: DesktopApp, local_id: str, state: TransferState, timeout_ms: int = 60_000
) -> TransferSnapshot:
    def reached() -> bool:
        snap = desktop.window.model.snapshot_of(local_id)
        assert snap is not None, f"row {local_id} vanished"
        if snap.state is TransferState.FAILED and state is not TransferState.FAILED:
            raise AssertionError(f"transfer failed: {snap.error}")
        return snap.state is state

    qtbot.waitUntil(reached, timeout=timeout_ms)
    snap = desktop.window.model.snapshot_of(local_id)
    assert snap is not None
    return snap


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def write_random(path: Path, size: int) -> Path:
    with open(path, "wb") as handle:
        left = size
        while left:
            block = os.urandom(min(left, 1 << 20))
            handle.write(block)
            left -= len(block)
    return path


def cli_env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["SGSEND_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("SGSEND_SERVER", None)
    return env


def cli(args: list[str], data_dir: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real `sgsend` CLI in a subprocess with its own data dir."""
    return subprocess.run(
        [sys.executable, "-m", "sgsend_desktop", *args],
        capture_output=True,
        text=True,
        env=cli_env(data_dir),
        cwd=str(REPO_ROOT),
        timeout=timeout,
        check=False,
    )
