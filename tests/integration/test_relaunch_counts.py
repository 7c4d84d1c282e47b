"""A send's "downloaded N times" survives a relaunch: the count is kept in the journal and the newest
finished sends of earlier runs are asked again at start (seen using the window: after a relaunch a
downloaded file said "Not downloaded yet")."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.model import TransferState
from tests.helpers.servers import ServerProc
from tests.integration.conftest import make_file, wait_for, wait_state


def test_download_counts_of_earlier_runs_are_shown_after_a_relaunch(
        tmp_path: Path, disk_server: ServerProc, make_engine: Callable[..., TransferEngine]) -> None:
    data = tmp_path / "sender"
    first = make_engine(disk_server.url, data_dir=data)
    source = make_file(tmp_path / "report.bin", 200_000)
    local_id = first.send([source])[0]
    link = wait_state(first, local_id, [TransferState.DONE]).share_link
    assert link
    first.close()  # the sender quits before anyone downloads

    receiver = make_engine(disk_server.url, data_dir=tmp_path / "receiver")
    got = receiver.receive(link, dest_dir=tmp_path / "in")
    assert wait_state(receiver, got, [TransferState.DONE, TransferState.FAILED]).state is TransferState.DONE

    second = make_engine(disk_server.url, data_dir=data)  # relaunch: asks the server at start
    wait_for(lambda: second.snapshot(local_id).download_count == 1, 20, "the count of an earlier run")
    second.close()

    third = make_engine(disk_server.url, data_dir=data)
    assert third.snapshot(local_id).download_count == 1  # at once, before any poll: the kept count


def test_a_download_after_a_relaunch_is_told_at_once(
        tmp_path: Path, disk_server: ServerProc, make_engine: Callable[..., TransferEngine]) -> None:
    """Seen using the window: after a relaunch, a send downloaded a minute later still said "Not
    downloaded yet" for up to a minute (earlier runs' sends were only polled, every 60 s) and no
    "downloaded" notice came. The newest earlier sends get an event stream again at start."""
    data = tmp_path / "sender"
    first = make_engine(disk_server.url, data_dir=data)
    sources = [make_file(tmp_path / f"file-{n}.bin", 50_000 + n) for n in range(3)]
    ids = first.send(sources)
    links = [wait_state(first, i, [TransferState.DONE]).share_link for i in ids]
    first.close()

    second = make_engine(disk_server.url, data_dir=data)  # the relaunch
    notices: list[str] = []
    second.subscribe(lambda event: notices.append(event.snapshot.id) if event.kind == "downloaded" else None)
    wait_for(lambda: len(second._downloads._watchers) == 3, 10, "the earlier sends' streams")
    receiver = make_engine(disk_server.url, data_dir=tmp_path / "receiver")
    got = receiver.receive(str(links[1]), dest_dir=tmp_path / "in")
    assert wait_state(receiver, got, [TransferState.DONE, TransferState.FAILED]).state is TransferState.DONE
    wait_for(lambda: second.snapshot(ids[1]).download_count == 1, 10, "the download, told by the stream")
    wait_for(lambda: notices == [ids[1]], 5, "one 'downloaded' notice")
    assert second.snapshot(ids[0]).download_count == 0
