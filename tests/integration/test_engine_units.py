"""Engine building blocks without a server: journal, secrets, retry, bandwidth, zipper, SSE parsing."""

from __future__ import annotations

import os
import random
import stat
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from sgsend_desktop.core.api import Capabilities
from sgsend_desktop.core.bandwidth import BandwidthLimiter
from sgsend_desktop.core.download import _Span, _Window
from sgsend_desktop.core.errors import (
    CancelledError,
    IllegalTransitionError,
    PayloadTooLargeError,
    TransientError,
    UnknownTransferError,
)
from sgsend_desktop.core.events import parse_sse
from sgsend_desktop.core.journal import SCHEMA_VERSION, Journal
from sgsend_desktop.core.model import Direction, TransferState
from sgsend_desktop.core.retry import RetryPolicy, call_with_retry
from sgsend_desktop.core.secrets import SecretStore
from sgsend_desktop.core.upload import choose_num_parts, plan_parts
from sgsend_desktop.core.zipper import source_bytes, zip_folder


def test_journal_migrates_and_enforces_transitions(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    assert journal.schema_version == SCHEMA_VERSION
    journal.add_transfer("a1", Direction.SEND, "http://h", "f.txt", options={"max_downloads": 3})
    journal.add_transfer("b2", Direction.RECEIVE, "http://h", "x")
    journal.set_state("a1", TransferState.PREPARING)
    with pytest.raises(IllegalTransitionError):
        journal.set_state("a1", TransferState.DONE)
    journal.set_parts("a1", plan_parts(12, 5))
    journal.part_done("a1", 2, '"abc"')
    assert [(p.number, p.offset, p.size, p.state) for p in journal.parts("a1")] == [
        (1, 0, 5, "pending"), (2, 5, 5, "done"), (3, 10, 2, "pending")]
    journal.move("b2", 0)
    assert [r.id for r in journal.all()] == ["b2", "a1"]
    journal.close()
    reopened = Journal(tmp_path / "j.sqlite3")
    assert reopened.get("a1").options == {"max_downloads": 3}
    assert reopened.find("a").id == "a1"
    with pytest.raises(UnknownTransferError):
        reopened.find("zz")
    assert reopened.schema_version == SCHEMA_VERSION


def test_journal_upgrades_a_v1_database(tmp_path: Path) -> None:
    import sqlite3

    from sgsend_desktop.core.journal import MIGRATIONS

    db = sqlite3.connect(tmp_path / "old.sqlite3")
    db.executescript(MIGRATIONS[0])
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.execute("INSERT INTO schema_version VALUES (1)")
    db.execute("INSERT INTO transfers (id, direction, state, position, server_url, created_at, updated_at) "
               "VALUES ('old', 'send', 'paused', 0, 'http://h', 1, 1)")
    db.commit()
    db.close()
    journal = Journal(tmp_path / "old.sqlite3")
    assert journal.schema_version == SCHEMA_VERSION
    assert journal.get("old").requested is None and journal.get("old").bytes_done == 0


def test_secret_fallback_file_is_0600_and_journal_never_holds_key(tmp_path: Path) -> None:
    store = SecretStore(tmp_path, use_keyring=None)  # the fail backend in tests → fallback file
    assert store.location.endswith("secrets.json")
    key_text = "5RrU12USo7kBvFH7BM8OJ4qOt-HGsXZbH3NwxIr3sy0"
    store.set("id1", key_text)
    mode = stat.S_IMODE(os.stat(tmp_path / "secrets.json").st_mode)
    assert mode == 0o600
    assert SecretStore(tmp_path).get("id1") == key_text
    store.delete("id1")
    assert store.get("id1") is None


def test_secrets_of_many_transfers_come_in_one_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SecretStore(tmp_path)
    for n in range(50):
        store.set(f"id{n}", f"key-{n}")
    reads: list[int] = []
    real_read = store._read
    monkeypatch.setattr(store, "_read", lambda: reads.append(1) or real_read())
    assert store.get_many(["id3", "nope", "id49"]) == {"id3": "key-3", "id49": "key-49"}
    assert store.get_many([f"id{n}" for n in range(50)]) == {f"id{n}": f"key-{n}" for n in range(50)}
    assert len(reads) == 2  # one per call, not one per transfer


def test_retry_backs_off_then_gives_up_and_stops_on_request() -> None:
    calls: list[int] = []
    retries: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise TransientError("503")
        return "ok"

    policy = RetryPolicy(max_attempts=5, base_delay=0.001, max_delay=0.01)
    assert call_with_retry(flaky, policy, on_retry=lambda n, e: retries.append(n)) == "ok"
    assert retries == [1, 2]
    with pytest.raises(TransientError, match="gave up after 2"):
        call_with_retry(lambda: (_ for _ in ()).throw(TransientError("x")), RetryPolicy(2, 0.001, 0.01))
    stop = threading.Event()
    stop.set()
    with pytest.raises(CancelledError):
        call_with_retry(lambda: (_ for _ in ()).throw(TransientError("x")), RetryPolicy(5, 1, 1), stop)
    rng = random.Random(1)
    delays = [RetryPolicy(base_delay=1, max_delay=4).delay(n, rng) for n in range(10)]
    assert all(0 <= d <= 4 for d in delays)


def test_bandwidth_limiter_holds_the_rate() -> None:
    limiter = BandwidthLimiter(400_000)
    started = time.monotonic()
    for _ in range(8):
        limiter.consume(50_000)
    elapsed = time.monotonic() - started
    assert 0.7 <= elapsed <= 1.6  # 400 kB at 400 kB/s, minus the first bucket's worth
    limiter.set_rate(None)
    started = time.monotonic()
    limiter.consume(10**9)
    assert time.monotonic() - started < 0.05


def test_bandwidth_limited_slices_follow_the_rate() -> None:
    """A twentieth of a second at the rate, between 64 KiB (a slow link still moves smoothly) and 1 MiB
    (what an unlimited transfer moves per step): fixed 64 KiB slices made a fast limited transfer pay
    for sixteen times as many trips through the HTTP client and the limiter."""
    limiter = BandwidthLimiter(None)
    assert limiter.slice_size() == 1024 * 1024
    for rate, expected in ((100_000, 64 * 1024), (5_000_000, 250_000), (50_000_000, 1024 * 1024)):
        limiter.set_rate(rate)
        assert limiter.slice_size() == expected


def test_bandwidth_limiter_serves_a_large_piece_beside_small_greedy_ones() -> None:
    """A small direct upload (one 300 kB piece) once stood at 0 % for as long as a multipart upload kept
    taking 16 kB pieces from the same limiter: the bucket never held 300 kB at once."""
    limiter = BandwidthLimiter(400_000)
    stop = threading.Event()

    def greedy() -> None:
        while not stop.is_set():
            limiter.consume(16_000, stop)

    threads = [threading.Thread(target=greedy, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    limiter.consume(300_000)
    waited = time.monotonic() - started
    stop.set()
    for thread in threads:
        thread.join(5)
    assert waited < 2.0, f"the large piece waited {waited:.1f} s"  # its own 0.75 s plus the queue ahead


def test_zip_folder_streams_every_file(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_bytes(b"alpha")
    (folder / "sub" / "b.bin").write_bytes(os.urandom(1000))
    (folder / "empty").mkdir()
    out = zip_folder(folder, tmp_path / "photos.zip")
    with zipfile.ZipFile(out) as archive:
        names = sorted(archive.namelist())
        assert names == ["photos/a.txt", "photos/empty/", "photos/sub/b.bin"]
        assert archive.read("photos/a.txt") == b"alpha"


def test_zipping_stores_compressed_formats_reports_bytes_and_stops_when_asked(tmp_path: Path) -> None:
    folder = tmp_path / "holiday"
    folder.mkdir()
    (folder / "clip.MOV").write_bytes(os.urandom(3 << 20))
    (folder / "notes.txt").write_bytes(b"sun " * 50_000)
    os.utime(folder / "notes.txt", (0, 0))  # 1970 (reproducible builds, unpacked archives): 1980 in zip
    assert source_bytes([folder]) == (3 << 20) + 200_000
    read: list[int] = []
    out = zip_folder(folder, tmp_path / "holiday.zip", read.append)
    assert sum(read) == (3 << 20) + 200_000 and len(read) > 3  # chunk by chunk
    with zipfile.ZipFile(out) as archive:
        assert archive.getinfo("holiday/clip.MOV").compress_type == zipfile.ZIP_STORED
        notes = archive.getinfo("holiday/notes.txt")
        assert notes.compress_type == zipfile.ZIP_DEFLATED and notes.compress_size < 10_000
        assert archive.read("holiday/clip.MOV") == (folder / "clip.MOV").read_bytes()

    class Stop(Exception):
        pass

    def stop_after_a_chunk() -> None:
        if read:
            raise Stop

    read.clear()
    with pytest.raises(Stop):
        zip_folder(folder, tmp_path / "stopped.zip", read.append, stop_after_a_chunk)
    assert not list(tmp_path.glob("stopped.zip*"))  # no zip, no partial one left behind


def test_part_plan_respects_server_limits() -> None:
    caps = Capabilities(multipart_upload=True)
    assert choose_num_parts(1024**3, caps) == 205
    parts = plan_parts(12 * 1024 * 1024 + 3, 5 * 1024 * 1024)
    assert [p[2] for p in parts] == [5 * 1024 * 1024, 5 * 1024 * 1024, 2 * 1024 * 1024 + 3]
    assert choose_num_parts(60 * 1024**3, caps) == 1000  # so initiate's answer fits Lambda's 6 MB
    with pytest.raises(PayloadTooLargeError):
        choose_num_parts(1000 * 5 * 1024**3 + 1, caps)  # S3: 5 GiB a part at most


def test_sse_parser_reads_ids_types_and_skips_comments() -> None:
    lines = [": keep-alive", "id: 3", "event: part", 'data: {"bytes_confirmed": 10}', "",
             "id: 4", "event: completed", "data: {}", ""]
    events = list(parse_sse(lines))
    assert [(e.id, e.type) for e in events] == [("3", "part"), ("4", "completed")]
    assert events[0].data["bytes_confirmed"] == 10


def test_download_window_orders_bytes_and_bounds_what_is_in_flight() -> None:
    """A receive's window: one span until the first answer tells the size, then spans only while they
    end within slots x range size of the durable resume point, each in its slot of one ring; the
    decryptor takes the bytes in payload order, whatever arrived first."""
    stop, abort = threading.Event(), threading.Event()
    window = _Window(0, None, slots=2, stop=stop, abort=abort, range_size=10)
    first = window.take()
    assert first is not None and (first.start, first.end) == (0, 10)
    taken: list[_Span | None] = []
    waiter = threading.Thread(target=lambda: taken.append(window.take()))
    waiter.start()
    time.sleep(0.1)
    assert not taken  # the size is not known yet: nobody else fetches
    window.set_total(35, ranged=True)
    waiter.join(5)
    second = taken[0]
    assert second is not None and (second.start, second.end) == (10, 20)
    blocked = threading.Thread(target=lambda: taken.append(window.take()))
    blocked.start()
    time.sleep(0.1)
    assert len(taken) == 1  # 20-30 would end 30 bytes past the durable point (2 slots of 10)

    def put(span: _Span, data: bytes) -> None:
        space = window.space(span)
        space[:len(data)] = data
        window.filled(span, len(data))

    put(second, b"b" * 10)
    put(first, b"a" * 4)
    span, view = window.next_view(100)
    assert span is first and bytes(view) == b"a" * 4  # in payload order, whatever arrived first
    assert not window.release(first, 4)
    put(first, b"a" * 6)
    span, view = window.next_view(3)
    assert bytes(view) == b"aaa" and not window.release(first, 3)  # at most what was asked for
    span, view = window.next_view(100)
    assert bytes(view) == b"aaa" and window.release(first, 3)
    span, view = window.next_view(100)
    assert span is second and bytes(view) == b"b" * 10 and window.release(second, 10)
    window.durable_to(10)
    blocked.join(5)
    third = taken[1]
    assert third is not None and (third.start, third.end) == (20, 30)
    assert third.slot.obj is first.slot.obj  # the same ring, first's slot again (first is done)
    window.durable_to(20)
    last = window.take()
    assert last is not None and (last.start, last.end) == (30, 35)
    assert window.take() is None  # every span is handed out
    error = TransientError("range 20 gave up")
    threading.Timer(0.05, window.fail, (error,)).start()
    with pytest.raises(TransientError, match="gave up"):
        window.next_view(100)  # a worker's failure wakes the decryptor
    other = _Window(0, 100, slots=1, stop=stop, abort=abort, range_size=10)
    assert other.take() is not None
    threading.Timer(0.05, stop.set).start()
    assert other.take() is None  # a stop request wakes a worker waiting for room
    with pytest.raises(CancelledError):
        other.next_view(100)


def test_download_window_slot_is_circular_for_a_store_that_ignores_range() -> None:
    """A store that ignores Range sends the whole payload in one answer: its span goes round its slot,
    waiting for the decryptor to make room, and the bytes still come out in order."""
    stop, abort = threading.Event(), threading.Event()
    window = _Window(0, None, slots=2, stop=stop, abort=abort, range_size=8)
    span = window.take()
    assert span is not None
    window.set_total(30, ranged=False)
    assert span.end == 30 and window.take() is None
    payload = bytes(range(30))
    got = bytearray()

    def decrypt() -> None:
        while len(got) < len(payload):
            taken, view = window.next_view(5)
            got.extend(view)
            window.release(taken, len(view))

    reader = threading.Thread(target=decrypt)
    reader.start()
    sent = 0
    while sent < len(payload):
        space = window.space(span)  # waits while the slot holds 8 bytes not yet decrypted
        count = min(len(space), 3, len(payload) - sent)
        space[:count] = payload[sent:sent + count]
        window.filled(span, count)
        sent += count
    reader.join(5)
    assert bytes(got) == payload


def test_switching_servers_keeps_the_old_clients_for_running_jobs_and_closes_them_with_the_engine(
        tmp_path: Path) -> None:
    from sgsend_desktop.core.engine import TransferEngine

    engine = TransferEngine(tmp_path / "data", "http://127.0.0.1:9")
    try:
        first = engine._api("http://127.0.0.1:9")
        engine.set_server("http://127.0.0.1:9/", None)  # Settings saved without a change
        assert engine._api("http://127.0.0.1:9") is first
        engine.set_server("http://127.0.0.1:10", "token")
        assert engine._api("http://127.0.0.1:9") is not first  # a new client (no token for a foreign host)
        assert not first._http.is_closed  # a running job may still be using it
    finally:
        engine.close()
    assert first._http.is_closed


def test_a_queued_file_shows_its_size_before_its_turn(tmp_path: Path) -> None:
    """A drop of 30 files showed an empty Size column and "100 % · 728 KB to go" for the queue: the sizes
    of queued files were unknown until each one's turn came."""
    from sgsend_desktop.core import crypto
    from sgsend_desktop.core.engine import TransferEngine

    source = tmp_path / "report.pdf"
    source.write_bytes(os.urandom(300_000))
    (tmp_path / "folder").mkdir()
    engine = TransferEngine(tmp_path / "data", "http://127.0.0.1:9")
    try:
        file_id, folder_id = engine.send([source, tmp_path / "folder"])
        queued = engine.snapshot(file_id)
        assert queued.state is TransferState.QUEUED
        assert queued.size == crypto.payload_size("report.pdf", 300_000)
        assert engine.snapshot(folder_id).size == 0  # a folder's size is known once it is zipped
    finally:
        engine.close()


def _open_journal(path: str, barrier: Any, answers: Any) -> None:
    barrier.wait()
    try:
        journal = Journal(Path(path))
        journal.all()
        journal.close()
        answers.put("ok")
    except Exception as error:
        answers.put(f"{type(error).__name__}: {error}")


def test_processes_opening_a_new_journal_at_once_all_succeed(tmp_path: Path) -> None:
    """Found by the kill -9 test: `sgsend send` and `sgsend get` started together on a new data dir, one
    exited with "database is locked" (SQLite answers the loser of the switch to WAL at once). 4 processes
    x 15 new journals, released by a barrier: before the fix ~8 % of the openings failed."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    failures = []
    for round_ in range(15):
        path = tmp_path / f"data-{round_}" / "journal.sqlite3"
        barrier, answers = context.Barrier(4), context.Queue()
        procs = [context.Process(target=_open_journal, args=(str(path), barrier, answers)) for _ in range(4)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(60)
        failures += [answer for answer in (answers.get(timeout=10) for _ in procs) if answer != "ok"]
    assert failures == []
