"""Per-transfer progress counters, speed (moving average) and ETA; updated by worker threads."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class ProgressView:
    total: int
    encrypted: int
    sent: int
    confirmed: int
    speed_bps: float
    eta_seconds: float | None


class TransferProgress:
    """Bytes encrypted / sent (or received) / confirmed by the server, with a 5-second speed window."""

    WINDOW = 5.0

    def __init__(self, total: int = 0) -> None:
        self._lock = threading.Lock()
        self.total = total
        self._encrypted = 0
        self._sent = 0
        self._confirmed = 0
        self._samples: deque[tuple[float, int]] = deque()

    def reset(self, total: int, sent: int = 0, confirmed: int = 0) -> None:
        with self._lock:
            self.total = total
            self._encrypted = 0
            self._sent = sent
            self._confirmed = confirmed
            self._samples.clear()

    def add_encrypted(self, count: int) -> None:
        with self._lock:
            self._encrypted += count

    def add_sent(self, count: int) -> None:
        """``count`` may be negative (a failed part's bytes are taken back)."""
        with self._lock:
            self._sent = max(0, self._sent + count)
            if count > 0:
                self._samples.append((time.monotonic(), count))

    def set_confirmed(self, count: int) -> None:
        with self._lock:
            self._confirmed = max(self._confirmed, count)

    def add_confirmed(self, count: int) -> None:
        with self._lock:
            self._confirmed += count

    def view(self) -> ProgressView:
        now = time.monotonic()
        with self._lock:
            while self._samples and now - self._samples[0][0] > self.WINDOW:
                self._samples.popleft()
            moved = sum(n for _, n in self._samples)
            span = max(now - self._samples[0][0], 0.5) if self._samples else self.WINDOW
            speed = moved / span if moved else 0.0
            remaining = max(0, self.total - self._sent)
            eta = remaining / speed if speed > 0 else None
            return ProgressView(self.total, self._encrypted, self._sent, self._confirmed, speed, eta)
