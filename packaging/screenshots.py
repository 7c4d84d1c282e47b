"""Regenerate docs/screenshots/*.png from the real window, engine and embedded local server.

    xvfb-run -a -s "-screen 0 1280x800x24" python packaging/screenshots.py
    (or QT_QPA_PLATFORM=offscreen python packaging/screenshots.py)

Sends a few generated files (bandwidth-limited so that progress is visible: one of them several photos
as one link), then captures sending.png (an upload in progress), done-link.png (a finished send with its
link, limits and QR code), receiving.png (a download in progress) and dark.png (the same window on a dark
palette). Uses a throwaway data dir and settings.
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
os.environ.setdefault("SGSEND_NO_NATIVE_NOTIFICATIONS", "1")
OUT = REPO / "docs" / "screenshots"
MiB = 1 << 20
SIZE = (1000, 720)


def write_file(path: Path, size: int) -> Path:
    block = os.urandom(MiB)
    with open(path, "wb") as handle:
        for index in range(max(1, size // MiB)):
            handle.write(index.to_bytes(8, "big") + block[8:])
    return path


def dark_palette():  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QColor, QPalette

    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: (37, 39, 43),
        QPalette.ColorRole.WindowText: (226, 228, 232),
        QPalette.ColorRole.Base: (28, 29, 32),
        QPalette.ColorRole.AlternateBase: (43, 45, 50),
        QPalette.ColorRole.Text: (226, 228, 232),
        QPalette.ColorRole.Button: (50, 52, 57),
        QPalette.ColorRole.ButtonText: (226, 228, 232),
        QPalette.ColorRole.Highlight: (53, 116, 196),
        QPalette.ColorRole.HighlightedText: (255, 255, 255),
        QPalette.ColorRole.Mid: (84, 87, 93),
        QPalette.ColorRole.Dark: (20, 21, 24),
        QPalette.ColorRole.Light: (70, 73, 79),
        QPalette.ColorRole.ToolTipBase: (50, 52, 57),
        QPalette.ColorRole.ToolTipText: (226, 228, 232),
        QPalette.ColorRole.PlaceholderText: (150, 153, 160),
        QPalette.ColorRole.Link: (110, 170, 255),
    }
    for role, rgb in roles.items():
        palette.setColor(role, QColor(*rgb))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(110, 113, 120))
    return palette


def main() -> int:
    from PySide6.QtWidgets import QApplication

    from sgsend_desktop.core.model import Direction, TransferSnapshot, TransferState
    from sgsend_desktop.gui.app import DesktopApp, make_qapplication
    from sgsend_desktop.gui.drop_zone import deliver_drop
    from sgsend_desktop.gui.settings import AppSettings, Preferences, use_settings_dir

    app = make_qapplication([sys.argv[0]])
    app.setStyle("Fusion")
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
    window.confirm_quit = lambda: True
    window.resize(*SIZE)
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
        window.resize(*SIZE)
        for _ in range(40):
            app.processEvents()
            time.sleep(0.01)
        path = OUT / name
        window.grab().save(str(path))
        print(f"wrote {path.relative_to(REPO)}")

    wait(lambda: desktop.backend is not None, 30)
    photos_dir = files / "photos"
    photos_dir.mkdir()
    photos = [write_file(photos_dir / f"Holiday {n}.jpg", 3 * MiB) for n in range(1, 5)]
    report = write_file(files / "Quarterly report.pdf", 2 * MiB)
    slides = write_file(files / "Board meeting slides.pptx", 6 * MiB)
    video = write_file(files / "Product demo.mp4", 90 * MiB)

    options = window.send_options
    options.max_downloads_spin.setValue(3)
    options.expiry_combo.setCurrentIndex(3)  # 7 days
    deliver_drop(window.drop_zone, [report])
    wait(lambda: reached(report.name, TransferState.DONE))
    options.max_downloads_spin.setValue(0)
    options.expiry_combo.setCurrentIndex(2)
    options.set_together(True)  # several photos: one link
    deliver_drop(window.drop_zone, photos)
    bundle = "Holiday 1 and 3 more.zip"
    deliver_drop(window.drop_zone, [slides])
    wait(lambda: reached(bundle, TransferState.DONE) and reached(slides.name, TransferState.DONE))
    options.set_together(False)

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

    shared = by_name(bundle)
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

    app.setPalette(dark_palette())
    window.select_transfer(done.id)
    grab("dark.png")

    desktop.close_now()
    QApplication.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
