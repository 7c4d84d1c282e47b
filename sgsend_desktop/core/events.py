"""Listen to the server's progress events (SSE extension) with Last-Event-ID reconnects.

``EventListener`` runs one daemon thread: a streaming GET of ``/api/transfers/events/{id}``, parsing
``id:``/``event:``/``data:`` lines into ``ServerEvent``s handed to a callback. When the connection drops it
reconnects with ``Last-Event-ID`` (capped backoff), so no event is missed; it stops on ``stop()`` or after
a ``deleted``/``expired`` event.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from sgsend_desktop.core.retry import RetryPolicy

log = logging.getLogger(__name__)
FINAL_EVENTS = frozenset({"deleted", "expired"})
RECONNECT_POLICY = RetryPolicy(max_attempts=1_000_000, base_delay=0.5, max_delay=10.0)


@dataclass(frozen=True)
class ServerEvent:
    id: str | None
    type: str
    data: dict[str, Any]


def parse_sse(lines: Iterable[str]) -> Iterator[ServerEvent]:
    """Turn text/event-stream lines into events (comments and unknown fields ignored)."""
    event_id: str | None = None
    event_type = "message"
    data: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                try:
                    payload = json.loads("\n".join(data))
                except ValueError:
                    payload = {"raw": "\n".join(data)}
                yield ServerEvent(event_id, event_type, payload if isinstance(payload, dict) else {})
            event_type, data = "message", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "id":
            event_id = value
        elif field == "event":
            event_type = value
        elif field == "data":
            data.append(value)


class EventListener:
    """One SSE subscription for one transfer, on its own thread."""

    def __init__(self, http: httpx.Client, url: str, on_event: Callable[[ServerEvent], None],
                 policy: RetryPolicy | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self._http = http
        self._url = url
        self._on_event = on_event
        self._policy = policy or RECONNECT_POLICY
        self._headers = headers or {}
        self._stop = threading.Event()
        self._response: httpx.Response | None = None
        self.last_event_id: str | None = None
        self.connected = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sse-listener", daemon=True)

    def start(self) -> EventListener:
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        response = self._response
        if response is not None:
            # A read blocked in another thread only wakes up when its socket is shut down.
            stream = response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            headers = dict(self._headers)
            headers["accept"] = "text/event-stream"
            if self.last_event_id is not None:
                headers["last-event-id"] = self.last_event_id
            try:
                timeout = httpx.Timeout(connect=10.0, read=90.0, write=10.0, pool=10.0)
                with self._http.stream("GET", self._url, headers=headers, timeout=timeout) as response:
                    if response.status_code != 200:
                        log.info("event stream %s answered %s", self._url, response.status_code)
                        if response.status_code in (404, 410):
                            return
                        raise httpx.TransportError(f"HTTP {response.status_code}")
                    self._response = response
                    self.connected.set()
                    failures = 0
                    for event in parse_sse(response.iter_lines()):
                        if event.id is not None:
                            self.last_event_id = event.id
                        try:
                            self._on_event(event)
                        except Exception:
                            log.exception("event callback failed")
                        if event.type in FINAL_EVENTS:
                            return
                        if self._stop.is_set():
                            return
            except (httpx.HTTPError, httpx.StreamError) as error:
                if self._stop.is_set():
                    return
                log.debug("event stream dropped: %r", error)
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("event stream failed")
            finally:
                self._response = None
            failures += 1
            self._stop.wait(self._policy.delay(min(failures, 6)))
