"""Listen to the server's progress events (SSE extension) with Last-Event-ID reconnects.

``EventListener`` runs one daemon thread: a streaming GET of ``/api/transfers/events/{id}``, parsing
``id:``/``event:``/``data:`` lines into ``ServerEvent``s handed to a callback. When the connection drops it
reconnects with ``Last-Event-ID`` (capped backoff), so no event is missed; it stops on ``stop()`` or after
a ``deleted``/``expired`` event.

Streams are long-lived: give the listener a client whose pool serves only event streams
(``SendApi.events_http``), never the client of the transfer requests, or watched sends starve the transfers.

What a server can make us hold is bounded: a line longer than ``MAX_LINE_BYTES`` or an event whose
``data`` exceeds ``MAX_EVENT_BYTES`` drops the stream (``EventTooLargeError``, logged once per listener),
which then reconnects after the longest backoff. Our server's events are a few hundred bytes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from sgsend_desktop.core.retry import RetryPolicy

log = logging.getLogger(__name__)
FINAL_EVENTS = frozenset({"deleted", "expired"})
RECONNECT_POLICY = RetryPolicy(max_attempts=1_000_000, base_delay=0.5, max_delay=10.0)
MAX_EVENT_BYTES = 64 * 1024                 # the data of one event
MAX_LINE_BYTES = MAX_EVENT_BYTES + 1024     # one line ("data: " + up to the whole event, or any field)
MAX_BACKOFF_STEP = 6                        # RECONNECT_POLICY.delay(6): up to the 10 s cap
OPEN_GRACE = 5.0                            # seconds a first stream may take to open before it counts as down
# A stream may wait this long for a connection of its pool: a full pool fails fast and backs off.
STREAM_TIMEOUT = httpx.Timeout(connect=10.0, read=90.0, write=10.0, pool=2.0)
_EOL = re.compile(rb"\r\n|\r|\n")


class EventTooLargeError(ValueError):
    """The server sent a line or an event over our limits: the stream is dropped, not buffered."""


@dataclass(frozen=True)
class ServerEvent:
    id: str | None
    type: str
    data: dict[str, Any]


def iter_sse_lines(chunks: Iterable[bytes], max_line: int = MAX_LINE_BYTES) -> Iterator[str]:
    """Split a byte stream into lines (CR, LF or CRLF ends a line) holding at most ``max_line`` bytes.

    A longer line raises EventTooLargeError once ``max_line`` bytes of it were read: memory stays bounded
    whatever the server sends. An unterminated last line is dropped (an incomplete event)."""
    buffer = bytearray()
    after_cr = False
    for chunk in chunks:
        if not chunk:
            continue
        if after_cr and chunk[:1] == b"\n":  # the LF of a CRLF split between two chunks
            chunk = chunk[1:]
        after_cr = False
        pos = 0
        while pos < len(chunk):
            end = _EOL.search(chunk, pos)
            stop = end.start() if end is not None else len(chunk)
            if len(buffer) + stop - pos > max_line:
                raise EventTooLargeError(f"an event stream line is too large (over {max_line} bytes)")
            buffer += chunk[pos:stop]
            if end is None:
                break
            after_cr = end.group() == b"\r" and end.end() == len(chunk)
            yield buffer.decode("utf-8", "replace")
            buffer.clear()
            pos = end.end()


def parse_sse(lines: Iterable[str], max_event: int = MAX_EVENT_BYTES) -> Iterator[ServerEvent]:
    """Turn text/event-stream lines into events (comments and unknown fields ignored).

    An event whose data adds up to more than ``max_event`` characters raises EventTooLargeError."""
    event_id: str | None = None
    event_type = "message"
    data: list[str] = []
    size = 0
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                try:
                    payload = json.loads("\n".join(data))
                except ValueError:
                    payload = {"raw": "\n".join(data)}
                yield ServerEvent(event_id, event_type, payload if isinstance(payload, dict) else {})
            event_type, data, size = "message", [], 0
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
            size += len(value) + 1
            if size > max_event:
                raise EventTooLargeError(f"an event is too large (over {max_event} bytes of data)")
            data.append(value)


class EventListener:
    """One SSE subscription for one transfer, on its own thread."""

    def __init__(self, http: httpx.Client, url: str, on_event: Callable[[ServerEvent], None],
                 policy: RetryPolicy | None = None,
                 headers: dict[str, str] | None = None,
                 on_open: Callable[[], object] | None = None) -> None:
        """``on_open`` runs on the listener's thread each time a stream opens (the host is reachable:
        the engine's offline gate of that host probes at once)."""
        self._http = http
        self._on_open = on_open
        self._url = url
        self._on_event = on_event
        self._policy = policy or RECONNECT_POLICY
        self._headers = headers or {}
        self._stop = threading.Event()
        self._response: httpx.Response | None = None
        self.last_event_id: str | None = None
        self.connected = threading.Event()  # set while a stream is open (cleared when it drops)
        self._opened = False
        self._started = 0.0
        self._thread = threading.Thread(target=self._run, name="sse-listener", daemon=True)

    def start(self) -> EventListener:
        self._started = time.monotonic()
        self._thread.start()
        return self

    @property
    def down(self) -> bool:
        """No stream is open although one should be: it dropped, or has not opened within OPEN_GRACE
        seconds of the start (a stream that is still opening is not "down")."""
        if self.connected.is_set() or self._stop.is_set() or not self._thread.is_alive():
            return False
        return self._opened or time.monotonic() - self._started > OPEN_GRACE

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to end (a blocked read is woken up) and wait up to ``timeout`` for it."""
        self._stop.set()
        response = self._response
        if response is not None:
            # A read blocked in another thread only wakes up when its socket is shut down.
            stream = response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self.join(timeout)

    def join(self, timeout: float) -> None:
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        failures = 0
        warned = False
        while not self._stop.is_set() and not self._http.is_closed:
            headers = dict(self._headers)
            headers["accept"] = "text/event-stream"
            headers["accept-encoding"] = "identity"  # bytes on the wire = bytes we bound
            if self.last_event_id is not None:
                headers["last-event-id"] = self.last_event_id
            try:
                with self._http.stream("GET", self._url, headers=headers, timeout=STREAM_TIMEOUT) as response:
                    if response.status_code != 200:
                        log.info("event stream %s answered %s", self._url, response.status_code)
                        if response.status_code in (404, 410):
                            return
                        raise httpx.TransportError(f"HTTP {response.status_code}")
                    if response.headers.get("content-encoding", "identity").lower() != "identity":
                        raise EventTooLargeError("the event stream is compressed (its size is unbounded)")
                    self._response = response
                    if self._stop.is_set():  # stop() ran before _response was set: it shut nothing down
                        return
                    self.connected.set()
                    self._opened = True
                    failures = 0
                    if self._on_open is not None:
                        try:
                            self._on_open()
                        except Exception:
                            log.exception("event stream open callback failed")
                    for event in parse_sse(iter_sse_lines(response.iter_raw())):
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
            except EventTooLargeError as error:
                if self._stop.is_set():
                    return
                (log.debug if warned else log.warning)("event stream %s dropped: %s", self._url, error)
                warned = True
                failures = max(failures, MAX_BACKOFF_STEP - 1)  # a misbehaving server: wait the longest
            except (httpx.HTTPError, httpx.StreamError) as error:
                if self._stop.is_set():
                    return
                log.debug("event stream dropped: %r", error)
            except Exception:
                if self._stop.is_set() or self._http.is_closed:
                    return
                log.exception("event stream failed")
            finally:
                self._response = None
                self.connected.clear()
            failures += 1
            self._stop.wait(self._policy.delay(min(failures, MAX_BACKOFF_STEP)))
