"""Review of the transfer engine (issue 4): full disk, folder names, a crash between the two completes."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from sgsend_desktop.core import crypto
from sgsend_desktop.core.api import SendApi
from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.model import TransferOptions, TransferState
from tests.helpers.servers import ServerProc
from tests.integration.conftest import FINISHED, MiB, make_file, sha256, test_stats, wait_for, wait_state


@contextlib.contextmanager
def small_disk(mount: Path, size: str) -> Iterator[Path]:
    """A real filesystem of ``size`` (tmpfs) at ``mount``, so that writes fail with ENOSPC."""
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "tiny", "2m") as mount:
        yield mount


def test_a_download_with_no_room_is_refused_before_a_byte_or_a_download_count(
        disk_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path,
        tiny_disk: Path) -> None:
    """Found using the window: 150 MB into a folder with 40 MB free failed at 27 % with "No space left",
    after the wait and after the server had counted the download (the only one of a max-downloads 1
    link). The free space is checked before the download URL is asked for."""
    engine = make_engine(disk_server.url)
    source = make_file(tmp_path / "big.bin", 12 * MiB, seed=3)
    [sent] = engine.send([source], TransferOptions(max_downloads=1))
    snap = wait_state(engine, sent, FINISHED)
    assert snap.state is TransferState.DONE and snap.share_link and snap.transfer_id
    got = wait_state(engine, engine.receive(snap.share_link, dest_dir=tiny_disk), FINISHED)
    assert got.state is TransferState.FAILED
    expected = f"Not enough space in {tiny_disk}: the file needs 12.0 MB more and only 2.0 MB is free."
    assert got.error and got.error.startswith(expected), got.error
    assert "\n" not in got.error and "OSError" not in got.error
    assert list(tiny_disk.iterdir()) == []  # not even a partial file
    assert got.size >= 12 * MiB  # the row says how big the file it has no room for is
    info = httpx.get(f"{disk_server.url}/api/transfers/info/{snap.transfer_id}").json()
    assert info["download_count"] == 0  # the one download the link allows is still there
    elsewhere = wait_state(engine, engine.receive(snap.share_link, dest_dir=tmp_path / "roomy"), FINISHED)
    assert elsewhere.saved_path and sha256(Path(elsewhere.saved_path)) == sha256(source)


def test_a_disk_that_fills_up_during_a_download_loses_nothing(
        disk_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    """Another program fills the disk while a download runs: one clear sentence, nothing under the final
    name, and once there is room again Retry goes on from where it stopped, byte-identical."""
    with small_disk(tmp_path / "disk", "20m") as mount:
        engine = make_engine(disk_server.url, download_limit_bps=3 * MiB)
        source = make_file(tmp_path / "video.bin", 12 * MiB, seed=5)
        [sent] = engine.send([source])
        snap = wait_state(engine, sent, FINISHED)
        assert snap.share_link
        got = engine.receive(snap.share_link, dest_dir=mount)
        wait_for(lambda: engine.snapshot(got).bytes_done > 3 * MiB, 30, "a quarter of the download")
        filler = mount / "other-program.bin"
        with open(filler, "wb") as out:  # what is left of the 20 MiB, less 1 MiB
            out.write(b"\0" * (shutil.disk_usage(mount).free - MiB))
        failed = wait_state(engine, got, FINISHED)
        assert failed.state is TransferState.FAILED
        assert failed.error and "No space left" in failed.error and "\n" not in failed.error, failed.error
        assert not (mount / source.name).exists()
        kept = failed.bytes_done
        assert kept > MiB  # what was written and journaled stays, and the row says so
        filler.unlink()
        engine.resume(got)
        again = wait_state(engine, got, FINISHED)
        assert again.state is TransferState.DONE, again.error
        assert again.saved_path and sha256(Path(again.saved_path)) == sha256(source)
        assert [p.name for p in mount.iterdir()] == [source.name]  # no partial file left behind


def test_a_folder_given_as_dotdot_is_named_after_the_folder(
        disk_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    folder = tmp_path / "holiday"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("a")
    engine = make_engine(disk_server.url)
    [sent] = engine.send([folder / "sub" / ".."])
    assert engine.snapshot(sent).name == "holiday.zip"
    snap = wait_state(engine, sent, FINISHED)
    assert snap.state is TransferState.DONE and snap.share_link
    got = wait_state(engine, engine.receive(snap.share_link, dest_dir=tmp_path / "out"), FINISHED)
    assert got.saved_path and Path(got.saved_path).name == "holiday.zip"


def test_a_crash_between_the_two_completes_does_not_resend_the_file(
        disk_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    """The process dies after `presigned/complete` but before `transfers/complete` (kill -9): the
    server already assembled the payload and forgot the upload id. Resume must just complete it."""
    data = tmp_path / "data"
    source = make_file(tmp_path / "up.bin", 12 * MiB + 5, seed=4)
    engine = make_engine(disk_server.url, data_dir=data, upload_limit_bps=4 * MiB)
    [sent] = engine.send([source])
    wait_for(lambda: any(p.state == "done" for p in engine.journal.parts(sent)), 60, "a finished part")
    engine.pause(sent)
    wait_state(engine, sent, (TransferState.PAUSED,))
    row = engine.journal.get(sent)
    key_text = engine.secrets.get(sent)
    engine.close()
    assert row.transfer_id and row.upload_id and row.iv and key_text
    # what the killed process did: PUT the remaining parts, journal them, complete the multipart upload
    from sgsend_desktop.core.journal import Journal

    journal = Journal(data / "journal.sqlite3")
    parts = journal.parts(sent)
    with open(source, "rb") as reader:
        payload = b"".join(crypto.iter_encrypted_payload(
            crypto.resolve_key(key_text), reader, row.name, bytes.fromhex(row.iv)))
    api = SendApi(disk_server.url)
    try:
        missing = [p for p in parts if p.state != "done"]
        urls = api.part_urls(row.transfer_id, row.upload_id, [p.number for p in missing]).urls
        for part in missing:
            etag = api.put_part(urls[part.number], payload[part.offset:part.offset + part.size], part.size)
            journal.part_done(sent, part.number, etag)
        finished = [(p.number, p.etag or "") for p in journal.parts(sent)]
        api.complete_multipart(row.transfer_id, row.upload_id, finished)
    finally:
        api.close()
    journal.close()
    puts_before = test_stats(disk_server)["part_puts"][row.transfer_id]

    again = make_engine(disk_server.url, data_dir=data)
    again.resume(sent)
    snap = wait_state(again, sent, FINISHED)
    assert snap.state is TransferState.DONE, snap.error
    assert test_stats(disk_server)["part_puts"][row.transfer_id] == puts_before  # nothing re-sent
    info = httpx.get(f"{disk_server.url}/api/transfers/info/{row.transfer_id}").json()
    assert info["status"] == "completed"
    assert snap.share_link
    got = wait_state(again, again.receive(snap.share_link, dest_dir=tmp_path / "out"), FINISHED)
    assert got.saved_path and sha256(Path(got.saved_path)) == sha256(source)


_WRITER = """
import sys
from pathlib import Path
from sgsend_desktop.core.secrets import SecretStore
store = SecretStore(Path(sys.argv[1]), use_keyring=False)
for n in range(150):
    store.set(f"{sys.argv[2]}{n}", "k" * 43)
"""


def test_two_processes_using_the_secrets_file_lose_no_key(tmp_path: Path) -> None:
    """The GUI and a CLI command (or two CLI sends) share the fallback secrets file."""
    import sys

    from sgsend_desktop.core.secrets import SecretStore

    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path), prefix]) for prefix in "ab"]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    store = SecretStore(tmp_path, use_keyring=False)
    lost = [f"{p}{n}" for p in "ab" for n in range(150) if store.get(f"{p}{n}") is None]
    assert lost == []
    assert (tmp_path / "secrets.json").stat().st_mode & 0o777 == 0o600


def test_a_big_folder_shows_its_zipping_pauses_during_it_and_stores_its_videos(
        disk_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    """Found using the window: a 480 MB folder sat in "Preparing" with no size and no progress while it
    was zipped, a pause waited for the whole zip, and its videos were deflated for nothing."""
    folder = tmp_path / "shoot"
    folder.mkdir()
    make_file(folder / "raw-scan.bin", 160 * MiB, seed=8)  # not a compressed format: deflated, slowly
    make_file(folder / "clip.mov", 8 * MiB, seed=9)  # a video: stored
    data = tmp_path / "data"
    engine = make_engine(disk_server.url, data_dir=data)
    [sent] = engine.send([folder])
    seen: list[object] = []

    def zipping_under_way() -> bool:
        snap = engine.snapshot(sent)
        if snap.zipping and 0 < snap.bytes_done < snap.size:
            seen.append(snap)
        return bool(seen)

    wait_for(zipping_under_way, 60, "the zipping under way")
    snap = engine.snapshot(sent)
    assert snap.size == 168 * MiB and snap.state is TransferState.PREPARING
    asked = time.monotonic()
    engine.pause(sent)
    wait_state(engine, sent, (TransferState.PAUSED,), timeout=30)
    assert time.monotonic() - asked < 3  # not after the whole zip
    assert not engine.snapshot(sent).zipping
    assert not list((data / "tmp").glob("*.partial"))
    engine.resume(sent)
    done = wait_state(engine, sent, FINISHED, timeout=180)
    assert done.state is TransferState.DONE and done.share_link, done.error
    got = wait_state(engine, engine.receive(done.share_link, dest_dir=tmp_path / "out"), FINISHED)
    assert got.saved_path
    with zipfile.ZipFile(got.saved_path) as archive:
        assert archive.getinfo("shoot/clip.mov").compress_type == zipfile.ZIP_STORED
        assert archive.getinfo("shoot/raw-scan.bin").compress_type == zipfile.ZIP_DEFLATED
        with archive.open("shoot/clip.mov") as clip:
            assert hashlib.sha256(clip.read()).hexdigest() == sha256(folder / "clip.mov")


def test_a_folder_with_no_room_to_zip_it_is_refused_before_zipping(
        disk_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path,
        tiny_disk: Path) -> None:
    """The zip is written next to the journal first: a folder bigger than the room there failed when
    the disk filled up, after the wait; now at once, with what to do."""
    folder = tmp_path / "scans"
    folder.mkdir()
    make_file(folder / "a.tif", 3 * MiB, seed=10)
    engine = make_engine(disk_server.url, data_dir=tiny_disk / "data")
    [sent] = engine.send([folder])
    failed = wait_state(engine, sent, FINISHED)
    assert failed.state is TransferState.FAILED
    assert failed.error and failed.error.startswith(
        f"Not enough space to zip the folder {folder}: it needs up to 3.0 MB in {tiny_disk / 'data' / 'tmp'}"
    ), failed.error
    assert not list((tiny_disk / "data" / "tmp").iterdir())


def test_files_named_in_a_legacy_encoding_are_sent_under_readable_names(
        disk_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    """A Linux file name that is not UTF-8 (b"r\\xe9sum\\xe9.pdf" from an old USB stick: Python keeps it
    with lone surrogates) made the send fail with "'utf-8' codec can't encode…": neither SQLite, the
    envelope's JSON nor a zip takes it. Read as Windows-1252 it is "résumé.pdf"; the file itself is
    still found by its own name (the journal keeps its raw bytes)."""
    import os

    raw = os.fsencode(tmp_path) + b"/r\xe9sum\xe9.pdf"
    with open(raw, "wb") as out:
        out.write(b"%PDF- my cv")
    folder = os.fsencode(tmp_path) + b"/caf\xe9"
    os.mkdir(folder)
    with open(folder + b"/men\xfa.txt", "wb") as out:
        out.write(b"soup")
    engine = make_engine(disk_server.url)
    single, zipped = engine.send([Path(os.fsdecode(raw)), Path(os.fsdecode(folder))])
    assert engine.journal.get(single).source_path == os.fsdecode(raw)  # the same path back from SQLite
    assert engine.snapshot(single).name == "résumé.pdf" and engine.snapshot(zipped).name == "café.zip"
    out = tmp_path / "out"
    for local_id in (single, zipped):
        snap = wait_state(engine, local_id, FINISHED)
        assert snap.state is TransferState.DONE and snap.share_link, snap.error
        got = wait_state(engine, engine.receive(snap.share_link, dest_dir=out), FINISHED)
        assert got.state is TransferState.DONE, got.error
    assert (out / "résumé.pdf").read_bytes() == b"%PDF- my cv"
    with zipfile.ZipFile(out / "café.zip") as archive:
        assert archive.namelist() == ["café/menú.txt"]
        assert archive.read("café/menú.txt") == b"soup"
