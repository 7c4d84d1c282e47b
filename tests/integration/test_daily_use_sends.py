"""Issue 8 (item 2): many sends in one run of the app / one `sgsend send` must all finish.

Every finished send is watched for downloads over a long-lived SSE stream, and every running upload
holds one too. Those streams once shared the connection pool of the transfer traffic, so after about
ten sends every API call waited forever for a connection. Also: the SSE parser bounds what a server
can make us hold (issue 9: an endless `data:` line grew to 3.8 GB).
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from sgsend_desktop.core import engine as engine_module
from sgsend_desktop.core import watchers as watchers_module
from sgsend_desktop.core.api import SendApi
from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.events import EventListener, EventTooLargeError, iter_sse_lines, parse_sse
from sgsend_desktop.core.links import parse_link
from sgsend_desktop.core.model import TransferState
from sgsend_desktop.core.retry import RetryPolicy
from tests.helpers.servers import ServerProc
from tests.integration.conftest import FINISHED, make_file, run_cli, wait_for

COUNT = 60
DEADLINE = 180.0
KiB = 1024


def _small_files(folder: Path, count: int = COUNT) -> list[Path]:
    """A mix of small files, a few KB to ~1 MB (sizes repeat a cycle, contents differ)."""
    sizes = [3 * KiB, 17 * KiB, 64 * KiB + 5, 200 * KiB, 512 * KiB + 1, 1000 * KiB]
    folder.mkdir(parents=True, exist_ok=True)
    return [make_file(folder / f"file-{n:02d}.bin", sizes[n % len(sizes)], seed=n) for n in range(count)]


def _listener_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sse-listener" and t.is_alive()]


def test_sixty_sends_in_one_engine_all_finish(disk_server: ServerProc, tmp_path: Path,
                                              make_engine: Callable[..., TransferEngine],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watchers_module, "POLL_DOWNLOADS_EVERY", 0.5)
    engine = make_engine(disk_server.url)
    ids = engine.send(_small_files(tmp_path / "files"))
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if all(engine.snapshot(i).state in FINISHED for i in ids):
            break
        time.sleep(0.2)
    snaps = [engine.snapshot(i) for i in ids]
    stuck = [(s.id, s.state.value) for s in snaps if s.state is not TransferState.DONE]
    assert not stuck, f"{len(stuck)} of {COUNT} sends did not finish: {stuck[:10]}"
    links = {s.share_link for s in snaps}
    assert None not in links and len(links) == COUNT
    # bounded watchers: the upload streams ended, at most MAX_WATCHERS finished sends are listened to
    cap = engine_module.MAX_WATCHERS
    wait_for(lambda: len(_listener_threads()) <= cap, 10, f"at most {cap} sse-listener threads")
    # the newest send is watched live; the oldest is beyond the cap and learns its count by polling
    api = SendApi(disk_server.url)
    try:
        for local_id in (ids[-1], ids[0]):
            transfer_id = engine.snapshot(local_id).transfer_id
            assert transfer_id is not None
            api.download_url(transfer_id)  # counts one download
        for local_id in (ids[-1], ids[0]):
            wait_for(lambda i=local_id: engine.snapshot(i).download_count == 1, 30,  # type: ignore[misc]
                     f"the download count of {local_id}")
    finally:
        api.close()
    # discard stops the send's watcher; close stops the others and the poller: no thread is left behind
    watched = len(_listener_threads())
    engine.discard(ids[-1])
    wait_for(lambda: len(_listener_threads()) == watched - 1, 10, "the discarded send's watcher to stop")
    engine.close()
    wait_for(lambda: not _listener_threads(), 5, "every sse-listener thread to end")
    assert not [t for t in threading.enumerate() if t.name == "sgsend-download-poller"]


def test_cli_sends_sixty_files_and_prints_sixty_links(disk_server: ServerProc, tmp_path: Path) -> None:
    files = _small_files(tmp_path / "files")
    try:
        sent = run_cli(["send", *map(str, files), "--server", disk_server.url], tmp_path / "data", None,
                       timeout=DEADLINE)
    except subprocess.TimeoutExpired as error:
        stderr = error.stderr.decode(errors="replace") if isinstance(error.stderr, bytes) else ""
        pytest.fail(f"`sgsend send` of {COUNT} files did not end within {DEADLINE:.0f} s; "
                    f"{stderr.count(': done')} reported done; stderr ends with:\n{stderr[-1500:]}")
    assert sent.returncode == 0, sent.stderr[-2000:]
    links = sent.stdout.split()
    assert len(links) == COUNT
    assert len({parse_link(link).transfer_id for link in links}) == COUNT


def test_event_streams_have_their_own_pool_and_a_full_one_fails_fast(disk_server: ServerProc) -> None:
    """More streams than the events pool holds: the extra one waits ≤ 2 s, backs off and retries, while
    requests on the transfer client (its pool one connection here) are served at once."""
    api = SendApi(disk_server.url, pool_size=0, event_streams=2)  # transfer pool: 0 + 4 connections
    listeners: list[EventListener] = []
    try:
        assert api.events_http is not api.http
        transfer_id = api.create(100).transfer_id
        url = api.events_url(transfer_id)
        listeners = [EventListener(api.events_http, url, lambda event: None).start() for _ in range(3)]
        wait_for(lambda: sum(listener.connected.is_set() for listener in listeners) == 2, 10,
                 "two streams to connect")
        started = time.monotonic()
        for _ in range(10):  # more requests than the transfer pool has connections
            assert api.info(transfer_id).status == "pending"
        assert time.monotonic() - started < 5
        time.sleep(2.5)  # beyond the events pool timeout: the third stream failed and is backing off
        assert sum(listener.connected.is_set() for listener in listeners) == 2
        assert all(listener.alive for listener in listeners)
    finally:
        for listener in listeners:
            listener.stop(timeout=0)
        for listener in listeners:
            listener.join(5)
        api.close()
    assert not any(listener.alive for listener in listeners)


# the SSE parser's bounds -------------------------------------------------------------------------
GUARD = 8 * 1024 * KiB  # a bounded parser gives up long before it was fed this much


def test_sse_parser_refuses_an_endless_event() -> None:
    """Short `data:` lines that never end the event: refused after the limit, not accumulated."""
    fed = 0

    def endless() -> Iterator[str]:
        nonlocal fed
        yield "id: 1"
        while True:
            fed += 1001
            if fed > GUARD:
                raise AssertionError("the parser kept accumulating one event past 8 MiB")
            yield "data: " + "x" * 1000

    with pytest.raises(ValueError, match="too large"):
        list(parse_sse(endless()))
    assert fed <= 80 * KiB


def test_sse_listener_stops_reading_an_endless_line() -> None:
    """A `data:` line without end: the listener drops the stream after the limit and reconnects."""
    served: list[int] = []

    def body() -> Iterator[bytes]:
        served.append(0)
        yield b"id: 1\nevent: snapshot\ndata: {}\n\n" + b"data: "
        while served[-1] <= GUARD:
            served[-1] += 16 * KiB
            yield b"x" * (16 * KiB)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    events: list[str] = []
    client = httpx.Client(transport=httpx.MockTransport(handler))
    listener = EventListener(client, "http://sse.test/api/transfers/events/abc",
                             lambda event: events.append(event.type),
                             policy=RetryPolicy(max_attempts=1_000_000, base_delay=0.01, max_delay=0.02))
    try:
        listener.start()
        wait_for(lambda: len(served) >= 3, 10, "the listener to drop the stream and reconnect")
    finally:
        listener.stop()
        client.close()
    assert max(served) <= 128 * KiB, f"read {max(served)} bytes of one endless line"
    assert "snapshot" in events  # the good event before the endless line was delivered
    assert not listener.alive


def test_sse_lines_end_at_cr_lf_or_crlf_even_split_between_chunks() -> None:
    chunks = [b"id: 1\r", b"", b"\nevent: a\rdata: {\"n\"", b": 1}\n\r", b"\n", b"data: cut"]
    assert list(iter_sse_lines(chunks)) == ["id: 1", "event: a", 'data: {"n": 1}', ""]
    [event] = parse_sse(iter_sse_lines(chunks))
    assert (event.id, event.type, event.data) == ("1", "a", {"n": 1})
    with pytest.raises(EventTooLargeError):
        list(iter_sse_lines([b"x" * 10, b"y" * 10, b"\n"], max_line=15))
    assert list(iter_sse_lines([b"x" * 10, b"y" * 5, b"\n"], max_line=15)) == ["x" * 10 + "y" * 5]
