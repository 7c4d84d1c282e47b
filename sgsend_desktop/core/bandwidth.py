"""A token bucket shared by the worker threads of one direction (upload or download)."""

from __future__ import annotations

import threading
import time

MIN_SLICE = 64 * 1024      # a slow limit still moves smoothly (100 KB/s: a slice every 0.65 s)
MAX_SLICE = 1024 * 1024    # what an unlimited transfer moves per step
SLICES_PER_SECOND = 20


class BandwidthLimiter:
    """Blocks callers so that, together, they move at most ``rate`` bytes per second.

    ``rate=None`` means unlimited. The bucket holds up to a quarter second of tokens so bursts stay small.
    """

    def __init__(self, rate: int | None = None) -> None:
        self._lock = threading.Lock()
        self._rate: int | None = None
        self._tokens = 0.0
        self._stamp = time.monotonic()
        self.set_rate(rate)

    @property
    def rate(self) -> int | None:
        return self._rate

    def set_rate(self, rate: int | None) -> None:
        with self._lock:
            self._rate = rate if rate and rate > 0 else None
            self._tokens = 0.0
            self._stamp = time.monotonic()

    def slice_size(self) -> int:
        """How much a worker moves between two calls to ``consume``: a twentieth of a second at the rate.
        (Fixed 64 KiB slices made a fast limited transfer take sixteen times as many trips through the
        HTTP client, the lock and a sleep as an unlimited one.)"""
        rate = self._rate
        if rate is None:
            return MAX_SLICE
        return max(MIN_SLICE, min(MAX_SLICE, rate // SLICES_PER_SECOND))

    def _capacity(self, rate: int) -> float:
        return max(rate / 4.0, 1.0)

    def consume(self, amount: int, stop: threading.Event | None = None) -> None:
        """Take ``amount`` bytes' worth of tokens, sleeping until the bucket has paid for them.

        A caller reserves its piece at once, even into debt, and then waits for the debt to clear: so
        callers are served in the order they came. (Waiting for the bucket to hold the whole piece
        starved a large piece forever while others kept taking small ones: a small direct upload stood
        at 0 % beside a big multipart one.)"""
        while amount > 0:
            with self._lock:
                rate = self._rate
                if rate is None:
                    return
                now = time.monotonic()
                self._tokens = min(self._capacity(rate), self._tokens + (now - self._stamp) * rate)
                self._stamp = now
                take = min(float(amount), self._capacity(rate))
                self._tokens -= take
                amount -= int(take)
                wait = -self._tokens / rate if self._tokens < 0 else 0.0
            if wait <= 0:
                continue
            if stop is not None:
                if stop.wait(wait):
                    return
            else:
                time.sleep(wait)
