"""Issue 9, "and then find the next ones": transfers through a seeded fault-injecting proxy
(`fault_proxy.py`) between the engine and a real `sgsend serve`, and the server killed and restarted
mid-send and mid-receive. Every transfer ends byte-identical, or stops with one clear sentence and then
resumes to byte-identical. The seed is printed; `SGSEND_TEST_SEED=N` replays it."""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.model import TransferOptions, TransferState
from tests.helpers.ports import free_ports
from tests.helpers.seaweed import SeaweedS3
from tests.helpers.servers import ServerProc, running_server, start_server
from tests.integration.conftest import FINISHED, MiB, make_file, sha256, wait_for, wait_state
from tests.reliability.chaos import CHAOS_RETRY, finish, leftovers, test_seed
from tests.reliability.fault_proxy import FAULT_KINDS, Fault, FaultPlan, FaultProxy
from tests.reliability.server_helpers import assert_clean_log


def _engine(make_engine: Callable[..., TransferEngine], url: str, data: Path,
            **kwargs: object) -> TransferEngine:
    kwargs.setdefault("retry", CHAOS_RETRY)
    return make_engine(url, data_dir=data, **kwargs)


def _send_and_receive(make_engine: Callable[..., TransferEngine], url: str, tmp_path: Path,
                      sources: list[Path], seed: int, **engine_options: object) -> list[list[str]]:
    """Send every source through ``url``, receive every link through it; all byte-identical.
    Returns the errors each transfer met on the way (each one sentence, each resumed)."""
    sender = _engine(make_engine, url, tmp_path / "sender", **engine_options)
    sent_ids = sender.send(sources)
    errors: list[list[str]] = []
    links = []
    for local_id in sent_ids:
        snap, seen = finish(sender, local_id, seed)
        assert snap.state is TransferState.DONE and snap.share_link, f"seed {seed}: {snap}"
        errors.append(seen)
        links.append(snap.share_link)
    receiver = _engine(make_engine, url, tmp_path / "receiver", **engine_options)
    out = tmp_path / "received"
    got_ids = [receiver.receive(link, dest_dir=out) for link in links]
    for local_id, source in zip(got_ids, sources, strict=True):
        snap, seen = finish(receiver, local_id, seed)
        assert snap.state is TransferState.DONE and snap.saved_path, f"seed {seed}: {snap}"
        assert Path(snap.saved_path).name == source.name
        assert sha256(Path(snap.saved_path)) == sha256(source), f"seed {seed}: {source.name} differs"
        errors.append(seen)
    assert leftovers(out, [s.name for s in sources]) == [], f"seed {seed}: temp files left behind"
    return errors


def test_the_proxy_sits_in_the_path_of_the_bytes(disk_server: ServerProc,
                                                 make_engine: Callable[..., TransferEngine],
                                                 tmp_path: Path) -> None:
    """The disk backend signs presigned URLs with the request's Host: through the proxy, part PUTs and
    ranged GETs come back to the proxy, so its faults reach the bytes and not only the API calls."""
    source = make_file(tmp_path / "through.bin", 12 * MiB + 5, seed=3)
    with FaultProxy(disk_server.url) as proxy:
        _send_and_receive(make_engine, proxy.url, tmp_path, [source], seed=0)
        puts = proxy.seen("PUT", "/storage/")
        gets = proxy.seen("GET", "/storage/")
        assert len(puts) >= 3 and len(gets) >= 2  # 3 parts of 5 MiB; 2 ranges of 8 MiB
        assert proxy.body_bytes("up", "PUT", "/storage/") >= source.stat().st_size
        assert proxy.body_bytes("down", "GET", "/storage/") >= source.stat().st_size
        initiate = httpx.post(f"{proxy.url}/api/transfers/create", json={"file_size_bytes": 20 * MiB})
        tid = initiate.json()["transfer_id"]
        answer = httpx.post(f"{proxy.url}/api/presigned/initiate",
                            json={"transfer_id": tid, "file_size_bytes": 20 * MiB, "num_parts": 4}).json()
        assert all(p["upload_url"].startswith(proxy.url + "/storage/") for p in answer["part_urls"])
        assert proxy.errors == []


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_the_first_try_of_every_request_fails(kind: str, disk_server: ServerProc,
                                              make_engine: Callable[..., TransferEngine],
                                              tmp_path: Path) -> None:
    """Every distinct request (API call, part PUT, range GET, event stream) fails once with ``kind``
    before it goes through: a direct-route send (≤ 5 MiB) and a multipart one, then both received."""
    seed = test_seed(f"first try fails: {kind}")

    class FirstTry(FaultPlan):
        def decide(self, method: str, target: str, headers: list[tuple[str, str]]) -> Fault | None:
            fault = super().decide(method, target, headers)   # counts occurrences, keeps bursts
            key = f"{method} {target.split('?')[0]} {dict(headers).get('range', '')}"
            with self._lock:
                first = key not in tried
                tried.add(key)
            if not first or target.startswith("/api/_test/"):
                return fault
            rng = random.Random(f"{self.seed}|{key}")
            self.injected[kind] += 1
            return Fault(kind, fraction=rng.random(), status=rng.choice(self.statuses),
                         stall=rng.uniform(0.2, 1.0))

    tried: set[str] = set()
    plan = FirstTry(seed, rate=0.0)
    sources = [make_file(tmp_path / "small.txt", 700 * 1024 + 3, seed=seed % 1000),
               make_file(tmp_path / "large.bin", 13 * MiB + 17, seed=seed % 1000 + 1)]
    with FaultProxy(disk_server.url, plan) as proxy:
        errors = _send_and_receive(make_engine, proxy.url, tmp_path, sources, seed)
        assert plan.injected[kind] >= 15, plan.injected
        assert proxy.errors == [], proxy.errors
    print(f"faults injected: {dict(plan.injected)}; errors met (each resumed): {errors}")


def test_a_seeded_storm_of_faults(disk_server: ServerProc, make_engine: Callable[..., TransferEngine],
                                  tmp_path: Path) -> None:
    """A quarter of all requests fail in a seeded mix of resets, truncations, stalls and 5xx/429 bursts;
    four files of 0.2–21 MiB go up and come back down at once."""
    seed = test_seed("fault storm")
    rng = random.Random(seed)
    sizes = [rng.randint(1, 300) * 1024, rng.randint(1, 5) * MiB - rng.randint(0, 9999),
             rng.randint(6, 14) * MiB + rng.randint(0, 9999),
             rng.randint(15, 21) * MiB + rng.randint(0, 9999)]
    sources = [make_file(tmp_path / f"storm-{n}.bin", size, seed=seed % 997 + n)
               for n, size in enumerate(sizes)]
    plan = FaultPlan(seed, rate=0.25, at_least=8)
    with FaultProxy(disk_server.url, plan) as proxy:
        errors = _send_and_receive(make_engine, proxy.url, tmp_path, sources, seed)
        assert sum(plan.injected.values()) >= 8, plan.injected
        assert proxy.errors == [], proxy.errors
    print(f"sizes {sizes}; faults injected: {dict(plan.injected)}; errors met (each resumed): {errors}")


def test_a_lost_download_url_answer_does_not_use_up_a_one_download_transfer(
        disk_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    """`download-url` counts a download. When its answer is lost on the way (the server counted it,
    the client never saw the URL), the client's retry must not be refused as "a second download"."""
    source = make_file(tmp_path / "once.bin", 3 * MiB, seed=5)
    sender = _engine(make_engine, disk_server.url, tmp_path / "sender")
    [sent] = sender.send([source], TransferOptions(max_downloads=1))
    snap, _ = finish(sender, sent, 0)
    assert snap.share_link

    lost = threading.Event()

    class LoseTheFirstAnswer(FaultPlan):
        def decide(self, method: str, target: str, headers: list[tuple[str, str]]) -> Fault | None:
            if target.startswith("/api/presigned/download-url/") and not lost.is_set():
                lost.set()
                return Fault("reset_response", fraction=0.0)
            return None

    with FaultProxy(disk_server.url, LoseTheFirstAnswer(0)) as proxy:
        receiver = _engine(make_engine, proxy.url, tmp_path / "receiver")
        got = receiver.receive(snap.share_link, dest_dir=tmp_path / "out", server=proxy.url)
        final = wait_state(receiver, got, FINISHED, 60)
        assert lost.is_set()
        assert final.state is TransferState.DONE, final.error
        assert sha256(Path(final.saved_path or "")) == sha256(source)


# --- the server killed (SIGKILL) and restarted on the same port, mid-send and mid-receive -----------------

def _kill(server: ServerProc) -> None:
    server.proc.kill()
    server.proc.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.parametrize("path", ["direct", "proxy"])
def test_the_server_killed_at_seeded_moments(path: str, make_engine: Callable[..., TransferEngine],
                                             tmp_path: Path) -> None:
    """Two rounds: a send and a receive run at 6 MiB/s; the server is SIGKILLed after a seeded number of
    bytes went either way, stays down a seeded 0.3–4 s and comes back on the same port and storage.
    Direct: the client sees an outage (connection refused) and waits it out. Through the proxy, which
    answers 502 while the server is down: counted failures, so a transfer may stop with one sentence,
    and is resumed."""
    seed = test_seed(f"server kill ({path})")
    rng = random.Random(seed)
    [port] = free_ports(1)
    data_dir = tmp_path / "server-data"
    server = start_server(data_dir, extra_args=["--port", str(port)])
    proxy = FaultProxy(server.url).start() if path == "proxy" else None
    url = proxy.url if proxy else server.url
    try:
        uploader = _engine(make_engine, server.url, tmp_path / "uploader")
        for round_ in range(2):
            incoming = make_file(tmp_path / f"in-{round_}.bin",
                                 rng.randint(6, 14) * MiB + rng.randint(0, 999), seed=seed % 991 + round_)
            outgoing = make_file(tmp_path / f"out-{round_}.bin",
                                 rng.randint(6, 14) * MiB + rng.randint(0, 999), seed=seed % 983 + round_)
            [first] = uploader.send([incoming])
            up, _ = finish(uploader, first, seed)
            sender = _engine(make_engine, url, tmp_path / f"sender-{round_}", upload_limit_bps=6 * MiB)
            receiver = _engine(make_engine, url, tmp_path / f"receiver-{round_}", download_limit_bps=6 * MiB)
            [sent] = sender.send([outgoing])
            got = receiver.receive(up.share_link or "", dest_dir=tmp_path / f"received-{round_}")
            total = incoming.stat().st_size + outgoing.stat().st_size
            at = int(total * rng.uniform(0.05, 0.9))

            def moved(engine: TransferEngine, local_id: str) -> int:
                return engine.snapshot(local_id).bytes_done

            wait_for(lambda: moved(sender, sent) + moved(receiver, got) >= at  # noqa: B023
                     or all(e.snapshot(i).state.is_final for e, i in ((sender, sent), (receiver, got))),  # noqa: B023
                     60, "the kill point")
            _kill(server)
            down = rng.uniform(0.3, 4.0)
            time.sleep(down)
            server = start_server(data_dir, extra_args=["--port", str(port)])
            sent_snap, sent_errors = finish(sender, sent, seed)
            got_snap, got_errors = finish(receiver, got, seed)
            assert sent_snap.state is TransferState.DONE, f"seed {seed}: {sent_snap.error}"
            assert got_snap.state is TransferState.DONE, f"seed {seed}: {got_snap.error}"
            assert sha256(Path(got_snap.saved_path or "")) == sha256(incoming), f"seed {seed}"
            check = _engine(make_engine, server.url, tmp_path / f"check-{round_}")
            fetched, _ = finish(check, check.receive(sent_snap.share_link or "",
                                                     dest_dir=tmp_path / f"check-out-{round_}"), seed)
            assert sha256(Path(fetched.saved_path or "")) == sha256(outgoing), f"seed {seed}"
            if path == "direct":  # an outage is waited out, never a failure
                assert sent_errors == [] and got_errors == [], (sent_errors, got_errors)
            bad_gateway = len([e for e in proxy.seen() if e.status == 502]) if proxy else 0
            print(f"round {round_}: killed after {at} of {total} bytes, down {down:.1f} s, "
                  f"{bad_gateway} answers 502 so far; errors met (resumed): {sent_errors + got_errors}")
    finally:
        if proxy:
            proxy.stop()
        server.stop()


@pytest.mark.s3
def test_s3_storage_behind_a_faulty_network(seaweedfs: SeaweedS3, make_engine: Callable[..., TransferEngine],
                                            tmp_path: Path) -> None:
    """The server's S3 endpoint is the proxy: the client's presigned part PUTs and ranged GETs (signed for
    the proxy's host) and the server's own S3 calls (boto3: create, list parts, assemble...) meet the
    seeded faults. Transfers end identical or resume; the server answers no 500 and logs no traceback."""
    seed = test_seed("S3 behind faults")
    plan = FaultPlan(seed, rate=0.2)
    with FaultProxy(seaweedfs.endpoint, plan) as proxy:
        store = dataclasses.replace(seaweedfs, endpoint=proxy.url)
        with running_server(tmp_path / "server", backend="s3", s3=store) as server:
            rng = random.Random(seed)
            sources = [make_file(tmp_path / "s3-small.bin", rng.randint(1, 4000) * 1024, seed=seed % 89),
                       make_file(tmp_path / "s3-large.bin", rng.randint(11, 19) * MiB + rng.randint(0, 999),
                                 seed=seed % 83)]
            errors = _send_and_receive(make_engine, server.url, tmp_path, sources, seed)
            assert_clean_log(server)
        storage = [e for e in proxy.seen() if e.method in ("PUT", "GET") and "uploadId" in e.target]
        assert storage, "the presigned part PUTs did not go through the proxy"
        assert proxy.errors == [], proxy.errors
    print(f"faults injected: {dict(plan.injected)}; errors met (each resumed): {errors}")


@pytest.mark.s3
def test_a_busy_s3_while_assembling_is_retried_not_fatal(seaweedfs: SeaweedS3,
                                                         make_engine: Callable[..., TransferEngine],
                                                         tmp_path: Path) -> None:
    """S3 answers 503 (SlowDown) to the first four CompleteMultipartUpload requests — all the tries boto3
    makes in one server call — then works. That is a moment of overload: the server must answer the
    client something it retries (502/503), not 400 "The store refused to assemble the parts: 503", which
    fails the send until a person resumes it."""
    busy = [4]

    class BusyAssembling(FaultPlan):
        def decide(self, method: str, target: str, headers: list[tuple[str, str]]) -> Fault | None:
            if method == "POST" and "uploadId=" in target and "partNumber" not in target:
                with self._lock:
                    if busy[0] > 0:
                        busy[0] -= 1
                        return Fault("status", status=503)
            return None

    with FaultProxy(seaweedfs.endpoint, BusyAssembling(0)) as proxy:
        store = dataclasses.replace(seaweedfs, endpoint=proxy.url)
        with running_server(tmp_path / "server", backend="s3", s3=store) as server:
            source = make_file(tmp_path / "assembled.bin", 12 * MiB, seed=8)
            engine = _engine(make_engine, server.url, tmp_path / "sender")
            [sent] = engine.send([source])
            snap = wait_state(engine, sent, FINISHED, 60)
            assert busy[0] == 0
            assert snap.state is TransferState.DONE, snap.error
