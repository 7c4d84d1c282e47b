"""What an upload or download job gets from the engine, and how it is told to stop."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sgsend_desktop.core.api import SendApi
from sgsend_desktop.core.bandwidth import BandwidthLimiter
from sgsend_desktop.core.journal import Journal
from sgsend_desktop.core.progress import TransferProgress
from sgsend_desktop.core.retry import RetryPolicy
from sgsend_desktop.core.secrets import SecretStore


class JobControl:
    """A stop flag with a reason: "pause", "cancel" or "shutdown" (shutdown behaves like pause)."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.reason: str | None = None

    def request(self, reason: str) -> None:
        if self.reason != "cancel":  # a cancel is never downgraded to a pause
            self.reason = reason
        self.stop.set()


@dataclass
class JobContext:
    local_id: str
    journal: Journal
    secrets: SecretStore
    api: SendApi
    workers: int
    limiter: BandwidthLimiter
    control: JobControl
    progress: TransferProgress
    changed: Callable[[], None]                   # a journal row changed: republish the snapshot
    temp_dir: object = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    live_events: bool = False
