"""Native desktop notifications (``desktop-notifier``: D-Bus on Linux, the macOS and Windows notification
centres), with the tray balloon and the status bar as fallbacks (TrayController decides).

``desktop-notifier`` is asyncio-based: it runs here on an event loop of its own thread, and its callbacks
come back to the GUI thread as Qt signals. A notification that the platform did not take (no D-Bus
session, no notification service, no permission) is reported through ``undelivered`` so that the caller
shows it another way; a click on a delivered one through ``clicked`` with the transfer's local id.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)
APP_NAME = "SGraph Send Desktop"


def native_possible() -> bool:
    """Whether a native notification can work here at all (cheap; no connection is made)."""
    if os.environ.get("SGSEND_NO_NATIVE_NOTIFICATIONS"):
        return False
    try:
        import desktop_notifier  # noqa: F401
    except Exception:  # not installed, or its platform backend cannot load
        return False
    if sys.platform.startswith("linux"):
        address = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        return bool(address) or bool(runtime and Path(runtime, "bus").exists())
    return sys.platform in ("darwin", "win32")


class NativeNotifier(QObject):
    """Sends through ``desktop-notifier`` on a background asyncio loop."""

    clicked = Signal(str)  # local id of the transfer the notification is about
    undelivered = Signal(str, str, str, bool)  # title, message, local id, is_error: show it another way
    delivered = Signal(str)  # local id

    def __init__(self, icon_path: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sgsend-notify", daemon=True)
        self._thread.start()
        self._icon_path = icon_path
        self._notifier: Any = None
        self.sent = 0

    def _ensure(self) -> Any:
        if self._notifier is None:
            from desktop_notifier import DesktopNotifier, Icon

            icon = Icon(path=self._icon_path) if self._icon_path and self._icon_path.exists() else None
            self._notifier = DesktopNotifier(app_name=APP_NAME, app_icon=icon)
        return self._notifier

    def _submit(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def notify(self, title: str, message: str, local_id: str = "", is_error: bool = False) -> None:
        self._submit(self._send(title, message, local_id, is_error))

    async def _send(self, title: str, message: str, local_id: str, is_error: bool) -> None:
        dispatched = threading.Event()
        try:
            from desktop_notifier import Notification, Urgency

            notifier = self._ensure()
            notification = Notification(
                title,
                message,
                urgency=Urgency.Critical if is_error else Urgency.Normal,
                on_dispatched=dispatched.set,
                on_clicked=lambda: self.clicked.emit(local_id),
            )
            await notifier.send_notification(notification)
        except Exception as error:  # never let a notification break a transfer's bookkeeping
            log.info("native notification failed: %s", error)
        if dispatched.is_set():
            self.sent += 1
            self.delivered.emit(local_id)
        else:
            self.undelivered.emit(title, message, local_id, is_error)

    def close(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(2)
