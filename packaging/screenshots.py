"""Regenerate docs/screenshots/*.png from the real window, engine and embedded local server.

    xvfb-run -a -s "-screen 0 1280x800x24" python packaging/screenshots.py

Sends a few generated files (bandwidth-limited so that progress is visible), then captures:
sending.png (an upload in progress), done-link.png (a finished send with its link and QR code) and
receiving.png (a download in progress). Uses a throwaway data dir and settings.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
OUT = REPO / "docs" / "screenshots"
MiB = 1 << 20


def write_file(path: Path, size: int) -> Path:
    block = os.urandom(MiB)
    with open(path, "wb") as handle:
        for index in range(size // MiB):
            handle.write(index.to_bytes(8, "big") + block[8:])
    return path


def main() -> int:
    from PySide6.QtWidgets import QApplication

    from sgsend_desktop.core.model import Direction, TransferSnapshot, TransferState
    from sgsend_desktop.gui.app import DesktopApp, make_qapplication
    from sgsend_desktop.gui.drop_zone import deliver_drop
    from sgsend_desktop.gui.settings import AppSettings, Preferences, use_settings_dir

    app = make_qapplication([sys.argv[0]])
    work = Path(tempfile.mkdtemp(prefix="sgsend-shots-"))
    use_settings_dir(work / "settings")
    files = work / "files"
    files.mkdir()
    data = work / "data"
    data.mkdir()
    AppSettings(data).save(
        Preferences(
            server_url="",
            workers=4,
            upload_limit_kbps=6000,
            download_limit_kbps=2500,
            download_dir=str(work / "Downloads"),
            close_to_tray=False,
        )
    )
    (work / "Downloads").mkdir()
    desktop = DesktopApp(data, tray=False)
    window = desktop.window
    window.resize(1100, 780)
    desktop.start()

    def wait(predicate: Callable[[], bool], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise SystemExit("timed out")
            app.processEvents()
            time.sleep(0.01)

    def by_name(name: str, direction: Direction = Direction.SEND) -> TransferSnapshot | None:
        return next(
            (s for s in window.model.snapshots() if s.name == name and s.direction is direction), None
        )

    def reached(name: str, state: TransferState, direction: Direction = Direction.SEND) -> bool:
        snap = by_name(name, direction)
        return snap is not None and snap.state is state

    def fraction(name: str, direction: Direction) -> float:
        snap = by_name(name, direction)
        return (
            0.0 if snap is None or not snap.size else max(snap.bytes_done, snap.bytes_confirmed) / snap.size
        )

    def grab(name: str) -> None:
        for _ in range(30):
            app.processEvents()
            time.sleep(0.01)
        path = OUT / name
        window.grab().save(str(path))
        print(f"wrote {path.relative_to(REPO)}")

    wait(lambda: desktop.backend is not None, 30)
    report = write_file(files / "Quarterly report.pdf", 2 * MiB)
    photos = write_file(files / "Team photos.zip", 24 * MiB)
    video = write_file(files / "Product demo.mp4", 90 * MiB)
    deliver_drop(window.drop_zone, [report, photos])
    wait(lambda: reached(report.name, TransferState.DONE) and reached(photos.name, TransferState.DONE))

    window.max_downloads_spin.setValue(3)
    window.expiry_combo.setCurrentIndex(3)
    deliver_drop(window.drop_zone, [video])
    wait(lambda: fraction(video.name, Direction.SEND) > 0.35)
    window.select_transfer(by_name(video.name).id)  # type: ignore[union-attr]
    grab("sending.png")

    done = by_name(report.name)
    assert done is not None
    window.select_transfer(done.id)
    window.details.qr_toggle.setChecked(True)
    grab("done-link.png")
    window.details.qr_toggle.setChecked(False)

    shared = by_name(photos.name)
    assert shared is not None and shared.share_link
    window.receive_link(shared.share_link)
    wait(lambda: any(s.direction is Direction.RECEIVE for s in window.model.snapshots()), 30)
    receive_id = next(s.id for s in window.model.snapshots() if s.direction is Direction.RECEIVE)

    def received_fraction() -> float:
        snap = window.model.snapshot_of(receive_id)
        return 0.0 if snap is None or not snap.size else snap.bytes_done / snap.size

    wait(lambda: received_fraction() > 0.4)
    window.select_transfer(receive_id)
    grab("receiving.png")

    desktop.close_now()
    QApplication.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
