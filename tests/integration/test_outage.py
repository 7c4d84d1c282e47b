"""A server that goes away mid-transfer: the transfer shows "reconnecting" and finishes by itself.

The outage test kills a real `sgsend serve` process (SIGKILL) in the middle of a bandwidth-limited send
and a bandwidth-limited receive, keeps it down for 30 s and starts it again on the same port with the same
storage: both transfers must wait (reconnect_at set, never FAILED), then finish on their own, without
sending again the parts / fetching again the ranges that were done before the outage. Quick ones: pause
while reconnecting is immediate, a wrong token still fails, the offline gate probes once for all
waiters, messages are sentences, the CLI's progress printer says it.
"""

from __future__ import annotations

import io
import itertools
import math
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sgsend_desktop.cli.transfers import ProgressPrinter
from sgsend_desktop.core.api import SendApi, probe_origin
from sgsend_desktop.core.download import RANGE_SIZE
from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.errors import CancelledError, TransientError, UnreachableError
from sgsend_desktop.core.model import Direction, EngineEvent, TransferSnapshot, TransferState
from sgsend_desktop.core.reconnect import OfflineGates, ReconnectWatch
from sgsend_desktop.core.retry import RetryPolicy, call_with_retry
from tests.helpers.ports import free_ports
from tests.helpers.servers import ServerProc, running_server, start_server
from tests.integration.conftest import FINISHED, MiB, make_file, sha256, test_stats, wait_for, wait_state

# counted retries as in the other tests; reconnect probes capped at 4 s so the test ends soon after the
# server is back (the defaults, 1 s doubling to 15 s, then 2 min, are checked in test_reconnect_delays)
OUTAGE_RETRY = RetryPolicy(max_attempts=10, base_delay=0.05, max_delay=0.5, reconnect_max_delay=4.0)
OUTAGE = 30.0
RATE = 2 * MiB


def _serve_on(data_dir: Path, port: int) -> ServerProc:
    return start_server(data_dir, extra_args=["--port", str(port)])


def _kill(server: ServerProc) -> None:
    server.proc.kill()  # SIGKILL: no shutdown, open connections are cut
    server.proc.wait(timeout=10)


@pytest.mark.slow
def test_send_and_receive_wait_out_a_30s_outage_and_finish_by_themselves(
        make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    [port] = free_ports(1)
    data_dir = tmp_path / "server-data"
    server = _serve_on(data_dir, port)
    try:
        # the file to receive is on the server first (no limit)
        uploader = make_engine(server.url, data_dir=tmp_path / "uploader")
        incoming = make_file(tmp_path / "incoming.bin", 40 * MiB, seed=2)
        [first] = uploader.send([incoming])
        uploaded = wait_state(uploader, first, FINISHED)
        assert uploaded.state is TransferState.DONE, uploaded.error

        sender = make_engine(server.url, data_dir=tmp_path / "sender", workers=2, upload_limit_bps=RATE,
                             retry=OUTAGE_RETRY)
        receiver = make_engine(server.url, data_dir=tmp_path / "receiver", workers=2,
                               download_limit_bps=RATE, retry=OUTAGE_RETRY)
        outgoing = make_file(tmp_path / "outgoing.bin", 40 * MiB, seed=3)
        [sent] = sender.send([outgoing])
        got = receiver.receive(uploaded.share_link or "", dest_dir=tmp_path / "received")

        def parts_done() -> int:
            return sum(p.state == "done" for p in sender.journal.parts(sent))

        def received() -> int:  # payload bytes decrypted, written and synced (the resume point)
            return receiver.journal.get(got).decrypted_to

        wait_for(lambda: parts_done() >= 1 and received() >= RANGE_SIZE, 60, "a part sent, a range received")
        assert sender.snapshot(sent).state is TransferState.UPLOADING
        assert receiver.snapshot(got).state is TransferState.DOWNLOADING
        _kill(server)
        killed = time.monotonic()
        done_before = (parts_done(), received())
        total_parts = len(sender.journal.parts(sent))
        payload = receiver.journal.get(got).payload_size or 0

        seen: dict[str, TransferSnapshot] = {}
        while time.monotonic() - killed < OUTAGE:
            for engine, local_id in ((sender, sent), (receiver, got)):
                snap = engine.snapshot(local_id)
                assert snap.state in (TransferState.UPLOADING, TransferState.DOWNLOADING), (snap.state,
                                                                                            snap.error)
                if snap.reconnect_at is not None:
                    seen.setdefault(local_id, snap)
            time.sleep(0.25)
        for engine, local_id in ((sender, sent), (receiver, got)):
            assert local_id in seen, "never showed reconnecting"
            snap = engine.snapshot(local_id)  # 30 s later: still waiting, still active, no error
            assert snap.reconnecting and snap.error is None, snap
            assert not snap.live_events  # the event stream went with the server: not "live" meanwhile
            assert snap.reconnect_reason == f"Cannot reach 127.0.0.1:{port} (connection refused)"
            assert snap.reconnect_at is not None and snap.reconnect_at - time.time() <= 4.5
            assert snap.state is (TransferState.UPLOADING if engine is sender else TransferState.DOWNLOADING)
        assert sender.journal.get(sent).state is TransferState.UPLOADING  # a relaunch would resume it

        server = _serve_on(data_dir, port)  # same port, same storage
        assert server.url == f"http://127.0.0.1:{port}"
        back = time.monotonic()
        sent_snap = wait_state(sender, sent, FINISHED, timeout=120)
        got_snap = wait_state(receiver, got, FINISHED, timeout=120)
        assert sent_snap.state is TransferState.DONE, sent_snap.error
        assert got_snap.state is TransferState.DONE, got_snap.error
        assert sent_snap.reconnect_at is None and got_snap.reconnect_at is None
        assert time.monotonic() - back < 60
        # nothing done before the outage was sent or fetched again
        stats = test_stats(server)
        assert stats["part_puts"].get(sent_snap.transfer_id, 0) <= total_parts - done_before[0]
        # the ranges past the resume point, once each (one broken by the outage continues where it was)
        assert stats["range_gets"] <= math.ceil((payload - done_before[1]) / RANGE_SIZE)

        assert sha256(Path(got_snap.saved_path or "")) == sha256(incoming)
        check = make_engine(server.url, data_dir=tmp_path / "check")
        check_id = check.receive(sent_snap.share_link or "", dest_dir=tmp_path / "check-out")
        fetched = wait_state(check, check_id, FINISHED)
        assert fetched.state is TransferState.DONE, fetched.error
        assert sha256(Path(fetched.saved_path or "")) == sha256(outgoing)
    finally:
        server.stop()


def test_pause_while_reconnecting_is_immediate(make_engine: Callable[..., TransferEngine],
                                               tmp_path: Path) -> None:
    [port] = free_ports(1)  # nothing listens there
    events: list[EngineEvent] = []
    engine = make_engine(f"http://127.0.0.1:{port}", retry=OUTAGE_RETRY)
    engine.subscribe(events.append)
    [sent] = engine.send([make_file(tmp_path / "f.bin", MiB)])
    wait_for(lambda: engine.snapshot(sent).reconnecting, 20, "reconnecting")
    snap = engine.snapshot(sent)
    assert snap.state is TransferState.PREPARING and snap.error is None
    assert snap.reconnect_reason == f"Cannot reach 127.0.0.1:{port} (connection refused)"
    assert any(e.kind == "changed" and e.snapshot.reconnect_at is not None for e in events)
    time.sleep(1.5)  # a few probes later: still waiting, never failed
    assert engine.snapshot(sent).state is TransferState.PREPARING
    started = time.monotonic()
    engine.pause(sent)
    wait_state(engine, sent, [TransferState.PAUSED], timeout=5)
    assert time.monotonic() - started < 1.0
    paused = engine.snapshot(sent)
    assert paused.reconnect_at is None and paused.error is None


def test_a_send_resumed_while_the_server_is_away_shows_what_it_kept(
        make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    """Found using the window: a send paused at 33 %, resumed (Resume all) while its server was down,
    read "0 B of 300.0 MB · 0 %" until the server answered: its finished parts show at once now."""
    [port] = free_ports(1)
    server = _serve_on(tmp_path / "server-data", port)
    engine = make_engine(server.url, retry=OUTAGE_RETRY, upload_limit_bps=4 * MiB)
    [sent] = engine.send([make_file(tmp_path / "movie.mkv", 24 * MiB, seed=6)])
    wait_for(lambda: sum(p.state == "done" for p in engine.journal.parts(sent)) >= 2, 30, "two parts")
    engine.pause(sent)
    paused = wait_state(engine, sent, [TransferState.PAUSED])
    kept = sum(p.size for p in engine.journal.parts(sent) if p.state == "done")
    assert paused.bytes_done >= kept > 0
    _kill(server)
    engine.resume(sent)
    wait_for(lambda: engine.snapshot(sent).reconnecting, 20, "reconnecting")
    waiting = engine.snapshot(sent)
    assert waiting.bytes_done == kept and waiting.size == paused.size, waiting
    server = _serve_on(tmp_path / "server-data", port)
    try:
        engine.reconnect_now()
        assert wait_state(engine, sent, FINISHED, timeout=60).state is TransferState.DONE
    finally:
        server.stop()


# the next probe is 45-60 s away: whatever ends the wait sooner is what the test is about
PATIENT_RETRY = RetryPolicy(max_attempts=10, base_delay=0.05, max_delay=0.5, reconnect_base_delay=60.0,
                            reconnect_early_max_delay=60.0, reconnect_max_delay=60.0)


def test_try_now_reaches_a_server_that_is_back_without_waiting_out_the_backoff(
        make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    """The user's *Try now* (Retry on a reconnecting row, Resume all): the send goes on at once."""
    [port] = free_ports(1)  # nothing listens there yet
    engine = make_engine(f"http://127.0.0.1:{port}", retry=PATIENT_RETRY)
    source = make_file(tmp_path / "f.bin", 3 * MiB, seed=5)
    [sent] = engine.send([source])
    wait_for(lambda: engine.snapshot(sent).reconnecting, 20, "reconnecting")
    assert engine.reconnect_now() == 1  # a probe now: still refused, the wait goes on
    time.sleep(0.5)
    waiting = engine.snapshot(sent)
    assert waiting.reconnecting and waiting.state is TransferState.PREPARING, waiting
    assert (waiting.reconnect_at or 0) - time.time() > 30  # the backoff grew: the next probe is far off
    server = _serve_on(tmp_path / "server-data", port)
    try:
        back = time.monotonic()
        assert engine.reconnect_now() == 1
        done = wait_state(engine, sent, FINISHED, timeout=30)
        assert done.state is TransferState.DONE, done.error
        assert time.monotonic() - back < 15
        assert engine.reconnect_now() == 0  # nobody waits any more
    finally:
        server.stop()


@pytest.mark.slow
def test_a_send_goes_on_when_its_event_stream_reopens_not_after_the_probe_backoff(
        make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    """Found using the window: after a 35 s outage a send sat in "Reconnecting in 18 s" although the
    server was back. The event stream (its own, shorter backoff) reopening now makes the gate probe."""
    [port] = free_ports(1)
    data_dir = tmp_path / "server-data"
    server = _serve_on(data_dir, port)
    try:
        engine = make_engine(server.url, workers=2, upload_limit_bps=RATE, retry=PATIENT_RETRY)
        [sent] = engine.send([make_file(tmp_path / "out.bin", 24 * MiB, seed=6)])
        wait_for(lambda: any(p.state == "done" for p in engine.journal.parts(sent))
                 and engine.snapshot(sent).live_events, 60, "a part sent, the event stream open")
        _kill(server)
        wait_for(lambda: engine.snapshot(sent).reconnecting, 20, "reconnecting")
        time.sleep(4)
        probe_at = engine.snapshot(sent).reconnect_at or 0
        server = _serve_on(data_dir, port)
        back = time.time()
        assert probe_at - back > 25  # the probe alone would come this much later
        wait_for(lambda: not engine.snapshot(sent).reconnecting, 20, "the wait to end (stream reopened)")
        assert time.time() < probe_at - 5
        done = wait_state(engine, sent, FINISHED, timeout=120)
        assert done.state is TransferState.DONE, done.error
    finally:
        server.stop()


def test_a_wrong_token_still_fails(make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    with running_server(tmp_path, extra_args=["--access-token", "the-right-one"]) as server:
        engine = make_engine(server.url, token="a-wrong-one", retry=OUTAGE_RETRY)
        [sent] = engine.send([make_file(tmp_path / "f.bin", MiB)])
        snap = wait_state(engine, sent, FINISHED, timeout=30)
        assert snap.state is TransferState.FAILED
        assert "access token" in (snap.error or "") and snap.reconnect_at is None  # a 401, in words


# units -------------------------------------------------------------------------------------------------
def test_unreachable_is_told_apart_from_a_dropped_connection() -> None:
    [port] = free_ports(1)
    api = SendApi(f"http://127.0.0.1:{port}")
    with pytest.raises(UnreachableError) as refused:
        api.info("0123456789ab")
    assert str(refused.value) == f"Cannot reach 127.0.0.1:{port} (connection refused)"
    assert refused.value.origin == f"http://127.0.0.1:{port}"
    assert probe_origin(f"http://127.0.0.1:{port}") == str(refused.value)
    dns = SendApi("http://no-such-host.invalid:8080")
    with pytest.raises(UnreachableError, match=r"^Cannot reach no-such-host.invalid:8080 \("):
        dns.info("0123456789ab")

    # a server that accepts and hangs up: reachable, the request broke (counted, not an outage)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def hang_up() -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            conn.recv(1024)
            conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    host = f"127.0.0.1:{listener.getsockname()[1]}"
    with pytest.raises(TransientError) as dropped:
        SendApi(f"http://{host}").info("0123456789ab")
    assert not isinstance(dropped.value, UnreachableError)
    assert str(dropped.value).startswith(f"Looking up the transfer failed: the connection to {host} broke (")
    assert "Error(" not in str(dropped.value) and "Errno" not in str(dropped.value)
    assert probe_origin(f"http://{host}") is None  # a connection was made: reachable
    listener.close()


def test_reconnect_delays() -> None:
    """A server that comes back within 10 minutes is noticed within 15 s; after that every 2 min."""
    policy = RetryPolicy()
    early = [1, 2, 4, 8, 15, 15, 15, 15]
    late = [1, 2, 4, 8, 16, 32, 64, 120, 120]
    for ceilings, outage in ((early, 0.0), (early, 599.0), (late, 600.0), (late, 3600.0)):
        for failures, ceiling in enumerate(ceilings):
            for _ in range(20):
                assert 0.75 * ceiling <= policy.reconnect_delay(failures, outage=outage) <= ceiling
    assert policy.max_attempts == 8  # counted retries (5xx, 429, dropped connections) are unchanged


def test_one_probe_decides_for_every_waiter() -> None:
    probes: list[float] = []

    def probe(origin: str) -> str | None:
        probes.append(time.monotonic())
        return None if len(probes) >= 3 else "Cannot reach h:1 (connection refused)"

    gates = OfflineGates(RetryPolicy(reconnect_base_delay=0.1, reconnect_max_delay=0.4), probe)
    changes: list[tuple[float, str] | None] = []
    watch = ReconnectWatch()
    watch.on_change = lambda: changes.append(watch.state())
    error = UnreachableError("Cannot reach h:1 (connection refused)", "http://h:1")
    gate = gates.gate("http://h:1")
    started = time.monotonic()
    threads = [threading.Thread(target=gate.wait, args=(error, started, lambda: False, watch))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(t.is_alive() for t in threads)
    assert len(probes) == 3 and gate.probes == 3  # not 8 × 3
    gaps = [b - a for a, b in itertools.pairwise(probes)]
    assert all(gap >= 0.75 * min(0.4, 0.1 * 2 ** (n + 1)) - 0.01 for n, gap in enumerate(gaps)), gaps
    assert changes[0] is not None and changes[0][1] == "Cannot reach h:1 (connection refused)"
    assert changes[-1] is None and watch.state() is None and not gate.offline
    # a request that had started before the host came back is simply tried again
    gate.wait(error, started, lambda: (_ for _ in ()).throw(AssertionError("waited")), None)


def test_probe_now_ends_a_long_wait_as_soon_as_the_host_answers() -> None:
    """*Try now* (or an event stream to the host that opens again) probes at once, not after the
    backoff; a host that is not waited for is left alone."""
    back = threading.Event()
    probes: list[float] = []

    def probe(origin: str) -> str | None:
        probes.append(time.monotonic())
        return None if back.is_set() else "Cannot reach h:5 (connection refused)"

    gates = OfflineGates(RetryPolicy(reconnect_base_delay=30.0, reconnect_early_max_delay=60.0,
                                     reconnect_max_delay=60.0), probe)
    assert gates.probe_now() == 0  # nothing is waited for
    watch = ReconnectWatch()
    changes: list[tuple[float, str] | None] = []
    watch.on_change = lambda: changes.append(watch.state())
    error = UnreachableError("Cannot reach h:5 (connection refused)", "http://h:5")
    waiter = threading.Thread(target=gates.gate("http://h:5").wait,
                              args=(error, time.monotonic(), lambda: False, watch))
    waiter.start()
    wait_for(lambda: watch.state() is not None, 5, "the wait to start")
    next_probe, _ = watch.state() or (0.0, "")
    assert next_probe - time.time() > 20  # the backoff: about 30 s away
    assert gates.probe_now("http://h:9") == 0  # another host: no effect
    back.set()
    began = time.monotonic()
    assert gates.probe_now("http://h:5") == 1
    waiter.join(5)
    assert not waiter.is_alive() and time.monotonic() - began < 2.0
    assert len(probes) == 1 and not gates.gate("http://h:5").offline
    assert changes[-1] is None


def test_a_stop_ends_the_wait_at_once_and_the_probing() -> None:
    probes: list[str] = []
    gates = OfflineGates(RetryPolicy(reconnect_base_delay=0.2, reconnect_max_delay=0.2),
                         lambda origin: probes.append(origin) or "Cannot reach h:2 (connection refused)")
    stop = threading.Event()
    error = UnreachableError("Cannot reach h:2 (connection refused)", "http://h:2")
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    with pytest.raises(CancelledError):
        gates.gate("http://h:2").wait(error, started, stop.is_set, None)
    assert time.monotonic() - started < 0.8
    wait_for(lambda: not gates.gate("http://h:2").offline, 5, "the probe thread to give up")
    count = len(probes)
    time.sleep(0.5)
    assert len(probes) == count  # nobody waits: no more probes


def test_outages_are_not_counted_but_other_failures_are() -> None:
    failures = iter([UnreachableError("Cannot reach h:3 (connection refused)", "http://h:3")] * 12
                    + [TransientError("HTTP 503")] * 2)

    def operation() -> str:
        error = next(failures, None)
        if error is not None:
            raise error
        return "ok"

    gates = OfflineGates(RetryPolicy(reconnect_base_delay=0.01, reconnect_max_delay=0.02), lambda o: None)
    policy = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01)
    assert call_with_retry(operation, policy, gates=gates) == "ok"  # 12 outages + 2 counted failures
    with pytest.raises(TransientError, match="gave up after 3 attempts"):  # without gates: counted
        call_with_retry(lambda: (_ for _ in ()).throw(UnreachableError("x", "http://h:3")), policy)


def test_the_cli_progress_printer_says_it_is_reconnecting() -> None:
    out = io.StringIO()
    printer = ProgressPrinter(out)
    base = TransferSnapshot("ab12", Direction.SEND, "f.bin", 100, TransferState.UPLOADING, bytes_done=40)
    waiting = TransferSnapshot("ab12", Direction.SEND, "f.bin", 100, TransferState.UPLOADING, bytes_done=40,
                               reconnect_at=time.time() + 40.2,
                               reconnect_reason="Cannot reach 127.0.0.1:8080 (connection refused)")
    printer(EngineEvent("changed", waiting))
    printer(EngineEvent("progress", waiting))  # the once-a-second tick: not printed again
    printer(EngineEvent("progress", base))
    lines = out.getvalue().splitlines()
    assert lines[0] == "ab12 f.bin: Cannot reach 127.0.0.1:8080 (connection refused) — reconnecting in 40 s"
    assert lines[1] == "ab12 f.bin: the server answers again, continuing"
    assert len(lines) == 3 and "40.0%" in lines[2]
