"""The engine's scheduler thread (``sgsend-scheduler``), out of ``core/engine.py``.

Every TICK (0.1 s) it starts queued transfers (in queue order, at most ``max_active_transfers`` at once,
each on its own job thread) and publishes coalesced ``progress`` events (≤ 10/s per transfer, only when
the counters moved; once a second while a transfer waits to reconnect, so the views count down); every
POLL_EVERY (0.5 s) it polls the journal for pause/cancel requests written by another process
(`sgsend pause ID`). It works on its engine's state under the engine's lock.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from sgsend_desktop.core.jobs import JobContext, JobControl
from sgsend_desktop.core.progress import TransferProgress

if TYPE_CHECKING:
    from sgsend_desktop.core.engine import TransferEngine

log = logging.getLogger(__name__)
TICK = 0.1            # progress publication period (≤ 10 events/s per transfer)
POLL_EVERY = 0.5      # journal polling for requests from other processes


class Running:
    """A transfer that has a job thread: its stop flag, its progress counters, its job's context."""

    def __init__(self, control: JobControl, progress: TransferProgress) -> None:
        self.control = control
        self.progress = progress
        self.thread: threading.Thread | None = None
        self.context: JobContext | None = None  # set when the job thread starts
        self.last_published: tuple[int, ...] | None = None


class Scheduler:
    def __init__(self, engine: TransferEngine) -> None:
        self._engine = engine
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="sgsend-scheduler", daemon=True)
            self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        engine = self._engine
        last_poll = 0.0
        while True:
            with engine._lock:
                if engine._closed:
                    return
                engine._wake.wait(TICK)
                if engine._closed:
                    return
            try:
                now = time.monotonic()
                if now - last_poll >= POLL_EVERY:
                    last_poll = now
                    self._poll_requests()
                self._start_queued()
                self._publish_progress()
            except Exception:
                log.exception("scheduler step failed")

    def _poll_requests(self) -> None:
        engine = self._engine
        for row in engine.journal.requested():
            if row.requested and (row.id in engine._running or row.owner_pid == engine._pid):
                engine.journal.request(row.id, None)
                engine._stop(row.id, row.requested)

    def _start_queued(self) -> None:
        engine = self._engine
        with engine._lock:
            if engine._closed:
                return
            free = engine._max_active - len(engine._running)
            if free <= 0:
                return
            for row in engine.journal.queued(engine._pid):
                if free <= 0:
                    break
                if row.id in engine._running:
                    continue
                # what it resumes from shows at once, not "0 B" until the server answers (an outage)
                kept = engine._kept_progress(row)
                progress = TransferProgress(row.payload_size or 0)
                progress.reset(row.payload_size or 0, sent=kept, confirmed=kept)
                job = Running(JobControl(), progress)
                engine._running[row.id] = job
                job.thread = threading.Thread(target=engine._run_job, args=(row.id, job),
                                              name=f"transfer-{row.id}", daemon=True)
                job.thread.start()
                free -= 1

    def _publish_progress(self) -> None:
        engine = self._engine
        for local_id, job in list(engine._running.items()):
            view = job.progress.view()
            waiting = job.context is not None and job.context.reconnect.state() is not None
            # while reconnecting also once a second: the views count down to the next try
            mark = (view.sent, view.confirmed, int(time.time()) if waiting else 0)
            if mark != job.last_published:
                job.last_published = mark
                engine._emit("progress", local_id, {"bytes_encrypted": view.encrypted})
