"""Issue 9, item 2, end to end: a neighbour's symlink planted under a receive's partial-file name
(real `sgsend serve` on loopback, real engine and journal)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sgsend_desktop.core.download import partial_path
from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.model import TransferState
from tests.helpers.servers import ServerProc
from tests.integration.conftest import make_file, wait_state


def test_a_receive_into_a_folder_with_a_planted_partial_link_fails_in_one_sentence(
        tmp_path: Path, disk_server: ServerProc,
        make_engine: Callable[..., TransferEngine]) -> None:
    engine = make_engine(disk_server.url, download_limit_bps=64 * 1024)
    source = make_file(tmp_path / "doc.bin", 300_000)
    sent = wait_state(engine, engine.send([source])[0], [TransferState.DONE])
    assert sent.share_link
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    dest = tmp_path / "downloads"
    dest.mkdir()
    receiver = make_engine(disk_server.url, data_dir=tmp_path / "receiver", max_active_transfers=1)
    receiver.pause_all()
    local_id = receiver.receive(sent.share_link, dest_dir=dest)
    receiver.pause(local_id)
    wait_state(receiver, local_id, [TransferState.PAUSED, TransferState.DOWNLOADING,
                                    TransferState.DONE])
    if receiver.snapshot(local_id).state is not TransferState.PAUSED:
        pytest.fail("the receive was not paused in time to plant the link")
    for leftover in dest.iterdir():
        leftover.unlink()
    partial_path(dest, local_id).symlink_to(victim)
    receiver.resume(local_id)
    failed = wait_state(receiver, local_id, [TransferState.FAILED, TransferState.DONE])
    assert failed.state is TransferState.FAILED
    assert failed.error and "not a file this app made" in failed.error
    assert victim.read_bytes() == b"precious"
