"""The window stays responsive while the real engine uploads a large file with 4 workers."""

from __future__ import annotations

import json
import os
import time
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


def _months_of_sends(data_dir: Path, server_url: str, count: int) -> dict[str, str]:
    """A journal (real SQLite) and a secrets file as months of daily use leave them: ``count`` finished
    sends, each with its key. Their share links by local id."""
    import json
    import secrets as pysecrets

    from sgsend_desktop.core import config
    from sgsend_desktop.core.journal import Journal
    from sgsend_desktop.core.model import Direction

    journal = Journal(config.journal_path(data_dir))
    keys, links = {}, {}
    for n in range(count):
        local_id, transfer_id = pysecrets.token_hex(4), pysecrets.token_hex(6)
        journal.add_transfer(local_id, Direction.SEND, server_url, f"report-{n}.pdf", transfer_id=transfer_id,
                             payload_size=5000 + n, source_size=4900 + n)
        for state in (TransferState.PREPARING, TransferState.UPLOADING, TransferState.COMPLETING,
                      TransferState.DONE):
            journal.set_state(local_id, state)
        keys[local_id] = pysecrets.token_urlsafe(32)  # 32 bytes, base64url without padding: 43 chars
        links[local_id] = f"{server_url}/en-gb/download/#{transfer_id}/{keys[local_id]}"
    journal.close()
    secrets_file = data_dir / "secrets.json"
    secrets_file.write_text(json.dumps(keys))
    secrets_file.chmod(0o600)
    return links


def test_a_launch_after_months_of_use_shows_2000_transfers_without_freezing(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    """2000 finished sends in the journal (a few a day for a year and a half): the window loaded them one
    row at a time, recounting the totals of every row each time, and froze for 4.7 s; the engine read
    the secrets file once per send (1.5 s more). Now one batch: no stall over 0.5 s, every link right."""
    with running_server(tmp_path / "serve") as server:
        links = _months_of_sends(data_dir, server.url, 2000)
        meter = StallMeter(5)
        meter.start()
        desktop = start_desktop(qtbot, data_dir, server.url, tmp_path / "downloads")
        try:
            qtbot.waitUntil(lambda: len(rows(desktop)) == 2000, timeout=30_000)
            qtbot.wait(300)
            meter.stop()
            shown = {snap.id: snap.share_link for snap in rows(desktop)}
            assert shown == links
            assert desktop.window.total_label.text() == "Total: 2000 done"
            print(f"\nlongest event-loop stall loading 2000 rows: {meter.longest_ms:.0f} ms")
            assert meter.longest_ms < 500, meter.longest_ms
            # removing half of them (select, Remove), then Clear finished for the rest: each row went on
            # its own (the secrets file rewritten per row, the totals recounted per row): 12.8 s and 8 s,
            # with stalls of 2 s
            window = desktop.window
            doomed = [snap.id for snap in rows(desktop)[::2]]
            meter.start()
            started = time.monotonic()
            window.commands.discard(doomed)
            qtbot.waitUntil(lambda: len(rows(desktop)) == 1000, timeout=30_000)
            removing = time.monotonic() - started
            window.actions_.clear_finished.trigger()
            qtbot.waitUntil(lambda: len(rows(desktop)) == 0, timeout=30_000)
            clearing = time.monotonic() - started - removing
            qtbot.wait(200)
            meter.stop()
            print(f"removed 1000 rows in {removing:.2f} s, cleared 1000 in {clearing:.2f} s, "
                  f"longest stall {meter.longest_ms:.0f} ms")
            # 1000 events in one turn of the event loop: 0.2-0.3 s alone, 0.57 s once in a loaded CI
            # run on 2 cores; one row at a time it was 2.5 s
            assert meter.longest_ms < 1200, meter.longest_ms
            assert removing < 5 and clearing < 5
            kept = {snap.id: snap.share_link for snap in window.model.all_snapshots()}
            assert kept == {local_id: link for local_id, link in links.items() if local_id not in doomed}
            assert not (set(doomed) & set(json.loads((data_dir / "secrets.json").read_text())))
        finally:
            desktop.close_now()
