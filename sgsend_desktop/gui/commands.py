"""The engine commands the window, the tray and the notifications give, as one typed object.

Every call runs on the BackgroundRunner's command thread (never on the GUI thread), one after the other
in the order given; calls made before the engine is up wait for it. Results and errors come back on the
GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

from sgsend_desktop.core.model import TransferOptions, TransferSnapshot, TransferState
from sgsend_desktop.gui.backend import Backend, EngineFacade
from sgsend_desktop.gui.background import BackgroundRunner

T = TypeVar("T")
OnResult = Callable[[Any], None] | None
OnError = Callable[[BaseException], None] | None


class TransferCommands(QObject):
    """``backend`` is None until the engine started; commands given before wait for it."""

    backend_attached = Signal()

    def __init__(self, runner: BackgroundRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.backend: Backend | None = None
        self._waiting: list[Callable[[Backend], None]] = []

    # --- plumbing ----------------------------------------------------------------------------------
    def attach(self, backend: Backend) -> None:
        self.backend = backend
        waiting, self._waiting = self._waiting, []
        for call in waiting:
            call(backend)
        self.backend_attached.emit()

    def when_ready(self, call: Callable[[Backend], None]) -> None:
        if self.backend is not None:
            call(self.backend)
        else:
            self._waiting.append(call)

    def run(
        self, call: Callable[[EngineFacade], Any], on_result: OnResult = None, on_error: OnError = None
    ) -> None:
        """Run ``call(engine)`` off the GUI thread (once the engine is there)."""

        def start(backend: Backend) -> None:
            self.runner.run(lambda: call(backend.engine), on_result, on_error, serial=True)

        self.when_ready(start)

    def _each(
        self, method: Callable[[EngineFacade, str], None], ids: Sequence[str], on_done: OnResult = None
    ) -> None:
        targets = list(ids)
        if not targets:
            return

        def each(engine: EngineFacade) -> None:
            for local_id in targets:
                method(engine, local_id)

        self.run(each, on_done)

    # --- queue commands ----------------------------------------------------------------------------
    def pause(self, ids: Sequence[str]) -> None:
        self._each(lambda engine, i: engine.pause(i), ids)

    def resume(self, ids: Sequence[str]) -> None:
        self._each(lambda engine, i: engine.resume(i), ids)

    def cancel(self, ids: Sequence[str]) -> None:
        self._each(lambda engine, i: engine.cancel(i), ids)

    def discard(self, ids: Sequence[str], on_done: OnResult = None) -> None:
        targets = list(ids)
        if targets:
            self.run(lambda engine: engine.discard_many(targets), on_done)

    def retry(self, snapshots: Sequence[TransferSnapshot], on_result: OnResult = None) -> None:
        """A failed transfer resumes where it stopped; a cancelled one starts again from the beginning
        (a new transfer in its place); one waiting for an unreachable server tries it now (every such
        wait does: they share the server). ``on_result`` gets the ids now in the queue for them."""
        targets = [(s.id, s.state, s.reconnecting) for s in snapshots]

        def retry(engine: EngineFacade) -> list[str]:
            ids = []
            for local_id, state, reconnecting in targets:
                if reconnecting:
                    continue
                if state is TransferState.CANCELLED:
                    ids.append(engine.send_again(local_id))
                else:
                    engine.resume(local_id)
                    ids.append(local_id)
            if any(reconnecting for _, _, reconnecting in targets):
                engine.reconnect_now()
                ids += [local_id for local_id, _, reconnecting in targets if reconnecting]
            return ids

        if targets:
            self.run(retry, on_result)

    def toggle(self, snapshot: TransferSnapshot) -> None:
        from sgsend_desktop.gui.rules import can_pause

        (self.pause if can_pause(snapshot) else self.resume)([snapshot.id])

    def pause_all(self) -> None:
        self.run(lambda engine: engine.pause_all())

    def resume_all(self) -> None:
        self.run(lambda engine: engine.resume_all())

    def clear_finished(self, on_result: OnResult = None) -> None:
        self.run(lambda engine: engine.archive_finished(), on_result)

    def move(
        self, local_id: str, new_index: int, on_result: Callable[[list[TransferSnapshot]], None]
    ) -> None:
        """Move, then hand the engine's new order to ``on_result``."""

        def move(engine: EngineFacade) -> list[TransferSnapshot]:
            engine.move(local_id, new_index)
            return engine.snapshots()

        self.run(move, on_result)

    def delete_remote(self, ids: Sequence[str], on_result: OnResult = None, on_error: OnError = None) -> None:
        targets = list(ids)

        def delete(engine: EngineFacade) -> list[str]:
            for local_id in targets:
                engine.delete_remote(local_id)
            return targets

        if targets:
            self.run(delete, on_result, on_error)

    # --- new transfers -----------------------------------------------------------------------------
    def send(
        self,
        paths: Sequence[Path],
        options: TransferOptions,
        together: bool = False,
        on_result: OnResult = None,
        on_error: OnError = None,
    ) -> None:
        """One transfer (one link) per path, or with ``together`` one for all of them (one zip).
        ``on_result`` gets the new local ids."""
        items = list(paths)
        if not items:
            return

        def send(engine: EngineFacade) -> list[str]:
            if together and len(items) > 1:
                return [engine.send_together(items, options)]
            return engine.send(items, options)

        self.run(send, on_result, on_error)

    def receive(
        self, link: str, key: str | None, dest: Path, on_result: OnResult = None, on_error: OnError = None
    ) -> None:
        self.run(lambda engine: engine.receive(link, key=key, dest_dir=dest), on_result, on_error)

    def snapshots(self, on_result: Callable[[list[TransferSnapshot]], None]) -> None:
        self.run(lambda engine: engine.snapshots(), on_result)
