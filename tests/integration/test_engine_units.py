"""Engine building blocks without a server: journal, secrets, retry, bandwidth, zipper, SSE parsing."""

from __future__ import annotations

import os
import random
import stat
import threading
import time
import zipfile
from pathlib import Path

import pytest

from sgsend_desktop.core.api import Capabilities
from sgsend_desktop.core.bandwidth import BandwidthLimiter
from sgsend_desktop.core.download import _Prefix, plan_ranges
from sgsend_desktop.core.errors import (
    CancelledError,
    IllegalTransitionError,
    NotFoundError,
    PayloadTooLargeError,
    TransientError,
)
from sgsend_desktop.core.events import parse_sse
from sgsend_desktop.core.journal import SCHEMA_VERSION, Journal, RangeRow
from sgsend_desktop.core.model import Direction, TransferState
from sgsend_desktop.core.retry import RetryPolicy, call_with_retry
from sgsend_desktop.core.secrets import SecretStore
from sgsend_desktop.core.upload import choose_num_parts, plan_parts
from sgsend_desktop.core.zipper import zip_folder


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
    with pytest.raises(NotFoundError):
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


def test_download_prefix_follows_out_of_order_ranges_and_failures() -> None:
    """The decryptor of a download follows the contiguous prefix of finished ranges."""
    spans = plan_ranges(0, 40, 10)
    rows = [RangeRow(a, b, "done" if a == 10 else "pending", 0) for a, b in spans]  # resumed: one done
    prefix = _Prefix(rows)
    stop = threading.Event()
    assert prefix.wait_beyond(-1, stop) == (0, None)
    prefix.done(20)
    prefix.done(0)  # 0, 10 and 20 are contiguous now
    assert prefix.wait_beyond(0, stop) == (30, None)
    ended: list[tuple[int, BaseException | None]] = []
    waiter = threading.Thread(target=lambda: ended.append(prefix.wait_beyond(30, stop)))
    waiter.start()
    time.sleep(0.05)
    assert not ended  # blocked until the next range finishes
    prefix.done(30)
    waiter.join(5)
    assert ended == [(40, None)]
    failing = _Prefix([RangeRow(a, b, "pending", 0) for a, b in spans])
    error = TransientError("range 10 gave up")
    threading.Timer(0.05, failing.fail, (error,)).start()
    assert failing.wait_beyond(0, stop) == (0, error)  # a worker's failure wakes the decryptor
    failing.fail(None)
    assert failing.wait_beyond(0, stop) == (0, error)  # the first error is kept
    stop.set()
    assert _Prefix(rows).wait_beyond(0, stop) == (0, None)  # a stop request wakes it too
