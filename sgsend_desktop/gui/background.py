"""Runs blocking calls (HTTP, SQL, file hashing, engine close) off the GUI thread.

Results come back as a queued signal, so callbacks always run on the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

log = logging.getLogger(__name__)

ResultCallback = Callable[[Any], None]
ErrorCallback = Callable[[BaseException], None]


class BackgroundRunner(QObject):
    """A small thread pool whose completions are delivered on the GUI thread."""

    _finished = Signal(object, object, object)  # (callback, result, error)
    error = Signal(str)  # errors without their own handler, one sentence

    def __init__(self, workers: int = 3, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sgsend-gui-bg")
        # commands given in order run in that order (pause, then resume; queued before the engine...)
        self._serial = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sgsend-gui-cmd")
        self._pending = 0
        self._finished.connect(self._deliver)

    @property
    def pending(self) -> int:
        return self._pending

    def run(
        self,
        function: Callable[[], Any],
        on_result: ResultCallback | None = None,
        on_error: ErrorCallback | None = None,
        serial: bool = False,
    ) -> Future[Any]:
        """``serial``: on the one command thread, after every serial call given before."""
        self._pending += 1

        def call() -> Any:
            try:
                result = function()
            except BaseException as error:  # delivered to the GUI thread, never swallowed
                self._finished.emit((on_result, on_error), None, error)
                raise
            self._finished.emit((on_result, on_error), result, None)
            return result

        return (self._serial if serial else self._pool).submit(call)

    @Slot(object, object, object)
    def _deliver(
        self,
        callbacks: tuple[ResultCallback | None, ErrorCallback | None],
        result: Any,
        error: BaseException | None,
    ) -> None:
        self._pending -= 1
        on_result, on_error = callbacks
        if error is not None:
            if on_error is not None:
                on_error(error)
            else:
                log.warning("background task failed: %s", error)
                self.error.emit(str(error) or type(error).__name__)
        elif on_result is not None:
            on_result(result)

    def shutdown(self, wait: bool = True) -> None:
        self._serial.shutdown(wait=wait, cancel_futures=not wait)
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
