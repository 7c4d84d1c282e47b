"""Adapts the engine's thread callbacks to Qt signals delivered on the GUI thread.

State changes (added, changed, done, failed, downloaded, removed) are forwarded at once; progress is
coalesced: the latest snapshot per transfer is kept and flushed by a GUI-thread timer, so the view gets
at most ``1000 / interval_ms`` updates a second per row however fast the engine reports.
"""

from __future__ import annotations

import threading
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from sgsend_desktop.core.model import EngineEvent, TransferSnapshot


class Subscribable(Protocol):
    def subscribe(self, listener: object) -> None: ...
    def unsubscribe(self, listener: object) -> None: ...


class EngineBridge(QObject):
    event_received = Signal(object)  # EngineEvent (anything but progress), on the GUI thread
    progress_received = Signal(list)  # list[TransferSnapshot], coalesced, on the GUI thread
    _state_event = Signal(object)

    def __init__(self, interval_ms: int = 100, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._pending: dict[str, TransferSnapshot] = {}
        self._engine: Subscribable | None = None
        self._state_event.connect(self._forward_event)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.flush)
        self._timer.start()
        self.progress_batches = 0

    def attach(self, engine: Subscribable) -> None:
        self.detach()
        self._engine = engine
        engine.subscribe(self.listener)

    def detach(self) -> None:
        if self._engine is not None:
            self._engine.unsubscribe(self.listener)
            self._engine = None

    def listener(self, event: EngineEvent) -> None:
        """Called on engine threads: never touches widgets, only queues."""
        with self._lock:
            if event.kind == "progress":
                self._pending[event.snapshot.id] = event.snapshot
                return
            # A state change supersedes any older progress not yet shown.
            self._pending.pop(event.snapshot.id, None)
        self._state_event.emit(event)

    @Slot(object)
    def _forward_event(self, event: EngineEvent) -> None:
        self.event_received.emit(event)

    @Slot()
    def flush(self) -> None:
        with self._lock:
            if not self._pending:
                return
            batch = list(self._pending.values())
            self._pending.clear()
        self.progress_batches += 1
        self.progress_received.emit(batch)

    def stop(self) -> None:
        self._timer.stop()
        self.detach()
