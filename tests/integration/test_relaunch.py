"""Issue 8 (items 3, 4): transfers on the default local server survive a relaunch of the app.

Each "launch" is the real local server (``open_local_server`` → ``start_stable_server``, uvicorn in this
process, disk store in the data dir) plus a real engine on the same data dir and journal; "quit" closes
the engine and stops the server in the middle of a transfer. The relaunch either gets the same port
(kept in ``DATA/server/port``) or — when another program holds that port — a new one, and the engine
re-points the transfers made on the local server.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.journal import Journal
from sgsend_desktop.core.local_server import LocalServer, open_local_server
from sgsend_desktop.core.model import LOCAL_COMPUTER, TransferState
from sgsend_desktop.server.embedded import stored_port
from tests.integration.conftest import (
    FAST_RETRY,
    MiB,
    make_file,
    run_cli,
    sha256,
    start_cli,
    wait_for,
    wait_state,
)

DONE = (TransferState.DONE, TransferState.FAILED)
LIMIT = int(2.5 * MiB)  # bytes/s: a 10 MiB transfer takes ~4 s, long enough to quit in the middle


class Launch:
    """One run of the app: the local server of ``data`` and an engine on it."""

    def __init__(self, data: Path, upload_limit_bps: int | None = None) -> None:
        self.server: LocalServer = open_local_server(data)
        self.engine = TransferEngine(data, self.server.url, self.server.endpoint.token,
                                     upload_limit_bps=upload_limit_bps, local=self.server.endpoint,
                                     retry=FAST_RETRY)
        self.engine.start()

    @property
    def port(self) -> int:
        return int(self.server.url.rsplit(":", 1)[1])

    def quit(self) -> None:
        self.engine.close()
        self.server.stop()


@contextmanager
def launched(data: Path) -> Iterator[Launch]:
    launch = Launch(data)
    try:
        yield launch
    finally:
        launch.quit()


@contextmanager
def port_held_by_another_program(port: int) -> Iterator[None]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(1)
        yield
    finally:
        sock.close()


@contextmanager
def maybe_taken(port: int, taken: bool) -> Iterator[None]:
    if taken:
        with port_held_by_another_program(port):
            yield
    else:
        yield


def download(link: str, dest: Path, data: Path) -> Path:
    """A recipient elsewhere: its own data dir, no local server of its own."""
    engine = TransferEngine(data, "http://127.0.0.1:9", retry=FAST_RETRY)
    engine.start()
    try:
        local_id = engine.receive(link, dest_dir=dest)
        snap = wait_state(engine, local_id, DONE, 60)
        assert snap.state is TransferState.DONE, snap.error
        assert snap.saved_path
        return Path(snap.saved_path)
    finally:
        engine.close()


def mid_transfer(launch: Launch, local_id: str) -> None:
    wait_for(lambda: launch.engine.snapshot(local_id).bytes_done > 0, 30, "the first bytes")
    assert launch.engine.snapshot(local_id).state in (TransferState.UPLOADING, TransferState.DOWNLOADING)


@pytest.mark.parametrize("taken", [False, True], ids=["same-port", "old-port-taken"])
def test_a_send_quit_mid_upload_resumes_after_a_relaunch(tmp_path: Path, taken: bool) -> None:
    data = tmp_path / "data"
    finished = make_file(tmp_path / "finished.bin", 1 * MiB, seed=2)
    source = make_file(tmp_path / "big.bin", 10 * MiB, seed=3)

    first = Launch(data, upload_limit_bps=LIMIT)
    try:
        [finished_id] = first.engine.send([finished])
        wait_state(first.engine, finished_id, (TransferState.DONE,), 60)
        old_link = first.engine.snapshot(finished_id).share_link
        assert old_link and old_link.startswith(first.server.url + "/")
        assert first.engine.snapshot(finished_id).local_scope == LOCAL_COMPUTER
        [local_id] = first.engine.send([source])
        mid_transfer(first, local_id)
    finally:
        first.quit()  # the app quits mid-upload
    old_port = first.port
    assert stored_port(data / "server") == old_port

    with maybe_taken(old_port, taken), launched(data) as second:
        if taken:
            assert second.port != old_port
            assert stored_port(data / "server") == second.port  # the new port is kept from now on
            assert any(f"port {old_port} is used by another program" in note for note in second.server.notes)
        else:
            assert second.port == old_port and not second.server.notes
        assert second.engine.snapshot(local_id).state is TransferState.PAUSED
        second.engine.resume(local_id)
        snap = wait_state(second.engine, local_id, DONE, 90)
        assert snap.state is TransferState.DONE, snap.error
        assert snap.share_link and snap.share_link.startswith(second.server.url + "/")
        assert snap.link_only and snap.link_only.startswith(second.server.url + "/")
        got = download(snap.share_link, tmp_path / "got", tmp_path / "recipient")
        assert sha256(got) == sha256(source)

        # the send that was finished before the relaunch
        link_now = second.engine.snapshot(finished_id).share_link
        if taken:
            assert link_now and link_now.startswith(second.server.url + "/")
        else:
            assert link_now == old_link  # same port, same link: what was shared still opens
        got_old = download(link_now or "", tmp_path / "got-old", tmp_path / "recipient")
        assert sha256(got_old) == sha256(finished)


@pytest.mark.parametrize("taken", [False, True], ids=["same-port", "old-port-taken"])
def test_a_receive_quit_mid_download_resumes_after_a_relaunch(tmp_path: Path, taken: bool) -> None:
    data = tmp_path / "data"
    source = make_file(tmp_path / "big.bin", 10 * MiB, seed=4)
    dest = tmp_path / "downloads"

    first = Launch(data)
    try:
        [sent_id] = first.engine.send([source])
        link = wait_state(first.engine, sent_id, (TransferState.DONE,), 60).share_link
        assert link
        first.engine.set_limits(download_limit_bps=LIMIT)
        local_id = first.engine.receive(link, dest_dir=dest)
        mid_transfer(first, local_id)
    finally:
        first.quit()  # mid-download
    old_port = first.port

    with maybe_taken(old_port, taken), launched(data) as second:
        assert (second.port != old_port) is taken
        assert second.engine.snapshot(local_id).state is TransferState.PAUSED
        second.engine.resume(local_id)
        snap = wait_state(second.engine, local_id, DONE, 90)
        assert snap.state is TransferState.DONE, snap.error
        assert snap.server_url == second.server.url
        assert snap.saved_path and sha256(Path(snap.saved_path)) == sha256(source)
        assert sorted(p.name for p in dest.iterdir()) == ["big.bin"]  # no partial files left


def test_a_second_process_joins_the_running_local_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with launched(data) as app:
        joined = open_local_server(data)
        try:
            assert not joined.owned and joined.url == app.server.url
            assert any("another SGraph Send process" in note for note in joined.notes)
        finally:
            joined.stop()  # does not stop the app's server
        source = make_file(tmp_path / "a.bin", 100_000)
        [local_id] = app.engine.send([source])
        assert wait_state(app.engine, local_id, DONE, 60).state is TransferState.DONE
    assert stored_port(data / "server") == app.port


def test_the_cli_follows_the_same_rule(tmp_path: Path) -> None:
    """`sgsend send` with no server (the local one), interrupted; the port is taken; `sgsend resume --all`
    finishes on the new port (no re-pointing of its own in the CLI any more)."""
    data = tmp_path / "data"
    source = make_file(tmp_path / "cli.bin", 10 * MiB, seed=5)
    proc = start_cli(["send", str(source), "--limit", "2M"], data, None)
    try:
        journal_file = data / "journal.sqlite3"
        wait_for(journal_file.exists, 30, "the journal")
        journal = Journal(journal_file)
        try:
            wait_for(lambda: bool(journal.all()) and journal.all()[0].state is TransferState.UPLOADING, 30,
                     "the upload to start")
            local_id = journal.all()[0].id
            assert journal.get(local_id).options.get("local_server") is True
        finally:
            journal.close()
        proc.send_signal(signal.SIGINT)  # Ctrl-C: paused, resumable
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 130 and f"{local_id} cli.bin: paused" in stderr, stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    old_port = stored_port(data / "server")
    assert old_port is not None
    with port_held_by_another_program(old_port):
        resumed = run_cli(["resume", "--all"], data, None)
    assert resumed.returncode == 0, resumed.stderr
    assert f"port {old_port} is used by another program" in resumed.stderr
    [link] = resumed.stdout.split()
    new_port = stored_port(data / "server")
    assert new_port != old_port and link.startswith(f"http://127.0.0.1:{new_port}/")
    with launched(data) as app:  # the app, later: the link opens while it runs
        assert app.port == new_port
        assert sha256(download(link, tmp_path / "got", tmp_path / "recipient")) == sha256(source)
