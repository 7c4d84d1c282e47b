"""Capped exponential backoff with full jitter for TransientError; outages are waited out, not counted."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from sgsend_desktop.core.errors import CancelledError, TransientError, UnreachableError

if TYPE_CHECKING:
    from sgsend_desktop.core.reconnect import OfflineGates, ReconnectWatch

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8          # total tries, the first included
    base_delay: float = 0.25       # seconds
    max_delay: float = 15.0        # cap of one wait
    # while a host cannot be reached (UnreachableError): probes at ~1, 2, 4, 8 s, then every 15 s for
    # the first 10 minutes (a server restart or a Wi-Fi hiccup is over within a few seconds of its end),
    # then every 2 min (a laptop offline for the evening does not wake up every 15 s)
    reconnect_base_delay: float = 1.0
    reconnect_early_max_delay: float = 15.0
    reconnect_early_span: float = 600.0
    reconnect_max_delay: float = 120.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)] (attempt counts from 0)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** min(attempt, 30)))
        return (rng or random).uniform(0.0, ceiling)

    def reconnect_delay(self, failures: int, rng: random.Random | None = None,
                        outage: float = 0.0) -> float:
        """Wait before the next reachability probe after ``failures`` failed ones (0: the first probe),
        ``outage`` seconds into the outage: ``min(cap, base * 2**failures)``, the cap being
        ``reconnect_early_max_delay`` (at most ``reconnect_max_delay``) during the first
        ``reconnect_early_span`` seconds and ``reconnect_max_delay`` after, minus up to a quarter of
        jitter (so the countdown a user sees stays close to the doubling, and many clients of one
        server do not probe in step)."""
        cap = self.reconnect_max_delay
        if outage < self.reconnect_early_span:
            cap = min(cap, self.reconnect_early_max_delay)
        ceiling = min(cap, self.reconnect_base_delay * 2.0 ** min(failures, 30))
        return float(ceiling * (rng or random).uniform(0.75, 1.0))


def call_with_retry(
    operation: Callable[[], T],
    policy: RetryPolicy,
    stop: threading.Event | None = None,
    on_retry: Callable[[int, TransientError], None] | None = None,
    what: str = "request",
    *,
    gates: OfflineGates | None = None,
    watch: ReconnectWatch | None = None,
    abort: threading.Event | None = None,
) -> T:
    """Run ``operation``; on TransientError wait and try again, up to ``policy.max_attempts`` tries.

    ``on_retry(attempt, error)`` is called before each wait (to count retries in the journal).
    A set ``stop`` (or ``abort``) event ends the waiting with CancelledError. Other errors propagate.

    With ``gates``, an UnreachableError is not counted: the call waits at the host's offline gate
    (one probe for every waiter, growing delays, no limit; ``watch`` shows the wait in the job's
    snapshot) and tries again once the host answers; the outage also ends a streak of counted failures.
    Without ``gates`` it is counted like any TransientError.
    """
    attempt = 0

    def stopped() -> bool:
        return (stop is not None and stop.is_set()) or (abort is not None and abort.is_set())

    while True:
        started = time.monotonic()
        try:
            return operation()
        except TransientError as error:
            if gates is not None and isinstance(error, UnreachableError):
                gates.gate(error.origin).wait(error, started, stopped, watch, what)
                attempt = 0
                continue
            attempt += 1
            if attempt >= policy.max_attempts:
                raise TransientError(f"{error} (gave up after {attempt} attempts)") from error
            if on_retry is not None:
                on_retry(attempt, error)
            wait = policy.delay(attempt - 1)
            log.info("%s failed (%s); retry %d in %.2fs", what, error, attempt, wait)
            if stop is None and abort is None:
                threading.Event().wait(wait)
                continue
            deadline = time.monotonic() + wait
            while True:
                left = deadline - time.monotonic()
                if stopped():
                    raise CancelledError("stopped while waiting to retry") from error
                if left <= 0:
                    break
                if stop is not None:
                    stop.wait(min(left, 0.1) if abort is not None else left)
                else:
                    threading.Event().wait(min(left, 0.1))
