"""Issue 9, item 9 (event streams): `GET /api/transfers/events/{id}` needs no auth, so it is bounded —
per transfer and overall (429/503 with Retry-After beyond), idle streams cost (almost) nothing, and many
connections never exhaust the server's file descriptors (no EMFILE tracebacks, no 500s)."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.reliability.server_helpers import (
    assert_clean_log,
    cpu_seconds,
    create,
    open_fds,
    raw_request,
    serving,
    statuses,
)
from tests.server.flows import small_transfer


def open_stream(client: httpx.Client, transfer_id: str) -> httpx.Response:
    request = client.build_request("GET", f"/api/transfers/events/{transfer_id}",
                                   headers={"Accept": "text/event-stream"})
    return client.send(request, stream=True)


def assert_refused(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.status_code
    response.read()
    assert int(response.headers["retry-after"]) > 0
    assert response.headers["connection"] == "close"  # no idle keep-alive slot held for 10 s
    assert "stream" in response.json()["detail"]


def test_stream_caps_per_transfer_and_overall(tmp_path: Path) -> None:
    args = ["--max-event-streams-per-transfer", "3", "--max-event-streams", "5"]
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=0)
    with serving(tmp_path, args) as server, httpx.Client(base_url=server.url, timeout=30,
                                                          limits=limits) as client:
        a, b, c = (create(client, 100) for _ in range(3))
        held: list[httpx.Response] = []
        try:
            for _ in range(3):
                held.append(open_stream(client, a))
                assert held[-1].status_code == 200
            extra = open_stream(client, a)
            assert_refused(extra, 429)
            extra.close()
            for _ in range(2):
                held.append(open_stream(client, b))
                assert held[-1].status_code == 200
            full = open_stream(client, c)
            assert_refused(full, 503)
            full.close()
            assert client.get(f"/api/transfers/info/{c}").status_code == 200  # other routes unaffected

            held.pop(0).close()  # a client going away frees its slot at once
            deadline = time.monotonic() + 5
            while True:
                again = open_stream(client, c)
                if again.status_code == 200 or time.monotonic() > deadline:
                    break
                again.close()
                time.sleep(0.1)
            assert again.status_code == 200
            held.append(again)
        finally:
            for response in held:
                response.close()
        assert_clean_log(server)


def test_idle_streams_are_cheap(tmp_path: Path) -> None:
    """300 idle streams (200 on an upload in progress, 100 on a finished transfer): the server stays
    nearly idle and /info stays fast."""
    args = ["--max-event-streams", "1000", "--max-event-streams-per-transfer", "1000"]
    with serving(tmp_path, args) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        pending = create(client, 20_000_000)
        init = client.post("/api/presigned/initiate",
                           json={"transfer_id": pending, "file_size_bytes": 20_000_000, "num_parts": 2})
        assert init.status_code == 200
        done = small_transfer(client, b"d" * 100)
        socks = [raw_request(server.url, f"/api/transfers/events/{pending}") for _ in range(200)]
        socks += [raw_request(server.url, f"/api/transfers/events/{done}") for _ in range(100)]
        try:
            assert statuses(socks) == [200] * len(socks)
            time.sleep(1.0)
            before, started = cpu_seconds(server.proc.pid), time.monotonic()
            time.sleep(4.0)
            used = (cpu_seconds(server.proc.pid) - before) / (time.monotonic() - started)
            latencies = []
            for _ in range(15):
                asked = time.monotonic()
                assert client.get(f"/api/transfers/info/{pending}").status_code == 200
                latencies.append(time.monotonic() - asked)
            median = statistics.median(latencies)
            print(f"\n300 idle streams: {used:.1%} of a core, /info median {median:.3f} s")
            assert used < 0.10, f"300 idle streams use {used:.0%} of a core"
            assert median < 0.2, latencies
        finally:
            for sock in socks:
                sock.close()
        assert_clean_log(server)


def test_many_connections_do_not_exhaust_file_descriptors(tmp_path: Path) -> None:
    """500 event-stream connections at once to a server limited to 256 open files: a stream (200), a 429/503
    beyond the caps, or — past the connection gate — a reset (None); never a 500, never EMFILE in the
    log, and the API keeps answering meanwhile."""
    with serving(tmp_path, nofile=256) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        transfers = [create(client, 100) for _ in range(10)]
        socks = []
        try:
            for n in range(500):
                with contextlib.suppress(OSError):
                    socks.append(raw_request(server.url, f"/api/transfers/events/{transfers[n % 10]}"))
            answered = statuses(socks)
            print(f"\n500 connections, 256 files: {Counter(answered)}, {open_fds(server.proc.pid)} fds open")
            assert len(socks) == 500
            assert set(answered) <= {200, 429, 503, None}, sorted(set(map(str, answered)))
            assert answered.count(200) >= 10
            assert answered.count(429) + answered.count(503) >= 250  # most are told to come back later
            assert open_fds(server.proc.pid) < 256
            # the streams are still held: the API answers (after a moment's 503 while refusals drain)
            began = time.monotonic()
            deadline = began + 3
            while (info := client.get(f"/api/transfers/info/{transfers[0]}")).status_code == 503:
                assert time.monotonic() < deadline, "the API stayed unavailable"
                time.sleep(0.1)
            print(f"the API answered after {time.monotonic() - began:.2f} s")
            assert info.status_code == 200, info.text
        finally:
            for sock in socks:
                sock.close()
        time.sleep(0.5)
        assert client.get(f"/api/transfers/info/{transfers[1]}").status_code == 200
        assert_clean_log(server)

