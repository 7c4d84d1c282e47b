"""A tiny in-memory stand-in with the engine facade's methods, for pure model/view unit tests only.

Every must-show test uses the real ``TransferEngine`` against a real ``sgsend serve``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from sgsend_desktop.core.api import TokenStatus
from sgsend_desktop.core.model import (
    Direction,
    EngineEvent,
    TransferOptions,
    TransferSnapshot,
    TransferState,
)

Listener = Callable[[EngineEvent], None]


class StandInEngine:
    def __init__(self, server_url: str = "http://127.0.0.1:1") -> None:
        self._server_url = server_url
        self._listeners: list[Listener] = []
        self._rows: dict[str, TransferSnapshot] = {}
        self._order: list[str] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.calls: list[tuple[str, str]] = []

    @property
    def server_url(self) -> str:
        return self._server_url

    def start(self) -> None: ...
    def close(self, timeout: float = 10) -> None: ...

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def emit(self, kind: str, snapshot: TransferSnapshot) -> None:
        with self._lock:
            if snapshot.id in self._rows or kind == "added":
                self._rows[snapshot.id] = snapshot
                if snapshot.id not in self._order:
                    self._order.append(snapshot.id)
        for listener in list(self._listeners):
            listener(EngineEvent(kind, snapshot))

    def snapshots(self) -> list[TransferSnapshot]:
        return [self._rows[i] for i in self._order]

    def snapshot(self, local_id: str) -> TransferSnapshot:
        return self._rows[local_id]

    def send(self, paths: Sequence[Path], options: TransferOptions | None = None) -> list[str]:
        ids = []
        for path in paths:
            local_id = f"t{next(self._ids)}"
            size = path.stat().st_size if path.is_file() else 0
            self.emit(
                "added",
                TransferSnapshot(
                    local_id, Direction.SEND, path.name, size, TransferState.QUEUED, source_path=str(path)
                ),
            )
            ids.append(local_id)
        return ids

    def send_together(
        self, paths: Sequence[Path], options: TransferOptions | None = None, name: str | None = None
    ) -> str:
        local_id = f"t{next(self._ids)}"
        self.calls.append(("send_together", local_id))
        size = sum(p.stat().st_size for p in paths if p.is_file())
        self.emit(
            "added",
            TransferSnapshot(
                local_id,
                Direction.SEND,
                name or f"{paths[0].stem} and {len(paths) - 1} more.zip",
                size,
                TransferState.QUEUED,
                item_count=len(paths),
            ),
        )
        return local_id

    def send_again(self, local_id: str) -> str:
        old = self._rows[local_id]
        self.calls.append(("send_again", local_id))
        new_id = f"t{next(self._ids)}"
        self.emit("added", replace(old, id=new_id, state=TransferState.QUEUED, bytes_done=0, error=None))
        self.discard(local_id)
        return new_id

    def receive(self, link: str, key: str | None = None, dest_dir: Path | None = None) -> str:
        local_id = f"t{next(self._ids)}"
        self.emit("added", TransferSnapshot(local_id, Direction.RECEIVE, "", 0, TransferState.QUEUED))
        return local_id

    def _set_state(self, local_id: str, state: TransferState, kind: str = "changed") -> None:
        self.calls.append((kind if kind != "changed" else state.value, local_id))
        self.emit(kind, replace(self._rows[local_id], state=state))

    def pause(self, local_id: str) -> None:
        self._set_state(local_id, TransferState.PAUSED)

    def resume(self, local_id: str) -> None:
        self._set_state(local_id, TransferState.QUEUED)

    def cancel(self, local_id: str) -> None:
        self._set_state(local_id, TransferState.CANCELLED)

    def discard(self, local_id: str) -> None:
        self.calls.append(("discard", local_id))
        snap = self._rows.pop(local_id)
        self._order.remove(local_id)
        for listener in list(self._listeners):
            listener(EngineEvent("removed", snap))

    def discard_many(self, local_ids: list[str]) -> None:
        for local_id in local_ids:
            self.discard(local_id)

    def archive_finished(self) -> list[str]:
        rows = [self._rows[i] for i in self._order]
        ids = [s.id for s in rows if s.state is TransferState.DONE and not s.archived]
        for local_id in ids:
            self.calls.append(("archived", local_id))
            self.emit("changed", replace(self._rows[local_id], archived=True))
        return ids

    def pause_all(self) -> None:
        for local_id in list(self._order):
            if not self._rows[local_id].state.is_final:
                self.pause(local_id)

    def resume_all(self) -> None:
        for local_id in list(self._order):
            if self._rows[local_id].state is TransferState.PAUSED:
                self.resume(local_id)

    def reconnect_now(self) -> int:
        self.calls.append(("reconnect_now", ""))
        return 1

    def move(self, local_id: str, new_index: int) -> None:
        self.calls.append(("move", local_id))
        self._order.remove(local_id)
        self._order.insert(new_index, local_id)

    def delete_remote(self, local_id: str) -> None:
        self.calls.append(("delete_remote", local_id))
        self.emit("changed", replace(self._rows[local_id], deleted_remote=True))

    def set_server(self, server_url: str, token: str | None) -> None:
        self._server_url = server_url

    def set_local_server(self, local: object) -> None:
        self.calls.append(("local_server", getattr(local, "url", "")))

    def check_token(self) -> TokenStatus:
        return TokenStatus(token_set=False, valid=None)

    def set_limits(
        self,
        workers: int | None = None,
        upload_limit_bps: int | None = None,
        download_limit_bps: int | None = None,
    ) -> None:
        self.calls.append(("limits", f"{workers}/{upload_limit_bps}/{download_limit_bps}"))
