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

import functools
import logging
import re
import secrets
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from urllib.parse import quote, urljoin, urlsplit

import httpx

from sgsend_desktop.core.errors import (
    AccessTokenError,
    ApiError,
    AuthError,
    ConflictError,
    GoneError,
    NotFoundError,
    PayloadTooLargeError,
    SendError,
    TransientError,
    UnreachableError,
)
from sgsend_desktop.core.filenames import clean_text
from sgsend_desktop.core.tls import tls_context

log = logging.getLogger(__name__)
TOKEN_HEADER = "x-sgraph-access-token"
DELETE_AUTH_HEADER = "x-sgraph-transfer-delete-auth"
GRANT_HEADER = "x-sgsend-download-grant"  # our extension: see SendApi.download_url
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=120.0)
PROBE_TIMEOUT = httpx.Timeout(connect=5.0, read=10.0, write=10.0, pool=10.0)
MAX_ANSWER = 1024 * 1024   # bytes of an API answer (JSON, an error's detail) we read at most
ANSWER_DEADLINE = 120.0    # seconds for a whole API answer: a server dripping bytes ends there
IDENTITY = {"accept-encoding": "identity"}  # answers are read as they come on the wire: no inflating
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
class TokenStatus:
    """What a server's ``check-token`` says of an access token (upstream: ``{valid, status, remaining}``;
    consumes nothing). ``valid`` is None when the server cannot say (no token set here, no such route,
    unreachable, an answer that is not the upstream shape): a send then finds out by itself."""

    token_set: bool                  # False: no access token is configured for this server
    valid: bool | None
    status: str = ""                 # "active", "exhausted", "revoked", "not_found", ...; "" unknown
    remaining: int | None = None     # uses left; None: no limit, or the server does not say
    unlimited: bool = False          # the server says explicitly that the token has no usage limit

    @property
    def message(self) -> str:
        """One sentence for the front ends (Settings, `sgsend token-status`)."""
        if not self.token_set:
            return "No access token is set for this server."
        if self.valid is None:
            return "The server cannot tell whether the access token is valid; sending will find out."
        if not self.valid:
            return str(self.error())
        if self.remaining is not None:
            uses = "1 use" if self.remaining == 1 else f"{self.remaining} uses"
            return f"The access token is valid: {uses} left."
        return "The access token is valid, with no usage limit." if self.unlimited else \
            "The access token is valid."

    def error(self) -> AccessTokenError | None:
        """The error a send with this token would meet, when the server said it is not valid."""
        if self.valid is not False:
            return None
        reason = {"not_found": "invalid", "": "invalid"}.get(self.status, self.status)
        return token_error(f"Access token {reason}") or AccessTokenError(TOKEN_SENTENCES["invalid"], reason)


@dataclass(frozen=True)
class UploadedPart:
    part_number: int
    etag: str
    size: int


def read_answer(response: httpx.Response, what: str, limit: int = MAX_ANSWER,
                deadline: float | None = None) -> httpx.Response:
    """The answer of a streamed request, read whole but bounded: at most ``limit`` bytes, within
    ``deadline`` seconds, uncompressed (asked with ``accept-encoding: identity``; a compressed answer
    is refused rather than inflated: 3 MB of gzip can be 3 GB). Returns a response holding the body."""
    status = response.status_code
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        raise ApiError(f"{what} failed: the server sent a compressed answer ({clean_text(encoding, 40)}) "
                       "although none was asked for", status)
    declared = response.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise ApiError(f"{what} failed: the server's answer is too large ({int(declared)} bytes)", status)
    body = bytearray()
    started = time.monotonic()
    deadline = ANSWER_DEADLINE if deadline is None else deadline
    for chunk in response.iter_raw():
        body += chunk
        if len(body) > limit:
            raise ApiError(f"{what} failed: the server's answer is too large (over {limit} bytes)", status)
        if time.monotonic() - started > deadline:
            raise TransientError(f"{what} failed: the server's answer did not arrive in time "
                                 f"({len(body)} bytes in {deadline:.0f} s)")
    return httpx.Response(status, headers=response.headers, content=bytes(body), request=response.request)


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
        with httpx.Client(timeout=PROBE_TIMEOUT, follow_redirects=False, verify=tls_context()) as client:
            client.head(origin + "/")
    except httpx.TransportError as error:
        if is_unreachable(error):
            return f"Cannot reach {_host_of(origin)} ({_why(error)})"
    return None


# Upstream's words about access tokens (its 401 details: "Access token required", "Invalid access token",
# "Access token exhausted" / "revoked" / "expired"; 503 "Token validation service unavailable") as plain
# sentences. Our own server uses the same words (server/tokens.py).
TOKEN_SENTENCES = {
    "required": "The server needs an access token for sending, and none was given or it is not the one "
                "this server expects: check the token in the settings (or --token / SGSEND_TOKEN).",
    "invalid": "The server does not know this access token: check it for typos, or ask for a new one.",
    "exhausted": "This access token has no uses left on this server: ask for a new one, or for more uses.",
    "revoked": "This access token was revoked on this server: ask for a new one.",
    "expired": "This access token has expired: ask for a new one.",
}
TOKEN_SERVICE_DOWN = ("The server cannot check access tokens right now (its token service is down); "
                      "the send will try again.")
_TOKEN_DETAIL = re.compile(r"^(?:access token (\w+)|(invalid) access token)$")


def token_error(detail: str, status: int | None = 401) -> AccessTokenError | None:
    """The AccessTokenError for a 401 detail about the access token, or None when it is about something
    else. An unknown word ("Access token suspended") still becomes one sentence."""
    match = _TOKEN_DETAIL.match(detail.strip().rstrip(".").lower())
    if match is None:
        return None
    reason = match.group(1) or match.group(2)
    sentence = TOKEN_SENTENCES.get(reason) or f"The server refused this access token ({reason}): " \
        "ask for a new one."
    return AccessTokenError(sentence, reason, status)


def raise_for_status(response: httpx.Response, what: str) -> None:
    """Turn an error status into the matching error class (one sentence)."""
    status = response.status_code
    if status < 400:
        return
    detail = _detail(response)
    message = f"{what} failed: {detail} (HTTP {status})"
    if status == 401:
        refused = token_error(detail, status)
        if refused is not None:
            raise refused
    if status == 503 and detail.lower().startswith("token validation service unavailable"):
        raise TransientError(TOKEN_SERVICE_DOWN)
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


F = TypeVar("F", bound=Callable[..., Any])


def answer_of(what: str) -> Callable[[F], F]:
    """A route method whose answer lacks a field, or holds one of the wrong kind, fails with one sentence
    (an ApiError: asking again would get the same answer), not a KeyError or ValueError traceback."""
    def decorate(method: F) -> F:
        @functools.wraps(method)
        def checked(*args: Any, **kwargs: Any) -> Any:
            try:
                return method(*args, **kwargs)
            except KeyError as error:
                raise ApiError(f"{what} failed: the server's answer has no {error.args[0]!r}") from None
            except (ValueError, TypeError, AttributeError) as error:
                raise ApiError(f"{what} failed: the server's answer is malformed ({error})") from None
        return cast(F, checked)
    return decorate


class SendApi:
    """The client for one server. Thread-safe (httpx.Client is); share one per engine."""

    def __init__(self, base_url: str, token: str | None = None, pool_size: int = 8,
                 timeout: httpx.Timeout = DEFAULT_TIMEOUT, event_streams: int = 4) -> None:
        """``pool_size``: parallel transfer requests; ``event_streams``: SSE streams open at once."""
        self.base_url = base_url.rstrip("/")
        self._token = token
        limits = httpx.Limits(max_connections=pool_size + 4, max_keepalive_connections=pool_size + 4)
        self._http = httpx.Client(timeout=timeout, limits=limits, follow_redirects=False,
                                  verify=tls_context())
        self._event_streams = max(1, event_streams)
        self._events_http: httpx.Client | None = None
        self._events_lock = threading.Lock()
        self._capabilities: Capabilities | None = None
        self._pending_grants: dict[str, str] = {}  # transfer id → grant id of an unanswered download-url
        self._grants_lock = threading.Lock()

    @property
    def has_token(self) -> bool:
        return bool(self._token)

    def close(self) -> None:
        self._http.close()
        with self._events_lock:
            if self._events_http is not None:
                self._events_http.close()

    # plumbing ------------------------------------------------------------------------------------
    def absolute(self, url: str) -> str:
        """``url`` (from this server's answer) made absolute; only http(s) addresses are ever used."""
        full = url if "://" in url else urljoin(self.base_url + "/", url.lstrip("/"))
        if urlsplit(full).scheme.lower() not in ("http", "https"):
            raise ApiError(f"The server gave an address this app cannot use: {clean_text(full, 80)}")
        return full

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {TOKEN_HEADER: self._token} if self._token else {}
        if extra:
            headers.update(extra)
        return headers

    def _request(self, method: str, path: str, what: str, json: Any = None,
                 content: bytes | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        response = self._send(method, self.absolute(path), what, json=json, content=content,
                              headers=self._headers({**IDENTITY, **(headers or {})}))
        raise_for_status(response, what)
        return response

    def _send(self, method: str, url: str, what: str, **options: Any) -> httpx.Response:
        """One request whose answer is read bounded (``read_answer``): what a server sends can never
        make us hold more than MAX_ANSWER bytes, nor wait past ANSWER_DEADLINE once it answers."""
        try:
            with self._http.stream(method, url, **options) as response:
                return read_answer(response, what)
        except httpx.TransportError as error:
            raise transport_error(error, what, url) from error

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

    @answer_of("Creating the transfer")
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

    @answer_of("Looking up the transfer")
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
            with self._http.stream("GET", url, headers=self._headers(IDENTITY)) as response:
                if response.status_code >= 400:
                    raise_for_status(read_answer(response, "Downloading the file"), "Downloading the file")
                if response.status_code != 200:  # e.g. a redirect: its body is not the file
                    raise ApiError(f"Downloading the file failed: the server answered HTTP "
                                   f"{response.status_code} instead of the file", response.status_code)
                yield response
        except httpx.TransportError as error:
            raise transport_error(error, "Downloading the file", url) from error

    def delete(self, transfer_id: str, delete_auth: str) -> str:
        body = self._json("DELETE", f"/api/transfers/delete/{transfer_id}", "Deleting the transfer",
                          headers={DELETE_AUTH_HEADER: delete_auth})
        return str(body.get("status", "deleted"))

    @answer_of("Starting the multipart upload")
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

    @answer_of("Getting a download URL")
    def download_url(self, transfer_id: str) -> PresignedUrl:
        """A presigned GET URL for the payload (Range works). Counts as a download.

        Each call carries a grant id; when the answer is lost on the way (the server counted the
        download, we never saw the URL) the retry carries the same id, and a server with the extension
        answers it without counting again — a lost answer must not use up a max_downloads=1 transfer.
        Once any answer arrives, the next call is a new download with a new id."""
        with self._grants_lock:
            grant = self._pending_grants.setdefault(transfer_id, secrets.token_urlsafe(18))
        try:
            body = self._json("GET", f"/api/presigned/download-url/{transfer_id}", "Getting a download URL",
                              headers={GRANT_HEADER: grant})
        except TransientError:  # no answer arrived (or a 5xx, perhaps after counting): the retry reuses it
            raise
        except Exception:
            self._forget_grant(transfer_id)
            raise
        self._forget_grant(transfer_id)
        return _presigned_download(self, body)

    def _forget_grant(self, transfer_id: str) -> None:
        with self._grants_lock:
            self._pending_grants.pop(transfer_id, None)

    def check_token(self, token: str | None = None) -> TokenStatus:
        """Ask ``check-token`` about ``token`` (default: this client's own) as the web UI's access gate
        does; consumes nothing. Never raises: a server that cannot say gives ``valid=None``. The token
        travels in the path (upstream's route), so no token header is sent with it."""
        token = self._token if token is None else token
        if not token:
            return TokenStatus(token_set=False, valid=None)
        unknown = TokenStatus(token_set=True, valid=None)
        url = self.absolute(f"/api/transfers/check-token/{quote(token, safe='')}")
        try:
            with self._http.stream("GET", url, timeout=PROBE_TIMEOUT,
                                   headers={"accept-encoding": "identity"}) as streamed:
                response = read_answer(streamed, "Checking the access token", limit=64 * 1024)
            if response.status_code >= 400:
                log.info("check-token: HTTP %s from %s", response.status_code, self.base_url)
                return unknown
            body = response.json()
        except (httpx.HTTPError, SendError, ValueError) as error:
            log.info("check-token at %s: %s", self.base_url, type(error).__name__)
            return unknown
        if not isinstance(body, dict) or not isinstance(body.get("valid"), bool):
            return unknown
        status = body.get("status") if isinstance(body.get("status"), str) else body.get("reason")
        remaining = body.get("remaining")
        count = remaining if isinstance(remaining, int) and not isinstance(remaining, bool) else None
        return TokenStatus(token_set=True, valid=body["valid"], status=str(status or "")[:40],
                           remaining=count if count is not None and count >= 0 else None,
                           unlimited=count is not None and count < 0)

    # extensions ----------------------------------------------------------------------------------
    @answer_of("Refreshing part upload URLs")
    def part_urls(self, transfer_id: str, upload_id: str, part_numbers: Iterable[int]) -> PresignedUrls:
        body = self._json("POST", "/api/presigned/part-urls", "Refreshing part upload URLs",
                          json={"transfer_id": transfer_id, "upload_id": upload_id,
                                "part_numbers": sorted(part_numbers)})
        urls = {int(p["part_number"]): self.absolute(str(p["upload_url"])) for p in body.get("part_urls", [])}
        return PresignedUrls(urls, float(body.get("expires_in") or 3600))

    @answer_of("Refreshing the download URL")
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

    @answer_of("Listing uploaded parts")
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
                                                 follow_redirects=False, verify=tls_context())
                if self._http.is_closed:
                    self._events_http.close()
            return self._events_http

    # presigned storage requests ------------------------------------------------------------------
    def put_part(self, url: str, body: bytes | Iterable[bytes], size: int) -> str:
        """PUT one part to its presigned URL; return the ETag header exactly as the store sent it."""
        response = self._send("PUT", url, "Uploading a part", content=body,
                              headers={"content-length": str(size), **IDENTITY})
        if response.status_code == 403:
            raise UrlRejectedError("the storage refused the part upload URL (expired?)")
        raise_for_status(response, "Uploading a part")
        etag = response.headers.get("etag")
        if not etag:
            raise ApiError("Uploading a part failed: the storage sent no ETag (check its CORS settings)")
        return str(etag)

    @contextmanager
    def get_range(self, url: str, start: int, end: int) -> Iterator[httpx.Response]:
        """Stream bytes [start, end) of a presigned download URL (206 expected, 200 accepted at 0),
        uncompressed: read them with ``iter_raw`` (the caller bounds them by what it asked for)."""
        headers = {"range": f"bytes={start}-{end - 1}", **IDENTITY}
        try:
            with self._http.stream("GET", url, headers=headers) as response:
                if response.status_code >= 400:
                    if response.status_code == 403:
                        raise UrlRejectedError("the storage refused the download URL (expired?)")
                    raise_for_status(read_answer(response, "Downloading the file"), "Downloading the file")
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
