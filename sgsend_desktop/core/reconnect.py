"""Offline gates: how the jobs of one engine wait out a host that cannot be reached.

A request that cannot even open a connection raises UnreachableError (refused, name not found, connect
timeout, network down; ``core/api.py``). ``call_with_retry`` then waits at the *gate* of that host
(``scheme://host:port``: the API server, or the storage behind presigned URLs), one gate per engine and
host, shared by every part worker of every transfer. The first failure closes the gate and starts its
probe thread, which alone checks the host (``api.probe_origin``: a HEAD; any HTTP answer counts) at
growing delays (``RetryPolicy.reconnect_delay``: about 1, 2, 4, 8 s, then every 15 s for 10 minutes,
then every 2 min) — N workers of M transfers make one probe, not N×M retries. When a probe gets
through, the gate opens and every waiter tries its own request again at once. ``probe_now`` brings the
next probe forward: the user asked (*Try now*), or another connection to the host (an event stream)
just opened, so nobody sits out a backoff while the server is back.

Waiters poll their stop flags every 0.1 s, so pause, cancel and shutdown end the wait at once; when the
last waiter has gone, the probe thread ends and the gate forgets the outage. Waiting is not counted
against the retry limit and is not journaled: a transfer stays uploading/downloading while it waits, so a
relaunch resumes it as usual.

A job's ``ReconnectWatch`` knows the gates its threads wait at; the engine copies the soonest probe time
and its reason into the job's snapshot (``reconnect_at``, ``reconnect_reason``), and the watch asks for a
``changed`` event when the wait starts, when a probe fails (new time), and when it ends.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

from sgsend_desktop.core.api import probe_origin
from sgsend_desktop.core.errors import CancelledError, UnreachableError
from sgsend_desktop.core.retry import RetryPolicy

log = logging.getLogger(__name__)
Probe = Callable[[str], str | None]   # origin → None when it answers, else why not (one sentence)
POLL = 0.1           # how often a waiter looks at its stop flags
RECENT = 30.0        # a host failing again this soon after it came back keeps its backoff


class ReconnectWatch:
    """Which offline gates the threads of one job wait at (read by the engine for the snapshot)."""

    def __init__(self, on_change: Callable[[], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._gates: dict[OfflineGate, int] = {}
        self.on_change = on_change

    def state(self) -> tuple[float, str] | None:
        """(epoch seconds of the soonest next probe, why the host cannot be reached), or None."""
        with self._lock:
            gates = list(self._gates)
        found = [s for s in (gate.schedule() for gate in gates) if s is not None]
        return min(found) if found else None

    def attach(self, gate: OfflineGate) -> None:
        with self._lock:
            first = not self._gates
            self._gates[gate] = self._gates.get(gate, 0) + 1
        if first:
            self.notify()

    def detach(self, gate: OfflineGate) -> None:
        with self._lock:
            left = self._gates.get(gate, 0) - 1
            if left > 0:
                self._gates[gate] = left
            else:
                self._gates.pop(gate, None)
            last = not self._gates
        if last:
            self.notify()

    def notify(self) -> None:
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:
                log.exception("reconnect change listener failed")


class OfflineGate:
    """One host's reachability: open, or closed while its probe thread waits for it to answer."""

    def __init__(self, origin: str, policy: RetryPolicy, probe: Probe) -> None:
        self.origin = origin
        self._policy = policy
        self._probe = probe
        self._cond = threading.Condition()
        self._offline = False
        self._reason = ""
        self._failures = 0            # failed probes in this outage
        self._next = 0.0              # monotonic time of the next probe
        self._next_wall = 0.0         # the same in epoch seconds (snapshots)
        self._since = 0.0             # monotonic start of the outage
        self._reopened = -math.inf    # monotonic time the gate last opened after a probe got through
        self._waiters = 0
        self._watches: dict[ReconnectWatch, int] = {}
        self.probes = 0               # probes made (tests, logs)

    @property
    def offline(self) -> bool:
        with self._cond:
            return self._offline

    def schedule(self) -> tuple[float, str] | None:
        """(epoch seconds of the next probe, reason) while the host is unreachable, else None."""
        with self._cond:
            return (self._next_wall, self._reason) if self._offline else None

    def probe_now(self) -> bool:
        """Probe at once instead of at the planned time; False when the host is not being waited for."""
        with self._cond:
            if not self._offline:
                return False
            if self._next > time.monotonic():
                self._next = time.monotonic()
                self._next_wall = time.time()
            self._cond.notify_all()
            watches = list(self._watches)
        for watch in watches:  # the countdown now reads "now"
            watch.notify()
        return True

    def wait(self, error: UnreachableError, started: float, stopped: Callable[[], bool],
             watch: ReconnectWatch | None, what: str = "request") -> None:
        """Block until the host answers a probe again (return: try the request again) or ``stopped()``
        (CancelledError). ``started``: the monotonic time the failed request began — one that began
        before the gate last opened is simply tried again."""
        with self._cond:
            if not self._offline:
                if started < self._reopened:
                    return
                self._close(error, what)
            self._waiters += 1
            if watch is not None:
                self._watches[watch] = self._watches.get(watch, 0) + 1
        if watch is not None:
            watch.attach(self)
        try:
            with self._cond:
                while self._offline:
                    if stopped():
                        raise CancelledError("stopped while waiting to reconnect")
                    self._cond.wait(POLL)
        finally:
            with self._cond:
                self._waiters -= 1
                if watch is not None:
                    left = self._watches.get(watch, 0) - 1
                    if left > 0:
                        self._watches[watch] = left
                    else:
                        self._watches.pop(watch, None)
                self._cond.notify_all()
            if watch is not None:
                watch.detach(self)

    # under self._cond -------------------------------------------------------------------------------
    def _close(self, error: UnreachableError, what: str) -> None:
        now = time.monotonic()
        self._failures = self._failures + 1 if now - self._reopened < RECENT else 0
        self._offline = True
        self._since = now
        self._reason = str(error)
        delay = self._plan(now)
        log.info("%s (%s): reconnecting, next try in %.1f s", self._reason, what, delay)
        threading.Thread(target=self._run, name=f"reconnect-{self.origin}", daemon=True).start()

    def _plan(self, now: float) -> float:
        delay = self._policy.reconnect_delay(self._failures, outage=now - self._since)
        self._next = now + delay
        self._next_wall = time.time() + delay
        return delay

    # the probe thread -------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._waiters == 0:  # every waiter was paused or cancelled: forget the outage
                        self._offline = False
                        self._cond.notify_all()
                        log.info("%s: nobody waits any more; stopped probing", self.origin)
                        return
                    left = self._next - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(min(left, 1.0))
            reason = self._safe_probe()
            with self._cond:
                self.probes += 1
                if reason is None:
                    self._offline = False
                    self._reopened = time.monotonic()
                    self._cond.notify_all()
                    log.info("%s answers again after %.0f s: resuming", self.origin,
                                self._reopened - self._since)
                    return  # the waiters leave the gate (and their watches report the change)
                self._failures += 1
                self._reason = reason
                delay = self._plan(time.monotonic())
                watches = list(self._watches)
            log.info("%s: still unreachable; next try in %.1f s", reason, delay)
            for watch in watches:
                watch.notify()

    def _safe_probe(self) -> str | None:
        try:
            return self._probe(self.origin)
        except Exception:
            log.exception("probing %s failed", self.origin)
            return self._reason


class OfflineGates:
    """The offline gates of one engine, one per host (``scheme://host:port``)."""

    def __init__(self, policy: RetryPolicy | None = None, probe: Probe | None = None) -> None:
        self._policy = policy or RetryPolicy()
        self._probe = probe or probe_origin
        self._lock = threading.Lock()
        self._gates: dict[str, OfflineGate] = {}

    def gate(self, origin: str) -> OfflineGate:
        with self._lock:
            found = self._gates.get(origin)
            if found is None:
                found = self._gates[origin] = OfflineGate(origin, self._policy, self._probe)
            return found

    def probe_now(self, origin: str | None = None) -> int:
        """Bring the next probe of ``origin`` (every host when None) forward; how many gates were
        waiting."""
        with self._lock:
            gates = [g for o, g in self._gates.items() if origin is None or o == origin]
        return sum(gate.probe_now() for gate in gates)
