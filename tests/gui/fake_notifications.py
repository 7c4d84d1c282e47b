# ruff: noqa: F722, F821  (D-Bus signatures as annotations)
"""A private D-Bus session bus with a fake freedesktop notification server (org.freedesktop.Notifications),
so that the app's native notifications are tested for real: over D-Bus, through ``desktop-notifier``.

(No ``from __future__ import annotations`` here: dbus-fast reads the D-Bus signatures from the
annotations themselves.)"""

import asyncio
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, method
from dbus_fast.service import signal as dbus_signal


@dataclass
class Shown:
    id: int
    app_name: str
    summary: str
    body: str
    actions: list


class FakeNotifications(ServiceInterface):
    def __init__(self) -> None:
        super().__init__("org.freedesktop.Notifications")
        self.shown: list = []
        self._next = 1

    @method()
    def GetCapabilities(self) -> "as":
        return ["actions", "body"]

    @method()
    def GetServerInformation(self) -> "ssss":
        return ["fake-notifyd", "tests", "1.0", "1.2"]

    @method()
    def Notify(
        self,
        app_name: "s",
        replaces_id: "u",
        app_icon: "s",
        summary: "s",
        body: "s",
        actions: "as",
        hints: "a{sv}",
        expire_timeout: "i",
    ) -> "u":
        nid = self._next
        self._next += 1
        self.shown.append(Shown(nid, app_name, summary, body, list(actions)))
        return nid

    @method()
    def CloseNotification(self, nid: "u") -> None:
        self.NotificationClosed(nid, 3)

    @dbus_signal()
    def ActionInvoked(self, nid, key) -> "us":
        return [nid, key]

    @dbus_signal()
    def NotificationClosed(self, nid, reason) -> "uu":
        return [nid, reason]


@dataclass
class NotificationServer:
    address: str
    service: FakeNotifications
    loop: asyncio.AbstractEventLoop
    _bus: object = field(default=None)

    def click(self, nid: int) -> None:
        """The user clicks the notification's body (its "default" action)."""
        self.loop.call_soon_threadsafe(self.service.ActionInvoked, nid, "default")


def dbus_available() -> bool:
    return shutil.which("dbus-daemon") is not None


@contextmanager
def notification_server() -> Iterator[NotificationServer]:
    """A private session bus (dbus-daemon) with the fake server on it; yields its address."""
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert daemon.stdout is not None
        address = daemon.stdout.readline().strip()
        assert address, "dbus-daemon printed no address"
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        service = FakeNotifications()
        holder: dict = {}

        async def serve() -> None:
            bus = await MessageBus(bus_address=address).connect()
            bus.export("/org/freedesktop/Notifications", service)
            await bus.request_name("org.freedesktop.Notifications")
            holder["bus"] = bus
            ready.set()

        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        asyncio.run_coroutine_threadsafe(serve(), loop).result(10)
        assert ready.wait(10)
        yield NotificationServer(address, service, loop, holder["bus"])
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(5)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(5)


__all__ = ["NotificationServer", "dbus_available", "notification_server", "os"]
