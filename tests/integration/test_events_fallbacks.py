"""Live SSE progress and download notices; the client's fallbacks when a server lacks the extensions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.model import EngineEvent, TransferState
from tests.helpers.ports import free_ports
from tests.helpers.seaweed import SeaweedS3
from tests.helpers.servers import ServerProc, start_server
from tests.integration.conftest import (
    FINISHED,
    MiB,
    hide_capabilities,
    make_file,
    sha256,
    test_stats,
    wait_for,
    wait_state,
)


def test_sender_hears_live_progress_and_the_download(disk_server: ServerProc,
                                                     make_engine: Callable[..., TransferEngine],
                                                     tmp_path: Path) -> None:
    sender = make_engine(disk_server.url, data_dir=tmp_path / "sender", upload_limit_bps=8 * MiB)
    events: list[EngineEvent] = []
    lock = threading.Lock()

    def listen(event: EngineEvent) -> None:
        with lock:
            events.append(event)

    sender.subscribe(listen)
    [sent] = sender.send([make_file(tmp_path / "watched.bin", 12 * MiB)])
    snap = wait_state(sender, sent, FINISHED)
    assert snap.state is TransferState.DONE and snap.live_events
    # the journal says DONE a moment before the job's last step publishes "done" (seen in CI under load)
    wait_for(lambda: any(e.kind == "done" for e in list(events)), 20, "the done event")
    with lock:
        progress = [e for e in events if e.kind == "progress"]
        assert events[0].kind == "added" and any(e.kind == "done" for e in events)
    assert progress and all(e.snapshot.bytes_confirmed <= e.snapshot.size for e in progress)
    # live while it runs, not only once done (the GUI shows "live" vs "polling" from this)
    assert any(e.snapshot.live_events and e.snapshot.state is TransferState.UPLOADING for e in progress)
    receiver = make_engine(disk_server.url, data_dir=tmp_path / "receiver")
    got = wait_state(receiver, receiver.receive(snap.share_link or "", dest_dir=tmp_path / "out"), FINISHED)
    assert got.state is TransferState.DONE
    wait_for(lambda: any(e.kind == "downloaded" for e in list(events)), 20, "the downloaded notice")
    assert sender.snapshot(sent).download_count == 1


@pytest.fixture
def no_extensions(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client sees an upstream-like server: multipart, but no events / part-urls / list-parts."""
    hide_capabilities(monkeypatch, events=False, part_urls=False, list_parts=False)


def test_without_extensions_resume_restarts_the_multipart_upload(
        no_extensions: None, disk_server: ServerProc, make_engine: Callable[..., TransferEngine],
        tmp_path: Path) -> None:
    engine = make_engine(disk_server.url, upload_limit_bps=16 * MiB)
    source = make_file(tmp_path / "plain.bin", 30 * MiB)
    [sent] = engine.send([source])
    wait_for(lambda: any(p.state == "done" for p in engine.journal.parts(sent)), 60, "a finished part")
    engine.pause(sent)
    snap = wait_state(engine, sent, [TransferState.PAUSED])
    assert not snap.live_events
    first_upload = engine.journal.get(sent).upload_id
    engine.set_limits(upload_limit_bps=None)
    engine.resume(sent)
    snap = wait_state(engine, sent, FINISHED)
    assert snap.state is TransferState.DONE, snap.error
    row = engine.journal.get(sent)
    assert row.upload_id != first_upload  # restarted cleanly: a new multipart upload from part 1
    assert test_stats(disk_server)["part_puts"][row.transfer_id] >= len(engine.journal.parts(sent)) + 1
    got = wait_state(engine, engine.receive(snap.share_link or "", dest_dir=tmp_path / "out"), FINISHED)
    assert sha256(Path(got.saved_path or "")) == sha256(source)


@pytest.fixture
def no_multipart(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client sees a server that offers only the direct upload route."""
    hide_capabilities(monkeypatch, multipart_upload=False)


def test_without_multipart_the_direct_route_carries_up_to_6_mb_and_says_so_above(
        no_multipart: None, disk_server: ServerProc, make_engine: Callable[..., TransferEngine],
        tmp_path: Path) -> None:
    engine = make_engine(disk_server.url)
    fits = make_file(tmp_path / "fits.bin", 5 * MiB + MiB // 2)  # over 5 MiB: multipart if offered
    [sent] = engine.send([fits])
    snap = wait_state(engine, sent, FINISHED)
    assert snap.state is TransferState.DONE, snap.error
    assert test_stats(disk_server)["part_puts"].get(snap.transfer_id, 0) == 0  # went the direct way
    got = wait_state(engine, engine.receive(snap.share_link or "", dest_dir=tmp_path / "out"), FINISHED)
    assert sha256(Path(got.saved_path or "")) == sha256(fits)
    [big] = engine.send([make_file(tmp_path / "big.bin", 7 * MiB)])
    failed = wait_state(engine, big, [TransferState.FAILED])
    assert failed.error == "This server offers no multipart upload and takes at most 6 MB in one request."


@pytest.mark.s3
def test_a_send_straight_to_s3_says_its_live_progress_is_down_while_the_api_server_is(
        seaweedfs: SeaweedS3, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    """On S3 the parts go straight to the store, so a send goes on while the API server is away — but the
    window once kept saying "● live" / "Live progress from the server" for the whole outage. It now says
    the event stream is down (events_down), and live again once the server is back."""
    [port] = free_ports(1)
    bucket = seaweedfs.new_bucket(f"events-down-{port}")

    def serve() -> ServerProc:
        return start_server(tmp_path / "server", backend="s3", s3=seaweedfs, bucket=bucket,
                            extra_args=["--port", str(port)])

    server = serve()
    try:
        sender = make_engine(server.url, data_dir=tmp_path / "sender", workers=2, upload_limit_bps=2 * MiB)
        [sent] = sender.send([make_file(tmp_path / "straight.bin", 24 * MiB)])
        wait_for(lambda: sender.snapshot(sent).live_events and sender.snapshot(sent).bytes_done > MiB, 30,
                 "live progress of a started upload")
        server.proc.kill()  # SIGKILL: the event stream is cut
        server.proc.wait(timeout=10)
        wait_for(lambda: sender.snapshot(sent).events_down, 15, "the stream to be reported down")
        down = sender.snapshot(sent)
        assert not down.live_events and down.state is TransferState.UPLOADING and not down.reconnecting
        wait_for(lambda: sender.snapshot(sent).bytes_done > down.bytes_done + MiB, 15,
                 "parts going on to S3 while the API server is away")
        server = serve()
        wait_for(lambda: sender.snapshot(sent).live_events or sender.snapshot(sent).state in FINISHED, 40,
                 "the stream back (or the send finished)")
        done = wait_state(sender, sent, FINISHED)
        assert done.state is TransferState.DONE, done.error
        assert not done.events_down
    finally:
        server.proc.kill()
        server.proc.wait(timeout=10)
