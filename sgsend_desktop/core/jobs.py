"""What an upload or download job gets from the engine, and how it is told to stop."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sgsend_desktop.core.api import SendApi
from sgsend_desktop.core.bandwidth import BandwidthLimiter
from sgsend_desktop.core.errors import CancelledError, TransientError
from sgsend_desktop.core.events import EventListener
from sgsend_desktop.core.journal import Journal, TransferRow
from sgsend_desktop.core.model import TransferState
from sgsend_desktop.core.progress import TransferProgress
from sgsend_desktop.core.reconnect import OfflineGates, ReconnectWatch
from sgsend_desktop.core.retry import RetryPolicy, call_with_retry
from sgsend_desktop.core.secrets import SecretStore

T = TypeVar("T")


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
    live_events: bool = False                     # the server has an event stream and we subscribed
    events: EventListener | None = None           # that subscription (is it down now?)
    gates: OfflineGates = field(default_factory=OfflineGates)     # the engine's, shared by its jobs
    reconnect: ReconnectWatch = field(default_factory=ReconnectWatch)  # this job's waits at gates

    def __post_init__(self) -> None:
        self.reconnect.on_change = self.changed  # waiting starts / is rescheduled / ends: republish


class JobSteps:
    """What UploadJob and DownloadJob share: journaled state changes, stop checks, counted retries."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.id = ctx.local_id
        # set while part workers run: one failing for good ends every other wait, nested ones included
        self.abort: threading.Event | None = None

    def _state(self, state: TransferState, **values: object) -> TransferRow:
        row = self.ctx.journal.set_state(self.id, state, **values)
        self.ctx.changed()
        return row

    def _check(self) -> None:
        if self.ctx.control.stop.is_set():
            raise CancelledError(self.ctx.control.reason or "stopped")

    def _retry(self, operation: Callable[[], T], what: str,
               on_retry: Callable[[int, TransientError], None] | None = None,
               abort: threading.Event | None = None) -> T:
        """Counted retries of TransientError; an unreachable host is waited out at its offline gate
        (not counted, no limit, shown in the snapshot) until it answers, or until stop/``abort``."""
        def counted(attempt: int, error: TransientError) -> None:
            self.ctx.journal.update(self.id, attempts=self.ctx.journal.get(self.id).attempts + 1)

        ctx = self.ctx
        return call_with_retry(operation, ctx.retry, ctx.control.stop, on_retry or counted, what,
                               gates=ctx.gates, watch=ctx.reconnect, abort=abort or self.abort)
