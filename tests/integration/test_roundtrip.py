"""Files and folders round-trip byte-identical through a real `sgsend serve` (disk and S3 backends)."""

from __future__ import annotations

import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from sgsend_desktop.core import crypto
from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.model import TransferOptions, TransferState
from tests.helpers.servers import ServerProc
from tests.integration.conftest import FINISHED, MiB, make_file, sha256, wait_state

SIZES = [0, 1, 5 * MiB - 1, 5 * MiB, 5 * MiB + 1]


@pytest.mark.parametrize("size", SIZES, ids=[f"{s}B" for s in SIZES])
def test_file_round_trip(any_server: ServerProc, make_engine: Callable[..., TransferEngine],
                         tmp_path: Path, size: int) -> None:
    engine = make_engine(any_server.url)
    source = make_file(tmp_path / f"file-{size}.bin", size, seed=size)
    [sent] = engine.send([source])
    snap = wait_state(engine, sent, FINISHED)
    assert snap.state is TransferState.DONE, snap.error
    assert snap.share_link and snap.link_only and snap.key_text
    assert snap.key_text not in snap.link_only
    got = engine.receive(snap.share_link, dest_dir=tmp_path / "out")
    received = wait_state(engine, got, FINISHED)
    assert received.state is TransferState.DONE, received.error
    saved = Path(received.saved_path or "")
    assert saved.name == source.name
    assert saved.stat().st_size == size and sha256(saved) == sha256(source)
    assert [p.name for p in (tmp_path / "out").iterdir()] == [source.name]  # no partial left behind


def test_folder_round_trip_and_friendly_key(
        any_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    folder = tmp_path / "album"
    (folder / "inner").mkdir(parents=True)
    make_file(folder / "one.bin", 3 * MiB, seed=3)
    (folder / "inner" / "two.txt").write_text("second file\n")
    engine = make_engine(any_server.url)
    [sent] = engine.send([folder], TransferOptions(friendly_key=True))
    snap = wait_state(engine, sent, FINISHED)
    assert snap.state is TransferState.DONE, snap.error
    assert snap.key_text and crypto.is_friendly_token(snap.key_text)
    assert snap.transfer_id == crypto.friendly_transfer_id(snap.key_text)
    assert snap.share_link and snap.share_link.endswith("#" + snap.key_text)
    got = engine.receive(snap.share_link, dest_dir=tmp_path / "out")
    received = wait_state(engine, got, FINISHED)
    assert received.state is TransferState.DONE, received.error
    saved = Path(received.saved_path or "")
    assert saved.name == "album.zip"
    with zipfile.ZipFile(saved) as archive:
        assert archive.read("album/inner/two.txt") == b"second file\n"
        with archive.open("album/one.bin") as member, open(folder / "one.bin", "rb") as original:
            assert member.read() == original.read()
    assert not any((tmp_path / "data" / "tmp").iterdir())  # the temp zip is gone


def test_journal_never_holds_the_key(disk_server: ServerProc, make_engine: Callable[..., TransferEngine],
                                     tmp_path: Path) -> None:
    engine = make_engine(disk_server.url)
    [sent] = engine.send([make_file(tmp_path / "k.bin", 1000)])
    snap = wait_state(engine, sent, FINISHED)
    assert snap.state is TransferState.DONE and snap.key_text
    key = crypto.decode_key(snap.key_text)
    blobs = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("journal.sqlite3*"))
    assert blobs and snap.key_text.encode() not in blobs
    assert key not in blobs and key.hex().encode() not in blobs
    assert snap.key_text in (tmp_path / "data" / "secrets.json").read_text()


def test_300_mib_file_round_trips_on_s3(s3_server: ServerProc, make_engine: Callable[..., TransferEngine],
                                        tmp_path: Path) -> None:
    """The big file on the S3 backend too (the disk backend's is in test_cli, through the CLI)."""
    engine = make_engine(s3_server.url)
    source = make_file(tmp_path / "big-s3.bin", 300 * MiB + 5, seed=301)
    [sent] = engine.send([source])
    snap = wait_state(engine, sent, FINISHED, timeout=300)
    assert snap.state is TransferState.DONE, snap.error
    source_digest = sha256(source)
    source.unlink()  # keep the disk footprint of the test run small
    received = wait_state(engine, engine.receive(snap.share_link or "", dest_dir=tmp_path / "out"), FINISHED,
                          timeout=300)
    assert received.state is TransferState.DONE, received.error
    saved = Path(received.saved_path or "")
    assert saved.stat().st_size == 300 * MiB + 5 and sha256(saved) == source_digest


def test_a_taken_friendly_token_is_replaced_and_the_file_still_opens(
        disk_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """409 on create: the engine picks a new token, and encrypts with the NEW token's key."""
    import httpx

    taken, fresh = "apple-mango-0001", "kiwi-lemon-0002"
    created = httpx.post(f"{disk_server.url}/api/transfers/create", timeout=10, json={
        "file_size_bytes": 10, "content_type_hint": "x", "transfer_id": crypto.friendly_transfer_id(taken)})
    assert created.status_code == 200, created.text
    tokens = iter([taken, fresh])
    monkeypatch.setattr(crypto, "generate_friendly_token", lambda: next(tokens))
    engine = make_engine(disk_server.url)
    source = make_file(tmp_path / "friendly.bin", 100_000, seed=7)
    [sent] = engine.send([source], TransferOptions(friendly_key=True))
    snap = wait_state(engine, sent, FINISHED)
    assert snap.state is TransferState.DONE, snap.error
    assert snap.key_text == fresh and snap.transfer_id == crypto.friendly_transfer_id(fresh)
    received = wait_state(engine, engine.receive(snap.share_link or "", dest_dir=tmp_path / "out"), FINISHED)
    assert received.state is TransferState.DONE, received.error
    assert sha256(Path(received.saved_path or "")) == sha256(source)


def test_a_receive_shows_the_files_name_while_it_downloads(
        disk_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    """The name comes from the encrypted envelope at the payload's start: the row shows it from the first
    bytes on, not "Incoming file" for the whole download (the file is saved under it once verified)."""
    source = make_file(tmp_path / "Quarterly report ünïcode.pdf", 6 * MiB, seed=7)
    sender = make_engine(disk_server.url, data_dir=tmp_path / "sender")
    [sent] = sender.send([source])
    snap = wait_state(sender, sent, FINISHED)
    assert snap.share_link, snap.error
    receiver = make_engine(disk_server.url, data_dir=tmp_path / "receiver", download_limit_bps=2 * MiB)
    got = receiver.receive(snap.share_link, dest_dir=tmp_path / "out")
    named_while = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        row = receiver.snapshot(got)
        if row.state.is_final:
            break
        if row.name == source.name:
            named_while = row
            break
        time.sleep(0.05)
    assert named_while is not None, "the name appeared only when the download had finished"
    assert named_while.state is TransferState.DOWNLOADING and named_while.bytes_done < named_while.size
    received = wait_state(receiver, got, FINISHED)
    assert received.state is TransferState.DONE and Path(received.saved_path or "").name == source.name
