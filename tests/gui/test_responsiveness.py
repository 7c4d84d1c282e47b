"""The window stays responsive while the real engine uploads a large file with 4 workers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from sgsend_desktop.core.model import TransferState
from sgsend_desktop.gui.drop_zone import deliver_drop
from sgsend_desktop.gui.stall_meter import StallMeter
from tests.gui.real_app import rows, start_desktop
from tests.helpers.servers import running_server

SIZE_MIB = 200
LIMIT_MS = 50.0


def write_big(path: Path, mib: int) -> Path:
    block = os.urandom(1 << 20)
    with open(path, "wb") as handle:
        for index in range(mib):
            handle.write(index.to_bytes(8, "big") + block[8:])
    return path


@pytest.mark.slow
def test_longest_event_loop_stall_during_a_4_worker_upload(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    source = write_big(tmp_path / "large.bin", SIZE_MIB)
    with running_server(tmp_path / "serve") as server:
        desktop = start_desktop(qtbot, data_dir, server.url, tmp_path / "downloads")
        try:
            assert desktop.backend is not None
            meter = StallMeter(5)
            meter.start()
            assert deliver_drop(desktop.window.drop_zone, [source])
            qtbot.waitUntil(
                lambda: (
                    len(rows(desktop)) == 1
                    and rows(desktop)[0].state in (TransferState.DONE, TransferState.FAILED)
                ),
                timeout=300_000,
            )
            meter.stop()
            snap = rows(desktop)[0]
            assert snap.state is TransferState.DONE, snap.error
            assert snap.size >= SIZE_MIB << 20
            print(
                f"\nlongest event-loop stall during a {SIZE_MIB} MiB 4-worker upload: "
                f"{meter.longest_ms:.1f} ms (p99 {meter.percentile_ms(0.99):.1f} ms, {len(meter.gaps)} ticks)"
            )
            assert len(meter.gaps) > 20  # the meter really ran during the upload
            # Work on the GUI thread (a read, a hash, a decrypt) stalls it again and again, for as long as
            # the transfer lasts. One late tick is the OS: on 2 cores shared with the server and 4 workers
            # the process was once descheduled for 51.8 ms in a full CI run (longest 26-31 ms alone).
            late = [gap * 1000 for gap in meter.gaps if gap * 1000 >= LIMIT_MS]
            assert len(late) <= 1 and meter.longest_ms < 2 * LIMIT_MS, late
        finally:
            desktop.close_now()
