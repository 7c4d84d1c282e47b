"""Requests to presigned storage URLs — a download's ranged GETs, an upload's part PUTs — with the bytes
going straight between the socket and the caller's memory.

A transfer moves hundreds of MB/s through Python, and on a small machine it is CPU-bound. httpx (through
httpcore and h11) reads a socket 64 KiB at a time and copies every byte four times on its way out (into
h11's buffer, two slices, a ``bytes``), and copies a request body once more on its way in; with
``http.client`` the kernel copies each byte once: ``readinto1`` into the download's window, ``sendall``
out of the upload's part buffer. Measured on the development VM, 256 MiB in 8 MiB ranges from SeaweedFS:
0.43 s of CPU through httpx, 0.10 s here.

Only for direct connections: when the environment configures a proxy (HTTP(S)_PROXY, ALL_PROXY, the
system's settings on macOS/Windows), ``SendApi.get_range`` / ``SendApi.put_part`` (httpx, which honours
them) are used instead. TLS uses the one context of every client here (``core/tls.py``: certifi, or
SSL_CERT_FILE/SSL_CERT_DIR), so both paths trust the same certificates. Failures become the same errors
as ``core/api.py``'s: a connection that cannot be opened is ``UnreachableError`` (waited out at the host's
offline gate), one that breaks or times out mid-request a ``TransientError``, a 403 ``UrlRejectedError``;
what the storage answers besides the body it was asked for is read bounded (``MAX_ANSWER``).
"""

from __future__ import annotations

import contextlib
import http.client
import select
import socket
import ssl
import urllib.request
from collections.abc import Callable, Iterator
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
from sgsend_desktop.core.tls import tls_context

GET_WHAT = "Downloading the file"
PUT_WHAT = "Uploading a part"
Sent = Callable[[memoryview], None]  # called before each slice of a body is sent (stop checks, limits)


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


class StorageConnection:
    """One worker's keep-alive connection to the storage (reopened when the host changes, or when the
    storage closed it). Not thread-safe: each part or range worker has its own."""

    def __init__(self, api: SendApi) -> None:
        self._api = api
        self._fast = not proxied()
        self._conn: http.client.HTTPConnection | None = None
        self._host: tuple[str, str, int] | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # downloads ---------------------------------------------------------------------------------------
    def open_range(self, url: str, start: int, end: int) -> AbstractContextManager[RangeAnswer]:
        """Ask for bytes [start, end) of ``url``; the answer's status is checked (>= 400 raises)."""
        if not self._fast:
            return _HttpxAnswer.opened(self._api, url, start, end)
        return self._open_range(url, start, end)

    @contextlib.contextmanager
    def _open_range(self, url: str, start: int, end: int) -> Iterator[RangeAnswer]:
        response = self._exchange("GET", url, {"range": f"bytes={start}-{end - 1}", **IDENTITY}, None,
                                  GET_WHAT)
        answer = _ClientAnswer(response, url)
        finished = False
        try:
            if response.status >= 400:
                body = response.read(MAX_ANSWER)
                if response.status == 403:
                    raise UrlRejectedError("the storage refused the download URL (expired?)")
                raise_for_status(httpx.Response(response.status, headers=answer.headers, content=body),
                                 GET_WHAT)
            yield answer
            finished = response.isclosed()  # the whole body was read: the connection can be reused
        finally:
            if not finished:
                self.close()  # an answer left unread (stopped early, an error): never reuse its connection

    # uploads -----------------------------------------------------------------------------------------
    def put_part(self, url: str, body: memoryview, step: int, before: Sent) -> str:
        """PUT ``body`` to a presigned part URL in slices of ``step`` bytes (``before`` is called with
        each, e.g. to stop or to take bandwidth tokens); return the ETag exactly as the store sent it."""
        if not self._fast:
            def slices() -> Iterator[bytes]:
                for at in range(0, len(body), step):
                    piece = body[at:at + step]
                    before(piece)
                    yield bytes(piece)
            return self._api.put_part(url, slices(), len(body))
        headers = {"content-length": str(len(body)), **IDENTITY}
        response = self._exchange("PUT", url, headers, (body, step, before), PUT_WHAT)
        try:
            answer = response.read(MAX_ANSWER + 1)
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise _broken(url, error, PUT_WHAT) from error
        if not response.isclosed():
            self.close()  # an answer longer than anything a store sends to a PUT: not reused
        if response.status == 403:
            raise UrlRejectedError("the storage refused the part upload URL (expired?)")
        raise_for_status(httpx.Response(response.status, headers=response.getheaders(),
                                        content=answer[:MAX_ANSWER]), PUT_WHAT)
        etag = response.getheader("etag")
        if not etag:
            raise ApiError(f"{PUT_WHAT} failed: the storage sent no ETag (check its CORS settings)")
        return etag

    # plumbing ----------------------------------------------------------------------------------------
    def _exchange(self, method: str, url: str, headers: dict[str, str],
                  body: tuple[memoryview, int, Sent] | None, what: str) -> http.client.HTTPResponse:
        """Send one request (on the kept connection when it is still good) and read its status line and
        headers. A body is sent slice by slice from the caller's memory."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ApiError(f"{what} failed: the storage URL is not an http(s) URL.")
        host = (scheme, parts.hostname, parts.port or (443 if scheme == "https" else 80))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        reused = self._conn is not None and self._host == host and not _closed_by_peer(self._conn)
        if not reused:
            self.close()
            self._conn, self._host = self._connect(*host), host
        while True:
            conn = self._conn
            assert conn is not None
            try:
                conn.putrequest(method, target, skip_accept_encoding=True)
                for name, value in headers.items():
                    conn.putheader(name, value)
                conn.endheaders()
                if body is not None:
                    _send_body(conn, *body)
                return conn.getresponse()
            except BaseException as error:
                if not isinstance(error, (OSError, http.client.HTTPException)):
                    self.close()  # stopped half-way (pause, cancel): that request is never finished
                    raise
                connected = conn.sock is not None
                self.close()
                if reused and isinstance(error, (http.client.RemoteDisconnected, ConnectionResetError,
                                                 BrokenPipeError)):
                    # a kept-alive connection the storage closed meanwhile: once more on a new one
                    self._conn, reused = self._connect(*host), False
                    continue
                if not connected and _never_connected(error):
                    raise _unreachable(url, error) from error
                raise _broken(url, error, what) from error

    def _connect(self, scheme: str, host: str, port: int) -> http.client.HTTPConnection:
        connect = DEFAULT_TIMEOUT.connect or 10.0
        if scheme == "https":
            return _HTTPS(host, port, connect, DEFAULT_TIMEOUT.read, tls_context())
        return _HTTP(host, port, connect, DEFAULT_TIMEOUT.read)


def _send_body(conn: http.client.HTTPConnection, body: memoryview, step: int, before: Sent) -> None:
    """The body from the caller's memory (``sendall``: no copy). A storage that answers before the
    body is all sent (an expired URL: 403) and closes makes the send fail: its answer is read anyway,
    as httpcore does, so the caller sees the 403 and not a broken connection."""
    try:
        for at in range(0, len(body), step):
            piece = body[at:at + step]
            before(piece)
            conn.send(piece)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the answer, if the storage gave one, is next; else getresponse() fails in turn


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
        return False  # not connected yet: the request connects
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


def _broken(url: str, error: BaseException, what: str = GET_WHAT) -> TransientError:
    return TransientError(f"{what} failed: the connection to {_host(url)} broke ({_why(error)})")


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
    """An http.client answer read one socket read at a time (``readinto1``): progress and stall checks
    see every read, and a body with a Content-Length lands straight in the caller's memory."""

    def __init__(self, response: http.client.HTTPResponse, url: str) -> None:
        self._response = response
        self._url = url
        self.status_code = response.status
        self.headers = {name.lower(): value for name, value in response.getheaders()}
        self._left = response.length  # None: chunked, or until the connection closes

    def readinto(self, view: memoryview) -> int:
        try:
            if self._left is None:  # framed by the server: http.client reads the chunks
                data = self._response.read1(len(view))
                view[:len(data)] = data
                return len(data)
            if not self._left or self._response.fp is None:
                return 0
            count = self._response.fp.readinto1(view[:self._left])
            self._left -= count
            if not self._left:
                self._response.close()  # the whole body is read: the connection can be reused
            return count
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
                raise transport_error(error, GET_WHAT, self._url) from error
        count = min(len(view), len(self._left))
        view[:count] = self._left[:count]
        self._left = self._left[count:]
        return count
