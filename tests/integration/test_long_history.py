"""After months of use the journal holds thousands of finished transfers: the engine must stay idle when
idle, and new transfers must still start (real SQLite journal, real `sgsend serve`)."""

from __future__ import annotations

import secrets as pysecrets
import time
from collections.abc import Callable
from pathlib import Path

from sgsend_desktop.core import config
from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.journal import Journal
from sgsend_desktop.core.model import Direction, TransferState
from tests.helpers.servers import ServerProc
from tests.integration.conftest import FINISHED, MiB, make_file, sha256, wait_state

HISTORY = 2000


def _history(data_dir: Path, server_url: str) -> None:
    journal = Journal(config.journal_path(data_dir))
    for n in range(HISTORY):
        local_id = pysecrets.token_hex(4)
        journal.add_transfer(local_id, Direction.SEND, server_url, f"old-{n}.pdf",
                             transfer_id=pysecrets.token_hex(6), payload_size=5000, source_size=4900)
        for state in (TransferState.PREPARING, TransferState.UPLOADING, TransferState.COMPLETING,
                      TransferState.DONE):
            journal.set_state(local_id, state)
    journal.close()


def test_an_idle_engine_with_2000_finished_transfers_stays_idle_and_new_ones_start(
        disk_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    """The scheduler read the whole journal ten times a second to find queued transfers: with 2000
    finished ones (60 ms a read), an idle app used half a core. It now asks SQLite for the queued ones."""
    data = tmp_path / "data"
    _history(data, disk_server.url)
    engine = make_engine(disk_server.url, data_dir=data)
    time.sleep(1.0)  # start-up work (the earlier sends' watchers) out of the way
    cpu, wall = time.process_time(), time.monotonic()
    time.sleep(5.0)
    busy = (time.process_time() - cpu) / (time.monotonic() - wall)
    print(f"\nidle engine with {HISTORY} finished transfers: {busy * 100:.1f} % of a core")
    assert busy < 0.10, busy  # the whole test process: engine threads, server client, pytest
    source = make_file(tmp_path / "new.bin", 2 * MiB, seed=21)
    [sent] = engine.send([source])
    snap = wait_state(engine, sent, FINISHED)
    assert snap.state is TransferState.DONE and snap.share_link, snap.error
    got = wait_state(engine, engine.receive(snap.share_link, dest_dir=tmp_path / "out"), FINISHED)
    assert got.saved_path and sha256(Path(got.saved_path)) == sha256(source)
    assert len(engine.snapshots()) == HISTORY + 2
