"""SendApi: a typed client for the SGraph Send HTTP API (upstream routes + this project's extensions).

One method per route; each returns a small dataclass and maps failures onto ``core.errors``:
401/403 → AuthError, 404 → NotFoundError, 409 → ConflictError, 410 → GoneError, 413 →
PayloadTooLargeError, 5xx/429/timeouts/dropped connections → TransientError; a connection that cannot
even be opened (refused, name not found, connect timeout) → UnreachableError, a TransientError the jobs
wait out without a retry limit (``core/reconnect.py``). A presigned URL the store refuses with 403
(expired or signed for another request) raises UrlRejectedError, a TransientError: fetch a fresh URL
and try again. The key never appears in any request.
"""

from __future__ import annotations

import logging
import re
import ssl
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import httpx

from sgsend_desktop.core.errors import (
    ApiError,
    AuthError,
    ConflictError,
    GoneError,
    NotFoundError,
    PayloadTooLargeError,
    TransientError,
    UnreachableError,
)
from sgsend_desktop.core.filenames import clean_text

log = logging.getLogger(__name__)
TOKEN_HEADER = "x-sgraph-access-token"
DELETE_AUTH_HEADER = "x-sgraph-transfer-delete-auth"
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=120.0)
PROBE_TIMEOUT = httpx.Timeout(connect=5.0, read=10.0, write=10.0, pool=10.0)
_ERRNO_TEXT = re.compile(r"\[Errno -?\d+\]\s*(.+)")


class UrlRejectedError(TransientError):
    """The store refused a presigned URL (403: expired or tampered): get a fresh one and retry."""


@dataclass(frozen=True)
class Capabilities:
    presigned_upload: bool = False
    multipart_upload: bool = False
    presigned_download: bool = False
    direct_upload: bool = True
    max_part_size: int = 10 * 1024 * 1024
    min_part_size: int = 5 * 1024 * 1024
    max_parts: int = 10000
    events: bool = False
    part_urls: bool = False
    list_parts: bool = False
    download_refresh: bool = False


@dataclass(frozen=True)
class CreatedTransfer:
    transfer_id: str
    upload_url: str


@dataclass(frozen=True)
class TransferInfo:
    transfer_id: str
    status: str
    file_size_bytes: int
    download_count: int
    max_downloads: int
    downloads_remaining: int | None
    is_expired: bool
    expires_at: str | None


@dataclass(frozen=True)
class MultipartUpload:
    transfer_id: str
    upload_id: str
    part_size: int
    part_urls: dict[int, str]


@dataclass(frozen=True)
class PresignedUrl:
    url: str
    expires_in: float
    # download URLs from a server with the download_refresh extension: trades for a fresh URL later
    # without counting another download. A bearer credential: never logged (kept out of repr).
    download_ticket: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class UploadedPart:
    part_number: int
    etag: str
    size: int


def _detail(response: httpx.Response) -> str:
    """The server's own words about an error, made safe to print (no escapes, one line, bounded)."""
    return clean_text(_raw_detail(response), limit=200)


def _raw_detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason_phrase
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return detail
    return str(detail)[:200] if detail is not None else response.reason_phrase


def origin_of(url: str) -> str:
    """``scheme://host:port`` of a URL: the key of the engine's per-host offline gate."""
    parsed = httpx.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return f"{parsed.scheme}://{parsed.host}:{port}"


def _host_of(url: str) -> str:
    parsed = httpx.URL(url)
    return f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host


def _why(error: BaseException) -> str:
    """A transport failure in a few lowercase words: "connection refused", "no answer in time"..."""
    if isinstance(error, httpx.TimeoutException):
        return "no answer in time"
    text = str(error).strip()
    match = _ERRNO_TEXT.search(text)
    if match:
        text = match.group(1)
    text = text.rstrip(".") or type(error).__name__
    return text[:1].lower() + text[1:]


def _is_tls_failure(error: BaseException) -> bool:
    seen: BaseException | None = error
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def is_unreachable(error: BaseException) -> bool:
    """The connection could not be opened at all (a TLS/certificate failure is no outage: excluded)."""
    return isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout)) and not _is_tls_failure(error)


def transport_error(error: httpx.TransportError, what: str, url: str) -> TransientError:
    """One sentence for an httpx transport failure: UnreachableError when no connection could be made,
    else a TransientError (the connection broke or timed out mid-request)."""
    host = _host_of(url)
    if is_unreachable(error):
        return UnreachableError(f"Cannot reach {host} ({_why(error)})", origin_of(url))
    return TransientError(f"{what} failed: the connection to {host} broke ({_why(error)})")


def probe_origin(origin: str) -> str | None:
    """Can a connection to ``origin`` be opened? None when something answers (any HTTP status, even
    an error, counts), else why not, in one sentence. The offline gates' probe (``core/reconnect.py``):
    a throwaway client (probes are rare) with the same proxy settings as the real requests."""
    try:
        with httpx.Client(timeout=PROBE_TIMEOUT, follow_redirects=False) as client:
            client.head(origin + "/")
    except httpx.TransportError as error:
        if is_unreachable(error):
            return f"Cannot reach {_host_of(origin)} ({_why(error)})"
    return None


def raise_for_status(response: httpx.Response, what: str) -> None:
    """Turn an error status into the matching error class (one sentence)."""
    status = response.status_code
    if status < 400:
        return
    detail = _detail(response)
    message = f"{what} failed: {detail} (HTTP {status})"
    if status in (401, 403):
        raise AuthError(message, status)
    if status == 404:
        raise NotFoundError(message, status)
    if status == 409:
        raise ConflictError(message, status)
    if status == 410:
        raise GoneError(message, status)
    if status == 413:
        raise PayloadTooLargeError(message, status)
    if status == 429 or status >= 500:
        raise TransientError(message)
    raise ApiError(message, status)


class SendApi:
    """The client for one server. Thread-safe (httpx.Client is); share one per engine."""

    def __init__(self, base_url: str, token: str | None = None, pool_size: int = 8,
                 timeout: httpx.Timeout = DEFAULT_TIMEOUT, event_streams: int = 4) -> None:
        """``pool_size``: parallel transfer requests; ``event_streams``: SSE streams open at once."""
        self.base_url = base_url.rstrip("/")
        self._token = token
        limits = httpx.Limits(max_connections=pool_size + 4, max_keepalive_connections=pool_size + 4)
        self._http = httpx.Client(timeout=timeout, limits=limits, follow_redirects=False)
        self._event_streams = max(1, event_streams)
        self._events_http: httpx.Client | None = None
        self._events_lock = threading.Lock()
        self._capabilities: Capabilities | None = None

    def close(self) -> None:
        self._http.close()
        with self._events_lock:
            if self._events_http is not None:
                self._events_http.close()

    # plumbing ------------------------------------------------------------------------------------
    def absolute(self, url: str) -> str:
        return url if "://" in url else urljoin(self.base_url + "/", url.lstrip("/"))

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {TOKEN_HEADER: self._token} if self._token else {}
        if extra:
            headers.update(extra)
        return headers

    def _request(self, method: str, path: str, what: str, json: Any = None,
                 content: bytes | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        try:
            response = self._http.request(method, self.absolute(path), json=json, content=content,
                                          headers=self._headers(headers))
        except httpx.TransportError as error:
            raise transport_error(error, what, self.absolute(path)) from error
        raise_for_status(response, what)
        return response

    def _json(self, method: str, path: str, what: str, json: Any = None,
              content: bytes | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
        response = self._request(method, path, what, json=json, content=content, headers=headers)
        try:
            body = response.json()
        except ValueError as error:
            raise ApiError(f"{what} failed: the server's answer is not JSON", response.status_code) from error
        if not isinstance(body, dict):
            raise ApiError(f"{what} failed: unexpected answer from the server", response.status_code)
        return body

    # upstream routes -----------------------------------------------------------------------------
    def capabilities(self, refresh: bool = False) -> Capabilities:
        if self._capabilities is not None and not refresh:
            return self._capabilities
        try:
            body = self._json("GET", "/api/presigned/capabilities", "Reading the server's capabilities")
        except NotFoundError:
            log.info("server %s has no presigned routes: direct upload/download only", self.base_url)
            body = {}
        known = {k: body[k] for k in Capabilities.__dataclass_fields__ if k in body}
        caps = Capabilities(**known)
        log.info("server %s: multipart=%s presigned_download=%s events=%s part_urls=%s list_parts=%s "
                 "download_refresh=%s", self.base_url, caps.multipart_upload, caps.presigned_download,
                 caps.events, caps.part_urls, caps.list_parts, caps.download_refresh)
        self._capabilities = caps
        return caps

    def create(self, file_size_bytes: int, transfer_id: str | None = None, max_downloads: int = 0,
               expires_at: str = "", delete_auth_hash: str = "",
               content_type_hint: str = "application/octet-stream") -> CreatedTransfer:
        body: dict[str, Any] = {"file_size_bytes": file_size_bytes, "content_type_hint": content_type_hint,
                                "max_downloads": max_downloads, "auto_delete": False,
                                "expires_at": expires_at, "delete_auth_hash": delete_auth_hash}
        if transfer_id:
            body["transfer_id"] = transfer_id
        answer = self._json("POST", "/api/transfers/create", "Creating the transfer", json=body)
        return CreatedTransfer(str(answer["transfer_id"]), str(answer.get("upload_url", "")))

    def upload(self, transfer_id: str, payload: bytes) -> None:
        self._json("POST", f"/api/transfers/upload/{transfer_id}", "Uploading the file", content=payload,
                   headers={"content-type": "application/octet-stream"})

    def complete(self, transfer_id: str) -> dict[str, Any]:
        return self._json("POST", f"/api/transfers/complete/{transfer_id}", "Completing the transfer")

    def info(self, transfer_id: str) -> TransferInfo:
        body = self._json("GET", f"/api/transfers/info/{transfer_id}", "Looking up the transfer")
        remaining = body.get("downloads_remaining")
        return TransferInfo(
            transfer_id=str(body.get("transfer_id", transfer_id)), status=str(body.get("status", "")),
            file_size_bytes=int(body.get("file_size_bytes") or 0),
            download_count=int(body.get("download_count") or 0),
            max_downloads=int(body.get("max_downloads") or 0),
            downloads_remaining=int(remaining) if isinstance(remaining, int) else None,
            is_expired=bool(body.get("is_expired", False)), expires_at=body.get("expires_at"))

    @contextmanager
    def download(self, transfer_id: str) -> Iterator[httpx.Response]:
        """The direct download route, streamed (counts as a download)."""
        url = self.absolute(f"/api/transfers/download/{transfer_id}")
        try:
            with self._http.stream("GET", url, headers=self._headers()) as response:
                if response.status_code >= 400:
                    response.read()
                raise_for_status(response, "Downloading the file")
                yield response
        except httpx.TransportError as error:
            raise transport_error(error, "Downloading the file", url) from error

    def delete(self, transfer_id: str, delete_auth: str) -> str:
        body = self._json("DELETE", f"/api/transfers/delete/{transfer_id}", "Deleting the transfer",
                          headers={DELETE_AUTH_HEADER: delete_auth})
        return str(body.get("status", "deleted"))

    def initiate(self, transfer_id: str, file_size_bytes: int, num_parts: int) -> MultipartUpload:
        body = self._json("POST", "/api/presigned/initiate", "Starting the multipart upload",
                          json={"transfer_id": transfer_id, "file_size_bytes": file_size_bytes,
                                "num_parts": num_parts})
        urls = {int(p["part_number"]): self.absolute(str(p["upload_url"])) for p in body.get("part_urls", [])}
        return MultipartUpload(transfer_id, str(body["upload_id"]), int(body["part_size"]), urls)

    def complete_multipart(self, transfer_id: str, upload_id: str, parts: Iterable[tuple[int, str]]) -> None:
        listed = [{"part_number": n, "etag": e} for n, e in sorted(parts)]
        self._json("POST", "/api/presigned/complete", "Assembling the uploaded parts",
                   json={"transfer_id": transfer_id, "upload_id": upload_id, "parts": listed})

    def cancel_multipart(self, transfer_id: str, upload_id: str) -> None:
        self._json("POST", f"/api/presigned/cancel/{transfer_id}/{upload_id}", "Cancelling the upload")

    def download_url(self, transfer_id: str) -> PresignedUrl:
        """A presigned GET URL for the payload (Range works). Counts as a download."""
        body = self._json("GET", f"/api/presigned/download-url/{transfer_id}", "Getting a download URL")
        return _presigned_download(self, body)

    # extensions ----------------------------------------------------------------------------------
    def part_urls(self, transfer_id: str, upload_id: str, part_numbers: Iterable[int]) -> PresignedUrls:
        body = self._json("POST", "/api/presigned/part-urls", "Refreshing part upload URLs",
                          json={"transfer_id": transfer_id, "upload_id": upload_id,
                                "part_numbers": sorted(part_numbers)})
        urls = {int(p["part_number"]): self.absolute(str(p["upload_url"])) for p in body.get("part_urls", [])}
        return PresignedUrls(urls, float(body.get("expires_in") or 3600))

    def refresh_download_url(self, transfer_id: str, download_ticket: str) -> PresignedUrl:
        """A fresh download URL for a grant already counted (``download_refresh`` extension).

        403 (AuthError): the ticket is forged, for another transfer or too old; 404/410: the transfer
        was deleted or expired. Does not count a download."""
        body = self._json("POST", "/api/presigned/download-url/refresh", "Refreshing the download URL",
                          json={"transfer_id": transfer_id, "download_ticket": download_ticket})
        presigned = _presigned_download(self, body)
        if presigned.download_ticket is None:  # the ticket stays the one the grant came with
            presigned = PresignedUrl(presigned.url, presigned.expires_in, download_ticket)
        return presigned

    def list_parts(self, transfer_id: str, upload_id: str) -> list[UploadedPart]:
        body = self._json("GET", f"/api/presigned/parts/{transfer_id}/{upload_id}", "Listing uploaded parts")
        return [UploadedPart(int(p["part_number"]), str(p["etag"]), int(p.get("size") or 0))
                for p in body.get("parts", [])]

    def events_url(self, transfer_id: str) -> str:
        return self.absolute(f"/api/transfers/events/{transfer_id}")

    @property
    def http(self) -> httpx.Client:
        """The client of the transfer requests: every request on it ends (no long-lived streams)."""
        return self._http

    @property
    def events_http(self) -> httpx.Client:
        """The client of the long-lived event streams, with a pool of its own (``event_streams``
        connections): however many streams are open, they never take a connection from ``http``."""
        with self._events_lock:
            if self._events_http is None:
                limits = httpx.Limits(max_connections=self._event_streams,
                                      max_keepalive_connections=self._event_streams)
                self._events_http = httpx.Client(timeout=DEFAULT_TIMEOUT, limits=limits,
                                                 follow_redirects=False)
                if self._http.is_closed:
                    self._events_http.close()
            return self._events_http

    # presigned storage requests ------------------------------------------------------------------
    def put_part(self, url: str, body: bytes | Iterable[bytes], size: int) -> str:
        """PUT one part to its presigned URL; return the ETag header exactly as the store sent it."""
        try:
            response = self._http.put(url, content=body, headers={"content-length": str(size)})
        except httpx.TransportError as error:
            raise transport_error(error, "Uploading a part", url) from error
        if response.status_code == 403:
            raise UrlRejectedError("the storage refused the part upload URL (expired?)")
        raise_for_status(response, "Uploading a part")
        etag = response.headers.get("etag")
        if not etag:
            raise ApiError("Uploading a part failed: the storage sent no ETag (check its CORS settings)")
        return str(etag)

    @contextmanager
    def get_range(self, url: str, start: int, end: int) -> Iterator[httpx.Response]:
        """Stream bytes [start, end) of a presigned download URL (206 expected, 200 accepted at 0)."""
        headers = {"range": f"bytes={start}-{end - 1}"}
        try:
            with self._http.stream("GET", url, headers=headers) as response:
                if response.status_code >= 400:
                    response.read()
                    if response.status_code == 403:
                        raise UrlRejectedError("the storage refused the download URL (expired?)")
                raise_for_status(response, "Downloading the file")
                yield response
        except httpx.TransportError as error:
            raise transport_error(error, "Downloading the file", url) from error


def _presigned_download(api: SendApi, body: dict[str, Any]) -> PresignedUrl:
    ticket = body.get("download_ticket")
    return PresignedUrl(api.absolute(str(body["download_url"])), float(body.get("expires_in") or 3600),
                        ticket if isinstance(ticket, str) and ticket else None)


@dataclass(frozen=True)
class PresignedUrls:
    urls: dict[int, str]
    expires_in: float
