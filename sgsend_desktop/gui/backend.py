"""The engine (and, by default, the embedded local server) behind the window.

``open_backend`` blocks (starts a server, opens the journal): the GUI calls it through the
BackgroundRunner, never on the GUI thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sgsend_desktop.core.api import TokenStatus
from sgsend_desktop.core.local_server import LocalEndpoint, LocalServer, open_local_server
from sgsend_desktop.core.model import EngineEvent, TransferOptions, TransferSnapshot, TransferState
from sgsend_desktop.gui.settings import Preferences

log = logging.getLogger(__name__)

LOCAL_SERVER_LABEL = "Local server (this computer)"
LAN_SERVER_LABEL = "Local server, shared on the local network ({url})"


class EngineFacade(Protocol):
    """The part of ``core.engine.TransferEngine`` the GUI uses."""

    @property
    def server_url(self) -> str: ...
    def start(self) -> None: ...
    def close(self, timeout: float = 10) -> None: ...
    def subscribe(self, listener: Callable[[EngineEvent], None]) -> None: ...
    def unsubscribe(self, listener: Callable[[EngineEvent], None]) -> None: ...
    def snapshots(self) -> list[TransferSnapshot]: ...
    def snapshot(self, local_id: str) -> TransferSnapshot: ...
    def send(self, paths: Sequence[Path], options: TransferOptions = ...) -> list[str]: ...
    def send_together(
        self, paths: Sequence[Path], options: TransferOptions = ..., name: str | None = None
    ) -> str: ...
    def send_again(self, local_id: str) -> str: ...
    def receive(self, link: str, key: str | None = None, dest_dir: Path | None = None) -> str: ...
    def pause(self, local_id: str) -> None: ...
    def resume(self, local_id: str) -> None: ...
    def cancel(self, local_id: str) -> None: ...
    def discard(self, local_id: str) -> None: ...
    def discard_many(self, local_ids: Sequence[str]) -> None: ...
    def pause_all(self) -> None: ...
    def archive_finished(self) -> list[str]: ...
    def resume_all(self) -> None: ...
    def reconnect_now(self) -> int: ...
    def move(self, local_id: str, new_index: int) -> None: ...
    def delete_remote(self, local_id: str) -> None: ...
    def set_server(self, server_url: str, token: str | None) -> None: ...
    def set_local_server(self, local: LocalEndpoint | None) -> None: ...
    def set_limits(
        self,
        workers: int | None = None,
        upload_limit_bps: int | None = None,
        download_limit_bps: int | None = None,
    ) -> None: ...
    def check_token(self) -> TokenStatus: ...  # one request (uses left): call it off the GUI thread


@dataclass
class Backend:
    engine: EngineFacade
    server: LocalServer | None = None  # the local server, when we started (or joined) one
    data_dir: Path = field(default_factory=Path)
    notes: list[str] = field(default_factory=list)  # what the user should know (e.g. the port moved)
    lan_requested: bool = False  # the setting the local server was started with

    @property
    def server_label(self) -> str:
        if self.server is not None and self.engine.server_url.rstrip("/") == self.server.url.rstrip("/"):
            if self.server.endpoint.lan:
                return LAN_SERVER_LABEL.format(url=self.server.url)
            return LOCAL_SERVER_LABEL
        return self.engine.server_url

    def close(self, timeout: float = 10) -> None:
        try:
            self.engine.close(timeout)
        finally:
            if self.server is not None:
                self.server.stop()
                self.server = None

    def apply_preferences(self, prefs: Preferences, token: str | None) -> None:
        """Point new transfers at the chosen server (starting the local one on demand) and set limits."""
        if prefs.uses_local_server:
            if self.server is None or self.lan_requested != prefs.share_on_lan:
                self._restart_local_server(prefs.share_on_lan)
            assert self.server is not None
            self.engine.set_server(self.server.url, self.server.endpoint.token)
        else:
            self.engine.set_server(prefs.server_url.strip().rstrip("/"), token)
        self.engine.set_limits(
            workers=prefs.workers,
            upload_limit_bps=prefs.upload_limit_bps,
            download_limit_bps=prefs.download_limit_bps,
        )

    def _restart_local_server(self, lan: bool) -> None:
        """(Re)start the local server (LAN sharing switched): its running transfers pause meanwhile and
        carry on at its new address (the engine re-points them)."""
        moving = (
            [
                s.id
                for s in self.engine.snapshots()
                if s.local_scope and (s.state.is_active or s.state is TransferState.QUEUED)
            ]
            if self.server is not None
            else []
        )
        for local_id in moving:
            self.engine.pause(local_id)
        deadline = time.monotonic() + 15
        while (
            moving
            and time.monotonic() < deadline
            and any(self.engine.snapshot(i).state.is_active for i in moving)
        ):
            time.sleep(0.05)
        if self.server is not None:
            self.server.stop()
            self.server = None
        self.server = open_local_server(self.data_dir, lan=lan)
        self.lan_requested = lan
        self.notes = list(self.server.notes)
        self.engine.set_local_server(self.server.endpoint)
        for local_id in moving:
            self.engine.resume(local_id)


def open_backend(
    data_dir: Path,
    prefs: Preferences,
    token: str | None,
    listener: Callable[[EngineEvent], None] | None = None,
) -> Backend:
    """Start the local server if needed, create the engine, subscribe ``listener``, then start it."""
    from sgsend_desktop.core.engine import TransferEngine

    server = open_local_server(data_dir, lan=prefs.share_on_lan) if prefs.uses_local_server else None
    url = server.url if server is not None else prefs.server_url.strip().rstrip("/")
    try:
        engine = TransferEngine(
            data_dir,
            url,
            token=server.endpoint.token if server is not None else token,
            workers=prefs.workers,
            upload_limit_bps=prefs.upload_limit_bps,
            download_limit_bps=prefs.download_limit_bps,
            auto_resume=prefs.resume_automatically,
            local=server.endpoint if server is not None else None,
        )
        if listener is not None:
            engine.subscribe(listener)
        engine.start()
    except BaseException:
        if server is not None:
            server.stop()
        raise
    return Backend(
        engine=engine,
        server=server,
        data_dir=data_dir,
        notes=list(server.notes) if server is not None else [],
        lan_requested=prefs.share_on_lan,
    )
