"""Longest GUI event-loop stall during a 4-worker upload of a large file through the real window.

    python bench/gui_stall.py [--mib 200]

Starts a real `sgsend serve` subprocess on loopback, the real window and engine (offscreen unless a
display is set), drops a generated file on the window and, while it uploads, runs a 5 ms QTimer; the
longest gap between ticks is the stall. Prints one line of figures; exit 1 if the stall is >= 50 ms.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")

LIMIT_MS = 50.0


def write_file(path: Path, size: int) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as handle:
        for index in range(size >> 20):
            handle.write(index.to_bytes(8, "big") + block[8:])  # distinct blocks, fast to generate


def measure(mib: int, workdir: Path) -> dict[str, float]:
    from PySide6.QtCore import QEventLoop, QTimer

    from sgsend_desktop.core.model import TransferState
    from sgsend_desktop.gui.app import DesktopApp, make_qapplication
    from sgsend_desktop.gui.drop_zone import deliver_drop
    from sgsend_desktop.gui.settings import AppSettings, Preferences, use_settings_dir
    from sgsend_desktop.gui.stall_meter import StallMeter
    from tests.helpers.servers import running_server

    app = make_qapplication([sys.argv[0]])
    use_settings_dir(workdir / "settings")
    source = workdir / f"big-{mib}MiB.bin"
    write_file(source, mib << 20)
    with running_server(workdir / "serve") as server:
        data = workdir / "data"
        data.mkdir()
        AppSettings(data).save(
            Preferences(server_url=server.url, workers=4, close_to_tray=False, download_dir=str(workdir))
        )
        desktop = DesktopApp(data, tray=False)
        desktop.start()
        deadline = time.monotonic() + 30
        while desktop.backend is None and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        meter = StallMeter(5)
        meter.start()
        started = time.monotonic()
        deliver_drop(desktop.window.drop_zone, [source])

        def state() -> TransferState | None:
            snaps = desktop.window.model.snapshots()
            return snaps[0].state if snaps else None

        loop = QEventLoop()
        check = QTimer()
        check.setInterval(50)
        check.timeout.connect(
            lambda: loop.quit() if state() in (TransferState.DONE, TransferState.FAILED) else None
        )
        check.start()
        QTimer.singleShot(600_000, loop.quit)
        loop.exec()  # the real event loop, as in the app
        check.stop()
        elapsed = time.monotonic() - started
        meter.stop()
        final = state()
        desktop.close_now()
    if final is not TransferState.DONE:
        raise SystemExit(f"upload did not finish: {final}")
    return {
        "mib": mib,
        "seconds": elapsed,
        "ticks": len(meter.gaps),
        "longest_ms": meter.longest_ms,
        "p99_ms": meter.percentile_ms(0.99),
        "mib_per_s": mib / elapsed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sgsend-stall-") as tmp:
        result = measure(args.mib, Path(tmp))
    print(
        f"upload {result['mib']} MiB, 4 workers: {result['seconds']:.1f} s "
        f"({result['mib_per_s']:.1f} MiB/s); "
        f"event-loop ticks {result['ticks']}; longest stall {result['longest_ms']:.1f} ms; "
        f"p99 {result['p99_ms']:.1f} ms (limit {LIMIT_MS:.0f} ms)"
    )
    return 0 if result["longest_ms"] < LIMIT_MS else 1


if __name__ == "__main__":
    sys.exit(main())
