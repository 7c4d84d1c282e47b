"""Pause or cancel right after queueing, while the scheduler is starting the job: the transfer must
end paused or cancelled, never failed ("a transfer cannot go from paused to preparing" once did,
in CI, in a test that paused a receive the moment it was queued)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.model import TransferState
from tests.helpers.servers import ServerProc
from tests.integration.conftest import make_file, wait_for, wait_state

ROUNDS = 60


def test_pausing_or_cancelling_the_moment_a_transfer_is_queued_never_fails_it(
        tmp_path: Path, disk_server: ServerProc,
        make_engine: Callable[..., TransferEngine]) -> None:
    sender = make_engine(disk_server.url)
    source = make_file(tmp_path / "doc.bin", 200_000)
    link = wait_state(sender, sender.send([source])[0], [TransferState.DONE]).share_link
    assert link
    receiver = make_engine(disk_server.url, data_dir=tmp_path / "receiver", max_active_transfers=8)
    dest = tmp_path / "downloads"
    outcomes: dict[str, TransferState] = {}
    for round_ in range(ROUNDS):
        if round_ % 2:
            local_id = sender.send([source])[0]
            engine, wanted = sender, ("pause", TransferState.PAUSED)
        else:
            local_id = receiver.receive(link, dest_dir=dest)
            engine, wanted = receiver, ("cancel", TransferState.CANCELLED)
        if round_ % 3 == 0:
            wanted = ("pause", TransferState.PAUSED)
        getattr(engine, wanted[0])(local_id)
        ends = (wanted[1], TransferState.DONE, TransferState.FAILED)
        wait_for(lambda e=engine, i=local_id, ends=ends: e.snapshot(i).state in ends, 30,
                 f"{local_id} to stop")
        # a job told to stop while it starts winds down: give it a moment to settle on its end state
        wait_for(lambda e=engine, i=local_id: i not in e._running, 30, f"{local_id}'s job to end")
        outcomes[local_id] = engine.snapshot(local_id).state
        snap = engine.snapshot(local_id)
        assert snap.state is not TransferState.FAILED, f"round {round_}: {snap.error}"
    assert set(outcomes.values()) <= {TransferState.PAUSED, TransferState.CANCELLED, TransferState.DONE}
    # the paused ones really are resumable: each finishes when resumed
    paused = [i for i, state in outcomes.items() if state is TransferState.PAUSED]
    assert paused
    for local_id in paused[:6]:
        engine = sender if local_id in {r.id for r in sender.journal.all()} else receiver
        engine.resume(local_id)
        assert wait_state(engine, local_id, [TransferState.DONE, TransferState.FAILED]).state \
            is TransferState.DONE
