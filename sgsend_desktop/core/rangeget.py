"""Ranged GETs of a presigned download URL, read straight into the caller's memory.

A receive moves hundreds of MB/s through Python, and on a small machine it is CPU-bound. httpx (through
httpcore and h11) reads a socket 64 KiB at a time and copies every byte four times on its way out (into
h11's buffer, two slices, a ``bytes``); ``http.client``'s ``readinto`` lets the kernel copy the bytes once,
into the download's window. Measured on the development VM, 256 MiB in 8 MiB ranges from SeaweedFS: 0.43 s
of CPU through httpx, 0.10 s through ``RangeConnection``.

Only for direct connections: when the environment configures a proxy (HTTP(S)_PROXY, ALL_PROXY, the
system's settings on macOS/Windows), ``open_range`` uses ``SendApi.get_range`` (httpx, which honours
them) and copies its chunks. TLS uses httpx's own context (certifi, or SSL_CERT_FILE/SSL_CERT_DIR), so
both paths trust the same certificates. Failures become the same errors as ``core/api.py``'s: a
connection that cannot be opened is ``UnreachableError`` (waited out at the host's offline gate), one that
breaks or times out mid-answer a ``TransientError``, a 403 ``UrlRejectedError``.
"""

from __future__ import annotations

import contextlib
import http.client
import select
import socket
import ssl
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from sgsend_desktop.core.api import (
    DEFAULT_TIMEOUT,
    IDENTITY,
    MAX_ANSWER,
    SendApi,
    UrlRejectedError,
    origin_of,
    raise_for_status,
    transport_error,
)
from sgsend_desktop.core.errors import ApiError, TransientError, UnreachableError

WHAT = "Downloading the file"


class RangeAnswer(Protocol):
    """What a ranged GET gives the download: its status and headers, then its body, read into memory
    the caller owns (``readinto`` returns 0 at the end of the body)."""

    status_code: int
    headers: dict[str, str]   # lower-case names

    def readinto(self, view: memoryview) -> int: ...


def proxied() -> bool:
    """Does the environment (or the system) configure any proxy? Then every request goes through httpx."""
    found = urllib.request.getproxies()
    return any(found.get(scheme) for scheme in ("http", "https", "all"))


class RangeConnection:
    """One worker's keep-alive connection to the storage (reopened when the host changes or it broke).
    Not thread-safe: each range worker has its own."""

    def __init__(self, api: SendApi) -> None:
        self._api = api
        self._fast = not proxied()
        self._conn: http.client.HTTPConnection | None = None
        self._host: tuple[str, str, int] | None = None
        self._ssl: ssl.SSLContext | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def open(self, url: str, start: int, end: int) -> AbstractContextManager[RangeAnswer]:
        """Ask for bytes [start, end) of ``url``; the answer's status is checked (>= 400 raises)."""
        if not self._fast:
            return _HttpxAnswer.opened(self._api, url, start, end)
        return self._open(url, start, end)

    @contextlib.contextmanager
    def _open(self, url: str, start: int, end: int) -> Iterator[RangeAnswer]:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ApiError(f"{WHAT} failed: the download URL is not an http(s) URL.")
        host = (scheme, parts.hostname, parts.port or (443 if scheme == "https" else 80))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"range": f"bytes={start}-{end - 1}", **IDENTITY}
        reused = self._conn is not None and self._host == host and not _closed_by_peer(self._conn)
        if not reused:
            self.close()
            self._conn, self._host = self._connect(*host), host
        assert self._conn is not None
        while True:
            conn = self._conn
            try:
                conn.request("GET", target, headers=headers)
                response = conn.getresponse()
                break
            except (OSError, http.client.HTTPException) as error:
                connected = conn.sock is not None
                self.close()
                if reused and isinstance(error, (http.client.RemoteDisconnected, ConnectionResetError,
                                                 BrokenPipeError)):
                    # a kept-alive connection the storage closed meanwhile: once more on a new one
                    self._conn, reused = self._connect(*host), False
                    continue
                if not connected and _never_connected(error):
                    raise _unreachable(url, error) from error
                raise _broken(url, error) from error
        answer = _ClientAnswer(response, url)
        finished = False
        try:
            if response.status >= 400:
                body = response.read(MAX_ANSWER)
                if response.status == 403:
                    raise UrlRejectedError("the storage refused the download URL (expired?)")
                raise_for_status(httpx.Response(response.status, headers=answer.headers, content=body), WHAT)
            yield answer
            finished = response.isclosed()  # the whole body was read: the connection can be reused
        finally:
            if not finished:
                self.close()  # an answer left unread (stopped early, an error): never reuse its connection

    def _connect(self, scheme: str, host: str, port: int) -> http.client.HTTPConnection:
        connect = DEFAULT_TIMEOUT.connect or 10.0
        if scheme == "https":
            if self._ssl is None:
                self._ssl = httpx.create_ssl_context()
            return _HTTPS(host, port, connect, DEFAULT_TIMEOUT.read, self._ssl)
        return _HTTP(host, port, connect, DEFAULT_TIMEOUT.read)


class _HTTP(http.client.HTTPConnection):
    """Connect within ``connect`` seconds, then wait at most ``read`` seconds for each read."""

    def __init__(self, host: str, port: int, connect: float, read: float | None) -> None:
        super().__init__(host, port, timeout=connect)
        self._read_timeout = read

    def connect(self) -> None:
        super().connect()
        self.sock.settimeout(self._read_timeout)


class _HTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, connect: float, read: float | None,
                 context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=connect, context=context)
        self._read_timeout = read

    def connect(self) -> None:
        super().connect()
        self.sock.settimeout(self._read_timeout)


def _closed_by_peer(conn: http.client.HTTPConnection) -> bool:
    """A kept-alive connection with nothing asked on it is readable only when the peer closed it."""
    sock = conn.sock
    if sock is None:
        return False  # not connected yet: request() connects
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _never_connected(error: BaseException) -> bool:
    if isinstance(error, ssl.SSLError):
        return False  # a TLS or certificate failure is no outage
    return isinstance(error, (ConnectionRefusedError, socket.gaierror, TimeoutError)) or (
        isinstance(error, OSError) and error.errno in (101, 110, 111, 113))  # net/host unreachable, timeout


def _unreachable(url: str, error: BaseException) -> UnreachableError:
    return UnreachableError(f"Cannot reach {_host(url)} ({_why(error)})", origin_of(url))


def _broken(url: str, error: BaseException) -> TransientError:
    return TransientError(f"{WHAT} failed: the connection to {_host(url)} broke ({_why(error)})")


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def _why(error: BaseException) -> str:
    if isinstance(error, (TimeoutError, socket.timeout)):
        return "no answer in time"
    if isinstance(error, http.client.IncompleteRead):
        return "the answer ended early"
    if isinstance(error, http.client.RemoteDisconnected):
        return "closed by the server"
    text = (getattr(error, "strerror", None) or str(error) or type(error).__name__).strip().rstrip(".")
    return text[:1].lower() + text[1:]


class _ClientAnswer:
    def __init__(self, response: http.client.HTTPResponse, url: str) -> None:
        self._response = response
        self._url = url
        self.status_code = response.status
        self.headers = {name.lower(): value for name, value in response.getheaders()}

    def readinto(self, view: memoryview) -> int:
        try:
            return self._response.readinto(view)
        except (OSError, http.client.HTTPException) as error:
            raise _broken(self._url, error) from error


class _HttpxAnswer:
    """The same over httpx (proxies): its chunks copied into the caller's memory."""

    def __init__(self, response: httpx.Response, url: str) -> None:
        self._chunks = response.iter_raw()
        self._left = memoryview(b"")
        self._url = url
        self.status_code = response.status_code
        self.headers = {name.lower(): value for name, value in response.headers.items()}

    @classmethod
    @contextlib.contextmanager
    def opened(cls, api: SendApi, url: str, start: int, end: int) -> Iterator[RangeAnswer]:
        with api.get_range(url, start, end) as response:
            yield cls(response, url)

    def readinto(self, view: memoryview) -> int:
        if not self._left:
            try:
                self._left = memoryview(next(self._chunks, b""))
            except httpx.TransportError as error:
                raise transport_error(error, WHAT, self._url) from error
        count = min(len(view), len(self._left))
        view[:count] = self._left[:count]
        self._left = self._left[count:]
        return count
