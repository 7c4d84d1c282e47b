"""A seeded, fault-injecting HTTP/1.1 proxy for loopback tests: client → proxy → `sgsend serve`.

    with FaultProxy(server.url, FaultPlan(seed=7, rate=0.2)) as proxy:
        engine = TransferEngine(data_dir, proxy.url)          # API calls go through the proxy...

...and so do the bytes: the disk backend signs presigned URLs with the request's base URL (the Host
header, which the proxy passes on unchanged: ``ServerContext.base_url``), so part PUTs and ranged GETs come
back to the proxy too (`test_the_proxy_sits_in_the_path_of_the_bytes` checks it).

Faults, chosen per request (``FaultPlan.decide``):

* ``status``   — answer 500, 502, 503 or 429 without asking the server (a burst: the next few requests of
  the same kind get it too);
* ``reset_request``  — read part of the request body, then reset the connection (RST);
* ``reset_response`` — forward the request, relay part of the answer's body, then reset; for an empty
  answer (or one time in five) reset before the answer's head: the server did the work, its answer is
  lost — what a retry must survive (a second ``complete``, a second ``download-url``...);
* ``truncate`` — the same with a clean close (FIN): the body ends short of its Content-Length;
* ``stall``    — stop relaying for a while (0.3–2.5 s) before or in the middle of the answer, then go on.

Decisions are reproducible for a seed whatever the thread interleaving: each request is decided by its own
``random.Random`` seeded from (seed, method, path with ids masked, Range, occurrence number of that key)
(a different number of retries or polls can still shift later occurrences: a replay is close, not exact).
Every request is recorded (`Exchange`): method, target, headers, status, bytes each way; ``keep_bodies``
also keeps the request bodies (the recorded-traffic test looks for secrets in them).

While the server is down the proxy answers ``502 Bad Gateway`` (as nginx would) — a counted failure for the
client, unlike a refused connection (an outage it waits out).
"""

from __future__ import annotations

import contextlib
import random
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

CHUNK = 64 * 1024
FAULT_KINDS = ("status", "reset_request", "reset_response", "truncate", "stall")
_ID = re.compile(r"(?<=/)[0-9a-f]{12,}(?=/|$)")
_NUMBER = re.compile(r"(?<=/)\d+(?=/|$)")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"}


@dataclass
class Fault:
    kind: str
    fraction: float = 0.5        # where in the body (0..1) a reset/truncate/stall happens
    status: int = 503
    stall: float = 0.0


@dataclass
class Exchange:
    """One request seen by the proxy (filled in as it goes)."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    fault: str | None = None
    status: int | None = None
    bytes_up: int = 0            # request body bytes relayed to the server
    bytes_down: int = 0          # response body bytes relayed to the client
    body: bytearray | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


def request_key(method: str, target: str, headers: list[tuple[str, str]]) -> str:
    """What identifies "the same request" across runs: ids and part numbers masked, the Range kept."""
    path = _NUMBER.sub("N", _ID.sub("ID", urlsplit(target).path))
    ranged = next((v for k, v in headers if k.lower() == "range"), "")
    return f"{method} {path} {ranged}"


class FaultPlan:
    """Which requests fail and how. ``rate``: the chance a request gets a fault; ``kinds``: allowed kinds;
    ``only``: a predicate on (method, path) limiting the faults to some requests (others pass);
    ``at_least``: until that many faults were injected, every 4th request gets one whatever the coin says
    (a storm of 50 requests at 25 % drew only 6 faults about once in 20 runs)."""

    def __init__(self, seed: int, rate: float = 0.0, kinds: tuple[str, ...] = FAULT_KINDS,
                 statuses: tuple[int, ...] = (500, 502, 503, 429), max_stall: float = 2.5,
                 only: Callable[[str, str], bool] | None = None, at_least: int = 0) -> None:
        self.seed, self.rate, self.kinds, self.statuses = seed, rate, kinds, statuses
        self.max_stall, self.only, self.at_least = max_stall, only, at_least
        self._requests = 0
        self._seen: Counter[str] = Counter()
        self._burst: dict[str, tuple[int, int]] = {}   # request kind → (status, how many more)
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()

    def decide(self, method: str, target: str, headers: list[tuple[str, str]]) -> Fault | None:
        path = urlsplit(target).path
        if path.startswith("/api/_test/") or (self.only is not None and not self.only(method, path)):
            return None
        key = request_key(method, target, headers)
        kind_key = key.rsplit(" ", 1)[0]
        with self._lock:
            occurrence = self._seen[key]
            self._seen[key] += 1
            burst = self._burst.get(kind_key)
            if burst is not None and burst[1] > 0:
                self._burst[kind_key] = (burst[0], burst[1] - 1)
                self.injected["status"] += 1
                return Fault("status", status=burst[0])
            self._requests += 1
            forced = sum(self.injected.values()) < self.at_least and self._requests % 4 == 0
            rng = random.Random(f"{self.seed}|{key}|{occurrence}")
            if not forced and (self.rate <= 0 or rng.random() >= self.rate):
                return None
            fault = Fault(rng.choice(self.kinds), fraction=rng.random(), status=rng.choice(self.statuses),
                          stall=rng.uniform(0.3, self.max_stall))
            if fault.kind == "status" and rng.random() < 0.3:
                self._burst[kind_key] = (fault.status, rng.randint(1, 3))
            self.injected[fault.kind] += 1
            return fault


class _Closed(Exception):
    """The client or the server went away (or a fault ended the exchange)."""


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN (SO_LINGER 0): the peer sees "connection reset by peer"."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def _read_head(reader: object) -> tuple[str, list[tuple[str, str]]] | None:
    """The start line and the headers; None at a clean EOF before any byte."""
    first = reader.readline(65537)  # type: ignore[attr-defined]
    if not first:
        return None
    while first in (b"\r\n", b"\n"):  # tolerate stray CRLFs between requests
        first = reader.readline(65537)  # type: ignore[attr-defined]
        if not first:
            return None
    headers: list[tuple[str, str]] = []
    while True:
        line = reader.readline(65537)  # type: ignore[attr-defined]
        if not line:
            raise _Closed("EOF inside the headers")
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return first.decode("latin-1").rstrip("\r\n"), headers


def _get(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _head_bytes(start: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [start, *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class FaultProxy:
    """A threaded HTTP/1.1 proxy to ``upstream`` (``http://127.0.0.1:PORT``) on 127.0.0.1.

    ``on_body(exchange, direction, count)`` is called for every piece of a body that goes through
    (direction "up" for a request body, "down" for an answer's; ``count`` bytes) — e.g. to kill a client
    after N bytes."""

    def __init__(self, upstream: str, plan: FaultPlan | None = None, keep_bodies: bool = False,
                 port: int = 0, on_body: Callable[[Exchange, str, int], None] | None = None) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.plan = plan or FaultPlan(seed=0)
        self.keep_bodies = keep_bodies
        self.on_body = on_body
        self.exchanges: list[Exchange] = []
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stopping = threading.Event()
        self._clients: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept_loop, name="fault-proxy", daemon=True)

    # lifecycle -------------------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            clients = list(self._clients)
        for sock in clients:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # what went through -------------------------------------------------------------------------------
    def seen(self, method: str | None = None, prefix: str = "") -> list[Exchange]:
        with self._lock:
            return [e for e in self.exchanges
                    if (method is None or e.method == method) and e.path.startswith(prefix)]

    def body_bytes(self, direction: str, method: str | None = None, prefix: str = "") -> int:
        return sum(e.bytes_up if direction == "up" else e.bytes_down for e in self.seen(method, prefix))

    # the proxy ---------------------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._clients.add(client)
            threading.Thread(target=self._serve_client, args=(client,), name="fault-proxy-conn",
                             daemon=True).start()

    def _serve_client(self, client: socket.socket) -> None:
        reader = client.makefile("rb", buffering=CHUNK)
        try:
            while not self._stopping.is_set():
                head = _read_head(reader)
                if head is None:
                    break
                if not self._exchange(client, reader, *head):
                    break
        except (_Closed, OSError, ValueError):
            pass
        except Exception as error:  # a bug in the proxy: the test reports it
            self.errors.append(f"{type(error).__name__}: {error}")
        finally:
            with self._lock:
                self._clients.discard(client)
            with contextlib.suppress(OSError):
                reader.close()
            with contextlib.suppress(OSError):
                client.close()

    def _exchange(self, client: socket.socket, reader: object, start: str,
                  headers: list[tuple[str, str]]) -> bool:
        """One request and its answer; False when the client connection must close."""
        method, target, _version = [*start.split(" ", 2), "", ""][:3]
        exchange = Exchange(method, target, headers, body=bytearray() if self.keep_bodies else None)
        with self._lock:
            self.exchanges.append(exchange)
        fault = self.plan.decide(method, target, headers)
        exchange.fault = fault.kind if fault else None
        client_close = (_get(headers, "connection") or "").lower() == "close"
        length = _get(headers, "content-length")
        chunked = "chunked" in (_get(headers, "transfer-encoding") or "").lower()
        body_size = int(length) if length and length.isdigit() else None

        if (_get(headers, "expect") or "").lower() == "100-continue":
            # boto3 asks before sending a body: say yes here (the request goes on without the Expect)
            client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            headers = [(k, v) for k, v in headers if k.lower() != "expect"]
        if fault is not None and fault.kind == "reset_request":
            cut = int((body_size or 0) * fault.fraction)
            self._drain(reader, cut, exchange)
            _reset(client)
            raise _Closed("fault: reset_request")
        if fault is not None and fault.kind == "status":
            self._drain_body(reader, body_size, chunked, exchange)
            exchange.status = fault.status
            text = f'{{"detail":"injected {fault.status}"}}'.encode()
            extra = [("Retry-After", "0")] if fault.status in (429, 503) else []
            client.sendall(_head_bytes(f"HTTP/1.1 {fault.status} Injected", [
                ("Content-Type", "application/json"), ("Content-Length", str(len(text))), *extra]) + text)
            return not client_close

        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            # the server is down: answer as a reverse proxy does
            self._drain_body(reader, body_size, chunked, exchange)
            exchange.status = 502
            text = b'{"detail":"bad gateway: the server is down"}'
            client.sendall(_head_bytes("HTTP/1.1 502 Bad Gateway", [
                ("Content-Type", "application/json"), ("Content-Length", str(len(text)))]) + text)
            return not client_close
        upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        upstream.settimeout(None)
        up_reader = upstream.makefile("rb", buffering=CHUNK)
        try:
            forwarded = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]
            forwarded.append(("Connection", "close"))
            upstream.sendall(_head_bytes(start, forwarded))
            if chunked:
                self._relay_chunked(reader, upstream, exchange, "up", None)
            elif body_size:
                self._relay_exact(reader, upstream, body_size, exchange, "up", None)
            answer = _read_head(up_reader)
            if answer is None:
                raise _Closed("the server closed without an answer")
            status_line, answer_headers = answer
            exchange.status = int(status_line.split(" ", 2)[1])
            a_length = _get(answer_headers, "content-length")
            a_chunked = "chunked" in (_get(answer_headers, "transfer-encoding") or "").lower()
            no_body = method == "HEAD" or exchange.status in (204, 304) or 100 <= exchange.status < 200
            close_delimited = not no_body and not a_chunked and a_length is None
            out_headers = [(k, v) for k, v in answer_headers if k.lower() not in HOP_BY_HOP]
            if close_delimited or client_close:
                out_headers.append(("Connection", "close"))
            body_fault = fault if fault is not None and fault.kind in ("reset_response", "truncate",
                                                                        "stall") else None
            empty = no_body or a_length == "0"
            if body_fault is not None and (empty or body_fault.fraction < 0.2):
                # the server did the work, the answer is lost (or late): the case retries must survive
                if body_fault.kind == "stall":
                    time.sleep(body_fault.stall)
                else:
                    self._end(client, body_fault)
                body_fault = None
            client.sendall(_head_bytes(status_line, out_headers))
            if no_body:
                return not client_close
            if a_chunked:
                self._relay_chunked(up_reader, client, exchange, "down", body_fault)
            elif a_length is not None:
                self._relay_exact(up_reader, client, int(a_length), exchange, "down", body_fault)
            else:
                self._relay_until_eof(up_reader, client, exchange, body_fault)
                return False
            return not client_close
        finally:
            with contextlib.suppress(OSError):
                up_reader.close()
            with contextlib.suppress(OSError):
                upstream.close()

    # bodies -------------------------------------------------------------------------------------------
    def _count(self, exchange: Exchange, direction: str, data: bytes) -> None:
        if direction == "up":
            exchange.bytes_up += len(data)
            if exchange.body is not None:
                exchange.body += data
        else:
            exchange.bytes_down += len(data)
        if self.on_body is not None:
            self.on_body(exchange, direction, len(data))

    def _drain(self, reader: object, count: int, exchange: Exchange) -> None:
        while count > 0:
            data = reader.read1(min(CHUNK, count))  # type: ignore[attr-defined]
            if not data:
                raise _Closed("EOF in a request body")
            self._count(exchange, "up", data)
            count -= len(data)

    def _drain_body(self, reader: object, size: int | None, chunked: bool, exchange: Exchange) -> None:
        if chunked:
            self._relay_chunked(reader, None, exchange, "up", None)
        elif size:
            self._drain(reader, size, exchange)

    def _end(self, client: socket.socket, fault: Fault) -> None:
        if fault.kind == "truncate":
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()
        else:
            _reset(client)
        raise _Closed(f"fault: {fault.kind}")

    def _relay_exact(self, reader: object, out: socket.socket | None, size: int, exchange: Exchange,
                     direction: str, fault: Fault | None) -> None:
        cut = int(size * fault.fraction) if fault is not None else -1
        done = 0
        while done < size:
            want = min(CHUNK, size - done)
            if 0 <= cut - done < want:
                want = max(cut - done, 0)
            if fault is not None and done == cut:
                if fault.kind == "stall":
                    time.sleep(fault.stall)
                    cut, fault = -1, None
                    continue
                assert out is not None
                self._end(out, fault)
            data = reader.read1(want)  # type: ignore[attr-defined]
            if not data:
                raise _Closed("EOF in a body")
            if out is not None:
                out.sendall(data)
            self._count(exchange, direction, data)
            done += len(data)

    def _relay_chunked(self, reader: object, out: socket.socket | None, exchange: Exchange, direction: str,
                       fault: Fault | None) -> None:
        """Relay a chunked body as it comes (event streams stay live); a fault after ``fraction`` × 256
        KiB of data (a stream has no known length)."""
        cut = int(fault.fraction * 256 * 1024) if fault is not None else -1
        relayed = 0
        while True:
            size_line = reader.readline(1024)  # type: ignore[attr-defined]
            if not size_line:
                raise _Closed("EOF in a chunked body")
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            data = reader.read(size + 2) if size else b""  # type: ignore[attr-defined]
            if size and len(data) != size + 2:
                raise _Closed("EOF in a chunk")
            if fault is not None and relayed >= cut:
                if fault.kind == "stall":
                    time.sleep(fault.stall)
                    fault = None
                else:
                    assert out is not None
                    self._end(out, fault)
            if size == 0:
                trailer = reader.readline(1024)  # type: ignore[attr-defined]
                while trailer not in (b"\r\n", b"\n", b""):
                    trailer = reader.readline(1024)  # type: ignore[attr-defined]
                if out is not None:
                    out.sendall(b"0\r\n\r\n")
                return
            if out is not None:
                out.sendall(size_line + data)
            self._count(exchange, direction, data[:-2])
            relayed += size

    def _relay_until_eof(self, reader: object, out: socket.socket, exchange: Exchange,
                         fault: Fault | None) -> None:
        cut = int(fault.fraction * 256 * 1024) if fault is not None else -1
        relayed = 0
        while True:
            if fault is not None and relayed >= cut:
                if fault.kind == "stall":
                    time.sleep(fault.stall)
                    fault = None
                else:
                    self._end(out, fault)
            data = reader.read1(CHUNK)  # type: ignore[attr-defined]
            if not data:
                out.close()
                return
            out.sendall(data)
            self._count(exchange, "down", data)
            relayed += len(data)
