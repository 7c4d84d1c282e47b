"""Issue 8: one TransferEngine used for a long while, as the desktop app uses it for a day.

200 transfers against a real `sgsend serve` in five rounds (20, then 4 × 45): small sends (direct upload),
multipart sends (payload > 5 MiB: the server's 5 MiB minimum part, at most 10 MiB a part), sends paused
(while queued, and mid-upload under a bandwidth limit) then resumed, sends cancelled (queued and
mid-upload), receives of links to transfer ids the server never had (404 → FAILED), and receives of the
round's sends. After each round, once the queue is idle, the process's threads, file descriptors and
sockets are counted: after the last round they must be where they were after the first 20 transfers,
give or take a stated constant — a leak of one per transfer would be 180 more.
"""

from __future__ import annotations

import os
import random
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sgsend_desktop.core import crypto
from sgsend_desktop.core import engine as engine_module
from sgsend_desktop.core.engine import TransferEngine, share_link_for
from sgsend_desktop.core.model import TransferSnapshot, TransferState
from tests.helpers.servers import ServerProc
from tests.integration.conftest import MiB, make_file, sha256, wait_for

KiB = 1024
DEADLINE_S = 300.0          # the whole run (it takes ~1–2 min on the 2-core machine)
STANDSTILL_S = 60.0         # no state or byte count of the awaited transfers changed: stuck
LIVE_LIMIT_BPS = 2 * MiB    # upload limit while a send is paused / cancelled mid-upload
LIVE_SIZE = 12 * MiB        # three parts: 5 + 5 + 2 MiB, PUT in parallel
IDLE_THREADS = getattr(engine_module, "MAX_WATCHERS", 8) + 2  # SSE watchers + scheduler + download poller
THREAD_SLACK = 2            # ... + a watcher still winding down after its eviction
FD_GROWTH = 10              # fds after the run vs after the first 20 transfers (the pools below refill)
SOCKET_GROWTH = 8           # sockets: keep-alive pools may hold <= 4 more transfer + 4 more event connections


@dataclass(frozen=True)
class Plan:
    small: int            # 1 KiB – 1.5 MiB: direct upload
    multipart: int        # 6 – 11 MiB: multipart
    pause_queued: int     # paused before they start, resumed later
    pause_live: int       # paused mid-upload, resumed later
    cancel_queued: int
    cancel_live: int
    missing: int          # receive of a link to an id the server never had
    receive: int          # receive of one of this round's sends

    @property
    def total(self) -> int:
        return (self.small + self.multipart + self.pause_queued + self.pause_live + self.cancel_queued
                + self.cancel_live + self.missing + self.receive)


FIRST = Plan(small=10, multipart=2, pause_queued=1, pause_live=1, cancel_queued=1, cancel_live=1,
             missing=1, receive=3)
LATER = Plan(small=24, multipart=3, pause_queued=2, pause_live=1, cancel_queued=2, cancel_live=1,
             missing=3, receive=9)
ROUNDS = [FIRST, LATER, LATER, LATER, LATER]


@dataclass
class Usage:
    after: int            # transfers so far
    threads: int          # threading.active_count()
    tasks: int            # /proc/self/task: OS threads (any thread a C library started too)
    fds: int
    sockets: int
    names: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        return (f"after {self.after:3d} transfers: {self.threads} threads ({self.tasks} OS), {self.fds} fds, "
                f"{self.sockets} sockets")


def usage(after: int) -> Usage:
    fds = sockets = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # the listing's own fd, closed meanwhile
            continue
        fds += 1
        sockets += target.startswith("socket:")
    names = Counter(re.sub(r"[-_][0-9a-f]{8}\b.*", "-*", t.name) for t in threading.enumerate())
    return Usage(after, threading.active_count(), len(os.listdir("/proc/self/task")), fds, sockets, names)


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())


def states(engine: TransferEngine, ids: Iterable[str]) -> dict[str, TransferSnapshot]:
    wanted = set(ids)
    return {snap.id: snap for snap in engine.snapshots() if snap.id in wanted}


def wait_states(engine: TransferEngine, ids: Sequence[str], accepted: Sequence[TransferState],
                deadline: Deadline, what: str) -> dict[str, TransferSnapshot]:
    """Wait until every transfer in ``ids`` is in one of ``accepted``; fail at once on an unexpected final
    state, after STANDSTILL_S without any state or byte count changing (stuck), and at the deadline."""
    last_seen: list[tuple[str, str, int, int]] = []
    last_change = time.monotonic()

    def reached() -> bool:
        nonlocal last_seen, last_change
        snaps = states(engine, ids)
        wrong = [s for s in snaps.values()
                 if (s.state.is_final or s.state is TransferState.FAILED) and s.state not in accepted]
        if wrong:
            raise AssertionError(f"{what}: {[(s.name, s.state.value, s.error) for s in wrong[:5]]}")
        if len(snaps) == len(ids) and all(s.state in accepted for s in snaps.values()):
            return True
        moved = sorted((s.id, s.state.value, s.bytes_done, s.bytes_confirmed) for s in snaps.values())
        if moved != last_seen:
            last_seen, last_change = moved, time.monotonic()
        elif time.monotonic() - last_change > STANDSTILL_S:
            census = Counter(s.state.value for s in snaps.values())
            raise AssertionError(f"{what}: nothing moved for {STANDSTILL_S:.0f} s; {dict(census)}")
        return False

    try:
        wait_for(reached, deadline.left(), what)
    except AssertionError as error:
        if "timed out" not in str(error):
            raise
        census = Counter(s.state.value for s in states(engine, ids).values())
        raise AssertionError(f"{what}: not reached {DEADLINE_S:.0f} s into the run; {dict(census)}") from None
    return states(engine, ids)


def wait_idle(deadline: Deadline) -> None:
    """No job thread left (they end just after the journal shows the final state)."""
    jobs = ("transfer-", "part-", "range-")
    wait_for(lambda: not [t for t in threading.enumerate() if t.name.startswith(jobs)], 10.0,
             "the job threads to end")


def missing_link(server_url: str) -> str:
    key_text = crypto.encode_key(crypto.generate_key())
    return share_link_for(server_url, secrets.token_hex(6), key_text).combined()


class LongRun:
    def __init__(self, engine: TransferEngine, server: ServerProc, base: Path, deadline: Deadline) -> None:
        self.engine = engine
        self.server = server
        self.base = base
        self.deadline = deadline
        self.rng = random.Random(8)
        self.count = 0
        self.outcomes: Counter[str] = Counter()

    def files(self, folder: Path, prefix: str, sizes: Iterable[int]) -> list[Path]:
        made = []
        for size in sizes:
            self.count += 1
            made.append(make_file(folder / f"{prefix}-{self.count:03d}.bin", size, seed=self.count))
        return made

    def small_sizes(self, count: int) -> list[int]:
        return [int(KiB * (1536 ** self.rng.random())) for _ in range(count)]  # log-uniform 1 KiB – 1.5 MiB

    def round(self, number: int, plan: Plan) -> None:
        engine, deadline = self.engine, self.deadline
        folder = self.base / f"round-{number}"
        got_dir = folder / "got"
        folder.mkdir(parents=True)

        # 1. mid-upload pause and cancel, under a bandwidth limit so that there is a "mid"
        engine.set_limits(upload_limit_bps=LIVE_LIMIT_BPS)
        live_files = self.files(folder, "live", [LIVE_SIZE] * (plan.pause_live + plan.cancel_live))
        live_ids = engine.send(live_files)
        pause_live, cancel_live = live_ids[:plan.pause_live], live_ids[plan.pause_live:]

        def mid_upload() -> bool:
            snaps = states(engine, live_ids)
            ended = [(s.name, s.state.value, s.error) for s in snaps.values()
                     if s.state.is_final or s.state is TransferState.FAILED]
            assert not ended, f"round {number}: live sends ended before they could be stopped: {ended}"
            return all(s.state is TransferState.UPLOADING and 0 < s.bytes_done < s.size
                       # the pause comes once the server confirmed a part: something to resume from
                       and (s.bytes_confirmed > 0 or s.id in cancel_live) for s in snaps.values())

        try:
            wait_for(mid_upload, min(60.0, deadline.left()), "the live sends to be mid-upload")
        except AssertionError as error:
            now = [(s.state.value, s.bytes_done, s.bytes_confirmed, s.size)
                   for s in states(engine, live_ids).values()]
            raise AssertionError(f"{error}; now (state, sent, confirmed, size): {now}") from None
        for local_id in pause_live:
            engine.pause(local_id)
        for local_id in cancel_live:
            engine.cancel(local_id)
        paused_at = {i: s.bytes_done for i, s in wait_states(engine, pause_live, [TransferState.PAUSED],
                                                               deadline, "live pauses").items()}
        assert all(0 < done < LIVE_SIZE for done in paused_at.values()), paused_at
        wait_states(engine, cancel_live, [TransferState.CANCELLED], deadline, "live cancels")
        engine.set_limits(upload_limit_bps=None)

        # 2. the bulk, then sends paused / cancelled while still queued behind it, and links to nothing
        small = self.files(folder, "small", self.small_sizes(plan.small))
        multipart = self.files(folder, "multi", [self.rng.randrange(6 * MiB, 11 * MiB)
                                                 for _ in range(plan.multipart)])
        bulk_ids = engine.send(small + multipart)
        queued_files = self.files(folder, "queued", self.small_sizes(plan.pause_queued + plan.cancel_queued))
        queued_ids = engine.send(queued_files)
        pause_queued, cancel_queued = queued_ids[:plan.pause_queued], queued_ids[plan.pause_queued:]
        for local_id in pause_queued:
            engine.pause(local_id)
        for local_id in cancel_queued:
            engine.cancel(local_id)
        missing_ids = [engine.receive(missing_link(self.server.url), dest_dir=got_dir)
                       for _ in range(plan.missing)]

        wait_states(engine, bulk_ids, [TransferState.DONE], deadline, f"round {number}: the bulk sends")
        failed = wait_states(engine, missing_ids, [TransferState.FAILED], deadline,
                             f"round {number}: receives of unknown ids")
        for snap in failed.values():
            assert snap.error and "no transfer" in snap.error.lower(), snap.error
        wait_states(engine, cancel_queued, [TransferState.CANCELLED], deadline,
                    f"round {number}: queued cancels")
        paused = wait_states(engine, pause_live + pause_queued, [TransferState.PAUSED], deadline,
                             f"round {number}: pauses")
        for local_id, done in paused_at.items():  # no bytes moved while paused
            assert paused[local_id].bytes_done == done, (paused[local_id].bytes_done, done)

        # 3. resume the paused ones
        for local_id in pause_live + pause_queued:
            engine.resume(local_id)
        wait_states(engine, pause_live + pause_queued, [TransferState.DONE], deadline,
                    f"round {number}: resumed sends")

        # 4. receive some of this round's sends (the multipart and resumed ones first)
        sent_paths = dict(zip(live_ids + bulk_ids + queued_ids, live_files + small + multipart + queued_files,
                              strict=True))
        order = bulk_ids[plan.small:] + pause_live + pause_queued + bulk_ids[:plan.small]
        chosen = order[:plan.receive]
        snaps = states(engine, chosen)
        receive_ids = {}
        for local_id in chosen:
            link = snaps[local_id].share_link
            assert link, snaps[local_id]
            receive_ids[engine.receive(link, dest_dir=got_dir)] = sent_paths[local_id]
        got = wait_states(engine, list(receive_ids), [TransferState.DONE], deadline,
                          f"round {number}: receives")
        for local_id, source in receive_ids.items():
            saved = got[local_id].saved_path
            assert saved and Path(saved).name == source.name
            assert sha256(Path(saved)) == sha256(source), f"{source.name} came back different"

        everything = live_ids + bulk_ids + queued_ids + missing_ids + list(receive_ids)
        assert len(everything) == plan.total
        self.outcomes.update(s.state.value for s in states(engine, everything).values())
        wait_idle(deadline)


@pytest.mark.slow
def test_two_hundred_transfers_in_one_engine_leave_no_threads_fds_or_sockets_behind(
        disk_server: ServerProc, tmp_path: Path, make_engine: Callable[..., TransferEngine]) -> None:
    deadline = Deadline(DEADLINE_S)
    baseline = usage(0)
    engine = make_engine(disk_server.url)
    run = LongRun(engine, disk_server, tmp_path / "files", deadline)
    measured: list[Usage] = []
    done = 0
    started = time.monotonic()
    try:
        for number, plan in enumerate(ROUNDS, 1):
            run.round(number, plan)
            done += plan.total
            measured.append(usage(done))
    finally:
        print(f"\nlong run: {done} transfers in {time.monotonic() - started:.0f} s; {dict(run.outcomes)}")
        print(f"baseline (before the engine): {baseline.line()[len('after   0 transfers: '):]}")
        for point in measured:
            print(point.line())
        if measured:
            print("threads at the end:", dict(measured[-1].names))

    assert done == sum(plan.total for plan in ROUNDS) == 200
    assert run.outcomes == Counter(
        done=sum(p.small + p.multipart + p.pause_queued + p.pause_live + p.receive for p in ROUNDS),
        cancelled=sum(p.cancel_queued + p.cancel_live for p in ROUNDS),
        failed=sum(p.missing for p in ROUNDS),
    )
    first, last = measured[0], measured[-1]
    assert first.after == 20
    # an idle engine: its SSE watchers (≤ MAX_WATCHERS), the scheduler, the download poller
    assert last.threads <= baseline.threads + IDLE_THREADS + THREAD_SLACK, last.names
    assert last.tasks <= baseline.tasks + IDLE_THREADS + THREAD_SLACK, last.names
    assert last.threads <= first.threads + THREAD_SLACK, (first.names, last.names)
    # no growth with the number of transfers: 180 more transfers, a handful more fds at most
    assert last.fds <= first.fds + FD_GROWTH, (first.line(), last.line())
    assert last.sockets <= first.sockets + SOCKET_GROWTH, (first.line(), last.line())
    assert max(point.sockets for point in measured) <= first.sockets + SOCKET_GROWTH
