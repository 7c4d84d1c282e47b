"""Capped exponential backoff with full jitter, for TransientError only."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sgsend_desktop.core.errors import CancelledError, TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8          # total tries, the first included
    base_delay: float = 0.25       # seconds
    max_delay: float = 15.0        # cap of one wait

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**attempt)] (attempt counts from 0)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** min(attempt, 30)))
        return (rng or random).uniform(0.0, ceiling)


def call_with_retry(
    operation: Callable[[], T],
    policy: RetryPolicy,
    stop: threading.Event | None = None,
    on_retry: Callable[[int, TransientError], None] | None = None,
    what: str = "request",
) -> T:
    """Run ``operation``; on TransientError wait and try again, up to ``policy.max_attempts`` tries.

    ``on_retry(attempt, error)`` is called before each wait (to count retries in the journal).
    A set ``stop`` event ends the waiting with CancelledError. Other errors propagate at once.
    """
    attempt = 0
    while True:
        try:
            return operation()
        except TransientError as error:
            attempt += 1
            if attempt >= policy.max_attempts:
                raise TransientError(f"{error} (gave up after {attempt} attempts)") from error
            if on_retry is not None:
                on_retry(attempt, error)
            wait = policy.delay(attempt - 1)
            log.info("%s failed (%s); retry %d in %.2fs", what, error, attempt, wait)
            if stop is not None:
                if stop.wait(wait):
                    raise CancelledError("stopped while waiting to retry") from error
            else:
                threading.Event().wait(wait)
