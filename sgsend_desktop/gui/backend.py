"""The engine (and, by default, the embedded local server) behind the window.

``open_backend`` blocks (starts a server, opens the journal): the GUI calls it through the
BackgroundRunner, never on the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sgsend_desktop.core.model import EngineEvent, TransferOptions, TransferSnapshot
from sgsend_desktop.gui.settings import Preferences

log = logging.getLogger(__name__)

LOCAL_SERVER_LABEL = "Local server (this computer)"


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
    def receive(self, link: str, key: str | None = None, dest_dir: Path | None = None) -> str: ...
    def pause(self, local_id: str) -> None: ...
    def resume(self, local_id: str) -> None: ...
    def cancel(self, local_id: str) -> None: ...
    def discard(self, local_id: str) -> None: ...
    def pause_all(self) -> None: ...
    def resume_all(self) -> None: ...
    def move(self, local_id: str, new_index: int) -> None: ...
    def delete_remote(self, local_id: str) -> None: ...
    def set_server(self, server_url: str, token: str | None) -> None: ...
    def set_limits(
        self,
        workers: int | None = None,
        upload_limit_bps: int | None = None,
        download_limit_bps: int | None = None,
    ) -> None: ...


class ServerHandle(Protocol):
    @property
    def url(self) -> str: ...
    def stop(self) -> None: ...


@dataclass
class Backend:
    engine: EngineFacade
    server: ServerHandle | None = None  # the embedded server, when we started one
    data_dir: Path = field(default_factory=Path)

    @property
    def server_label(self) -> str:
        if self.server is not None and self.engine.server_url.rstrip("/") == self.server.url.rstrip("/"):
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
            if self.server is None:
                self.server = start_local_server(self.data_dir)
            self.engine.set_server(self.server.url, None)
        else:
            self.engine.set_server(prefs.server_url.strip().rstrip("/"), token)
        self.engine.set_limits(
            workers=prefs.workers,
            upload_limit_bps=prefs.upload_limit_bps,
            download_limit_bps=prefs.download_limit_bps,
        )


def start_local_server(data_dir: Path) -> ServerHandle:
    from sgsend_desktop.core.config import embedded_server_dir
    from sgsend_desktop.server.embedded import start_embedded_server

    server: ServerHandle = start_embedded_server(embedded_server_dir(data_dir))
    log.info("embedded server at %s", server.url)
    return server


def open_backend(
    data_dir: Path,
    prefs: Preferences,
    token: str | None,
    listener: Callable[[EngineEvent], None] | None = None,
) -> Backend:
    """Start the local server if needed, create the engine, subscribe ``listener``, then start it."""
    from sgsend_desktop.core.engine import TransferEngine

    server = start_local_server(data_dir) if prefs.uses_local_server else None
    url = server.url if server is not None else prefs.server_url.strip().rstrip("/")
    try:
        engine = TransferEngine(
            data_dir,
            url,
            token=None if server is not None else token,
            workers=prefs.workers,
            upload_limit_bps=prefs.upload_limit_bps,
            download_limit_bps=prefs.download_limit_bps,
            auto_resume=prefs.resume_automatically,
        )
        if listener is not None:
            engine.subscribe(listener)
        engine.start()
    except BaseException:
        if server is not None:
            server.stop()
        raise
    return Backend(engine=engine, server=server, data_dir=data_dir)
