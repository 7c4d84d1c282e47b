"""kill -9 mid-upload / mid-download, then `sgsend resume`: byte-identical, confirmed parts not re-sent,
and a receive fetches again at most the ranges that were in memory."""

from __future__ import annotations

import math
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from sgsend_desktop.core import crypto
from sgsend_desktop.core.download import RANGE_SIZE, partial_path, plain_path
from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.journal import Journal
from sgsend_desktop.core.model import Direction, TransferState
from tests.helpers.servers import ServerProc
from tests.integration.conftest import (
    FINISHED,
    MiB,
    make_file,
    run_cli,
    sha256,
    start_cli,
    test_stats,
    wait_for,
    wait_state,
)


def _count(db_path: Path, sql: str) -> int:
    if not db_path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as db:
            # NULL: the journal exists but the CLI has not written its row yet (MAX over no rows)
            return int(db.execute(sql).fetchone()[0] or 0)
    except sqlite3.OperationalError:
        return 0


def test_kill9_send_then_resume_resends_only_missing_parts(disk_server: ServerProc, tmp_path: Path) -> None:
    data = tmp_path / "data"
    source = make_file(tmp_path / "upload.bin", 40 * MiB + 123, seed=7)
    proc = start_cli(["send", str(source), "--limit", "10M"], data, disk_server.url)
    journal_file = data / "journal.sqlite3"
    try:
        wait_for(lambda: _count(journal_file, "SELECT COUNT(*) FROM parts WHERE state='done'") >= 4,
                 timeout=60, what="4 confirmed parts")
    finally:
        proc.kill()  # SIGKILL: no cleanup, no journal update
        proc.wait(timeout=10)
    time.sleep(0.3)
    journal = Journal(journal_file)
    [row] = journal.all()
    assert row.state is TransferState.UPLOADING and row.transfer_id and row.upload_id
    total_parts = len(journal.parts(row.id))
    journal.close()
    parts_url = f"{disk_server.url}/api/presigned/parts/{row.transfer_id}/{row.upload_id}"
    held = httpx.get(parts_url).json()["parts"]
    assert 4 <= len(held) < total_parts
    # relaunched, the row shows what it keeps (its confirmed parts), not the 0 journaled before the kill
    journal = Journal(journal_file)
    kept = sum(p.size for p in journal.parts(row.id) if p.state == "done")
    journal.close()
    relaunched = TransferEngine(data, disk_server.url)
    relaunched.start()
    try:
        shown = relaunched.snapshot(row.id)
        assert shown.state is TransferState.PAUSED and shown.bytes_done == kept >= 4 * 5 * MiB
    finally:
        relaunched.close()
    puts_before = test_stats(disk_server)["part_puts"][row.transfer_id]

    resumed = run_cli(["resume", row.id[:5]], data, disk_server.url)
    assert resumed.returncode == 0, resumed.stderr
    [link] = resumed.stdout.split()
    puts_after = test_stats(disk_server)["part_puts"][row.transfer_id]
    assert puts_after - puts_before == total_parts - len(held)  # parts the server held were not re-sent

    got = run_cli(["get", link, "-o", str(tmp_path / "out")], tmp_path / "receiver", disk_server.url)
    assert got.returncode == 0, got.stderr
    saved = Path(got.stdout.strip())
    assert sha256(saved) == sha256(source)


def test_kill9_get_then_resume_fetches_only_what_was_not_written(
        disk_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    sender = make_engine(disk_server.url, data_dir=tmp_path / "sender")
    source = make_file(tmp_path / "download.bin", 60 * MiB, seed=9)
    [sent] = sender.send([source])
    snap = wait_state(sender, sent, FINISHED)
    assert snap.state is TransferState.DONE and snap.share_link
    data = tmp_path / "data"
    out = tmp_path / "out"
    proc = start_cli(["get", snap.share_link, "-o", str(out), "--limit", "12M"], data, disk_server.url)
    journal_file = data / "journal.sqlite3"
    try:
        wait_for(lambda: _count(journal_file, "SELECT MAX(decrypted_to) FROM transfers") >= 3 * RANGE_SIZE,
                 timeout=60, what="3 ranges decrypted and synced")
    finally:
        proc.kill()
        proc.wait(timeout=10)
    journal = Journal(journal_file)
    [row] = [r for r in journal.all() if r.direction is Direction.RECEIVE]
    journal.close()
    assert row.payload_size and 0 < row.decrypted_to < row.payload_size
    assert 0 < row.content_written < row.decrypted_to  # content: the envelope header and IV are not in it
    assert not any(p.name == source.name for p in out.iterdir())  # no final file before verification
    # one file only, the plaintext (written once: there is no ciphertext copy), at least as long as the
    # journal's resume point; a resume cuts what lies past it (a stale, longer one included)
    partial = partial_path(out, row.id)
    assert sorted(p.name for p in out.iterdir()) == [partial.name]
    assert partial.stat().st_size >= row.content_written
    with partial.open("rb") as written, source.open("rb") as original:
        assert written.read(row.content_written) == original.read(row.content_written)
    relaunched = TransferEngine(data, disk_server.url)  # the row shows its resume point, not 0
    relaunched.start()
    try:
        shown = relaunched.snapshot(row.id)
        assert shown.state is TransferState.PAUSED and shown.bytes_done == row.decrypted_to > 0
    finally:
        relaunched.close()
    with partial.open("ab") as stale:
        stale.write(b"\xff" * (70 * MiB))
    gets_before = test_stats(disk_server)["range_gets"]

    resumed = run_cli(["resume", "--all"], data, disk_server.url)
    assert resumed.returncode == 0, resumed.stderr
    saved = Path(resumed.stdout.strip())
    assert saved.name == source.name and sha256(saved) == sha256(source)
    # the resume fetched the ranges from its resume point on, once each
    assert test_stats(disk_server)["range_gets"] - gets_before <= math.ceil(
        (row.payload_size - row.decrypted_to) / RANGE_SIZE)
    info = httpx.get(f"{disk_server.url}/api/transfers/info/{snap.transfer_id}").json()
    assert info["download_count"] == 1  # the stored download URL was reused: no second download counted
    assert sorted(p.name for p in out.iterdir()) == [source.name]  # the partial file is gone


@pytest.mark.parametrize("change", ["size", "content-same-size-and-mtime"])
def test_changed_source_is_refused_on_resume(disk_server: ServerProc,
                                             make_engine: Callable[..., TransferEngine],
                                             tmp_path: Path, change: str) -> None:
    engine = make_engine(disk_server.url, upload_limit_bps=12 * MiB)
    source = make_file(tmp_path / "changing.bin", 40 * MiB, seed=11)
    [sent] = engine.send([source])
    wait_for(lambda: any(p.state == "done" for p in engine.journal.parts(sent)), 60, "a confirmed part")
    engine.pause(sent)
    wait_state(engine, sent, [TransferState.PAUSED])
    stat = source.stat()
    if change == "size":
        with open(source, "ab") as handle:
            handle.write(b"x")
    else:
        # Flip a byte inside a part the server already holds (parts finish out of order, so not
        # necessarily part 1). A change in a part not yet sent would just upload the new content,
        # consistently: GCM's tag is recomputed over the re-derived stream.
        done = next(p for p in engine.journal.parts(sent) if p.state == "done")
        position = done.offset + done.size // 2 - crypto.IV_SIZE - len(crypto.envelope_header(source.name))
        with open(source, "r+b") as handle:
            handle.seek(position)
            byte = handle.read(1)
            handle.seek(position)
            handle.write(bytes([byte[0] ^ 0xFF]))
        os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    engine.resume(sent)
    snap = wait_state(engine, sent, FINISHED)
    assert snap.state is TransferState.FAILED
    assert snap.error and "changed" in snap.error and "\n" not in snap.error
    assert snap.share_link is None


def test_pause_while_decrypting_keeps_the_part_file_and_resumes(
        disk_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    """Pausing mid-download stops the range workers and the decryptor; the partial plaintext file and the
    journal's resume point (everything decrypted so far, synced) stay; resuming finishes byte-identical."""
    sender = make_engine(disk_server.url, data_dir=tmp_path / "sender")
    source = make_file(tmp_path / "paused.bin", 40 * MiB, seed=11)
    [sent] = sender.send([source])
    snap = wait_state(sender, sent, FINISHED)
    assert snap.share_link
    receiver = make_engine(disk_server.url, data_dir=tmp_path / "receiver", download_limit_bps=12 * MiB)
    out = tmp_path / "out"
    local = receiver.receive(snap.share_link, dest_dir=out)
    wait_for(lambda: receiver.journal.get(local).decrypted_to >= 2 * RANGE_SIZE, 60, "2 ranges decrypted")
    receiver.pause(local)
    assert wait_state(receiver, local, [TransferState.PAUSED]).state is TransferState.PAUSED
    row = receiver.journal.get(local)
    assert [p.name for p in out.iterdir()] == [partial_path(out, local).name]
    assert partial_path(out, local).stat().st_size == row.content_written  # saved up to where it stopped
    assert row.decrypted_to >= 2 * RANGE_SIZE
    assert receiver.snapshot(local).bytes_done == row.decrypted_to  # what a resume starts from
    receiver.set_limits(download_limit_bps=None)
    receiver.resume(local)
    final = wait_state(receiver, local, FINISHED)
    assert final.state is TransferState.DONE and final.saved_path
    assert sha256(Path(final.saved_path)) == sha256(source)
    assert sorted(p.name for p in out.iterdir()) == [source.name]
    assert not plain_path(out, local).exists()


def test_after_a_reboot_a_reused_pid_does_not_hold_the_transfer(disk_server: ServerProc,
                                                                tmp_path: Path) -> None:
    """kill -9 leaves the row 'uploading' with the dead sender's pid; after a reboot an unrelated program
    may carry that pid. The transfer must still resume (ownership is a lock the owner holds, not a pid)."""
    data = tmp_path / "data"
    source = make_file(tmp_path / "reboot.bin", 30 * MiB, seed=11)
    proc = start_cli(["send", str(source), "--limit", "10M"], data, disk_server.url)
    journal_file = data / "journal.sqlite3"
    try:
        wait_for(lambda: _count(journal_file, "SELECT COUNT(*) FROM parts WHERE state='done'") >= 1,
                 timeout=60, what="a confirmed part")
    finally:
        proc.kill()
        proc.wait(timeout=10)
    unrelated = subprocess.Popen(["sleep", "120"])  # "the pid after the reboot"
    try:
        journal = Journal(journal_file)
        [row] = journal.all()
        assert row.state is TransferState.UPLOADING
        journal.update(row.id, owner_pid=unrelated.pid)
        journal.close()
        resumed = run_cli(["resume", row.id[:5]], data, disk_server.url)
        assert resumed.returncode == 0, resumed.stderr
        [link] = resumed.stdout.split()
    finally:
        unrelated.kill()
        unrelated.wait()
    got = run_cli(["get", link, "-o", str(tmp_path / "out")], tmp_path / "receiver", disk_server.url)
    assert got.returncode == 0, got.stderr
    assert sha256(Path(got.stdout.strip())) == sha256(source)


def test_resume_with_every_byte_on_disk_asks_for_no_new_download(
        disk_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    """Killed after the last byte was decrypted and journaled (with the tag), before the rename; resumed
    after the download URL expired, on a max_downloads=1 transfer: no new download-url (which would count
    a 2nd download and be refused), the tag is checked and the file appears."""
    from sgsend_desktop.core.model import TransferOptions

    sender = make_engine(disk_server.url, data_dir=tmp_path / "sender")
    source = make_file(tmp_path / "once.bin", 24 * MiB, seed=12)
    [sent] = sender.send([source], TransferOptions(max_downloads=1))
    snap = wait_state(sender, sent, FINISHED)
    assert snap.share_link
    receiver = make_engine(disk_server.url, data_dir=tmp_path / "receiver", download_limit_bps=8 * MiB)
    out = tmp_path / "out"
    local = receiver.receive(snap.share_link, dest_dir=out)
    wait_for(lambda: receiver.journal.get(local).decrypted_to > 0, 60, "a resume point")
    receiver.pause(local)
    wait_state(receiver, local, [TransferState.PAUSED])
    row = receiver.journal.get(local)
    assert row.download_url and row.payload_size and row.envelope_head is not None and row.iv
    # decrypt the rest "before the crash", as the job would have, and journal its last resume point
    payload = httpx.get(row.download_url, headers={"Range": f"bytes={row.decrypted_to}-"}).content
    decryptor = crypto.StreamDecryptor.resume(
        crypto.resolve_key(receiver.secrets.get(local) or ""), row.payload_size, bytes.fromhex(row.iv),
        bytes.fromhex(row.envelope_head), [partial_path(out, local).read_bytes()[:row.content_written]])
    body = payload[:-crypto.TAG_SIZE]
    with open(partial_path(out, local), "r+b") as partial:
        partial.seek(row.content_written)
        partial.write(bytes(decryptor.feed(body)))
    receiver.journal.update(local, decrypted_to=decryptor.offset, content_written=decryptor.content,
                            payload_tag=payload[-crypto.TAG_SIZE:].hex(),
                            download_url_expires=time.time() - 10)  # and the URL has expired since
    info = httpx.get(f"{disk_server.url}/api/transfers/info/{snap.transfer_id}").json()
    assert info["downloads_remaining"] == 0  # a new download-url would be refused
    gets_before = test_stats(disk_server)["range_gets"]
    receiver.set_limits(download_limit_bps=None)
    receiver.resume(local)
    final = wait_state(receiver, local, FINISHED)
    assert final.state is TransferState.DONE, final.error
    assert sha256(Path(final.saved_path or "")) == sha256(source)
    assert test_stats(disk_server)["range_gets"] == gets_before  # nothing fetched
