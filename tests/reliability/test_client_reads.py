"""Issue 9 items 5, 6 and 13, and issue 10, on the download side: every read from a server is bounded by
what was asked and by what ``info`` declares, a server that drips bytes ends in one sentence, a link that
drops every few MB still completes (refetching at most one read per drop), and a ``kill -9`` mid-receive
refetches at most ``workers × RANGE_SIZE``.

The hostile behaviours come from a small fake server + storage on 127.0.0.1 (``_Hostile``: the API routes a
receive uses and a presigned GET serving one real encrypted payload, misbehaving as told). The dropping
link and the kill -9 run against a real `sgsend serve` through ``tests/helpers/drop_proxy.py``."""

from __future__ import annotations

import datetime
import io
import ipaddress
import json
import os
import ssl
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sgsend_desktop.core import api, crypto, download, presigned
from sgsend_desktop.core.download import RANGE_SIZE, partial_path
from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.journal import Journal
from sgsend_desktop.core.links import make_link
from sgsend_desktop.core.model import Direction, TransferSnapshot, TransferState
from sgsend_desktop.core.retry import RetryPolicy
from tests.helpers.drop_proxy import DropProxy
from tests.helpers.servers import ServerProc
from tests.integration.conftest import (
    FINISHED,
    MiB,
    make_file,
    run_cli,
    sha256,
    start_cli,
    wait_for,
    wait_state,
)

TID = "0123456789ab"
QUICK = RetryPolicy(max_attempts=3, base_delay=0.05, max_delay=0.2)
READ_CHUNK = 64 * 1024
Payload = tuple[bytes, bytes, bytes]  # key, content, encrypted payload


class _Hostile:
    """A fake SGraph Send server and its storage, serving one real payload; ``mode`` says how it lies
    ("honest": not at all). ``tls``: (certificate, key) files to serve https with."""

    def __init__(self, payload: bytes, mode: str, declared: int | None = None,
                 tls: tuple[Path, Path] | None = None) -> None:
        self.payload, self.mode = payload, mode
        self.declared = len(payload) if declared is None else declared
        self.sent: list[int] = []      # body bytes written per storage answer
        self.gets = 0
        handler = type("Handler", (_Handler,), {"hostile": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Hostile:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def link(self, key: bytes) -> str:
        return make_link(self.url, TID, key).combined()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hostile: _Hostile

    def log_message(self, *_: object) -> None:
        pass

    def _json(self, body: object, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def do_GET(self) -> None:
        hostile, mode, path = self.hostile, self.hostile.mode, self.path.split("?")[0]
        try:
            if path == "/api/presigned/capabilities":
                if mode == "gzip-json":
                    return self._bomb()
                return self._json({"presigned_download": mode != "direct", "presigned_upload": False,
                                   "multipart_upload": False})
            if path == f"/api/transfers/info/{TID}":
                if mode in ("endless-json", "drip-json"):
                    return self._endless_json(drip=mode == "drip-json")
                return self._json({"transfer_id": TID, "status": "completed", "download_count": 0,
                                   "file_size_bytes": hostile.declared, "max_downloads": 0})
            if path == f"/api/presigned/download-url/{TID}":
                return self._json({"download_url": f"{hostile.url}/storage/payload", "expires_in": 3600})
            if path == f"/api/transfers/download/{TID}":
                return self._storage(None)
            if path == "/storage/payload":
                return self._storage(self.headers.get("range"))
            self._json({"detail": "Not found"}, 404)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _bomb(self) -> None:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip: 100 MiB of zeros in ~100 KB
        zeros = bytes(MiB)
        body = b"".join(packer.compress(zeros) for _ in range(100)) + packer.flush()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-encoding", "gzip")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _endless_json(self, drip: bool) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self._chunk(b'{"transfer_id": "' + TID.encode() + b'", "padding": "')
        for _ in range(10_000 if not drip else 200):
            self._chunk(b"x" if drip else b"x" * 65536)
            if drip:
                time.sleep(0.2)

    def _storage(self, asked: str | None) -> None:
        hostile, payload, mode = self.hostile, self.hostile.payload, self.hostile.mode
        hostile.gets += 1
        start, end = 0, len(payload) - 1
        if asked and mode != "ignore-range":
            first, _, last = asked.removeprefix("bytes=").partition("-")
            start, end = int(first), min(int(last), len(payload) - 1)
        total = len(payload)
        if mode == "huge-total":
            total = 10**15
        elif mode == "changing-total" and start > 0:
            total = len(payload) + 1
        shown_start = start + 1 if mode == "wrong-range" and start > 0 else start
        self.send_response(206 if asked and mode != "ignore-range" else 200)
        if asked and mode != "ignore-range":
            self.send_header("content-range", f"bytes {shown_start}-{end}/{total}")
        sent = 0
        if mode in ("endless-range", "direct"):
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            body = payload[start:end + 1]
            for at in range(0, len(body), 65536):
                self._chunk(body[at:at + 65536])
                sent += len(body[at:at + 65536])
            garbage = os.urandom(65536)
            for _ in range(1024):  # then 64 MiB more than asked (the old client took all of it)
                self._chunk(garbage)
                sent += len(garbage)
            hostile.sent.append(sent)
            return
        self.send_header("content-length", str(end - start + 1))
        self.end_headers()
        if mode == "drip":
            for at in range(start, end + 1):
                self.wfile.write(payload[at:at + 1])
                self.wfile.flush()
                time.sleep(0.2)
            return
        self.wfile.write(payload[start:end + 1])
        hostile.sent.append(end - start + 1)


@pytest.fixture
def payload() -> Payload:
    """(key, content, payload) of a 20 MiB file named hostile.bin (three ranges)."""
    key = crypto.generate_key()
    content = os.urandom(20 * MiB + 11)
    return key, content, b"".join(crypto.iter_encrypted_payload(key, io.BytesIO(content), "hostile.bin"))


def _receive(make_engine: Callable[..., TransferEngine], hostile: _Hostile, key: bytes, tmp_path: Path,
             timeout: float = 120) -> TransferSnapshot:
    engine = make_engine(hostile.url, data_dir=tmp_path / "receiver", retry=QUICK)
    local_id = engine.receive(hostile.link(key), dest_dir=tmp_path / "in")
    return wait_state(engine, local_id, FINISHED, timeout=timeout)


def _one_sentence(snap: TransferSnapshot) -> str:
    assert snap.state is TransferState.FAILED, snap
    assert snap.error and "\n" not in snap.error and "Traceback" not in snap.error, snap.error
    return snap.error


def test_a_range_that_never_ends_stops_at_what_was_asked(
        payload: Payload, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    key, content, data = payload
    with _Hostile(data, "endless-range") as hostile:
        snap = _receive(make_engine, hostile, key, tmp_path)
    assert snap.state is TransferState.DONE, snap.error
    assert Path(snap.saved_path or "").read_bytes() == content
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["hostile.bin"]


def test_a_content_range_total_of_10_to_the_15_is_refused_in_one_sentence(
        payload: Payload, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    key, _, data = payload
    started = time.monotonic()
    with _Hostile(data, "huge-total") as hostile:
        error = _one_sentence(_receive(make_engine, hostile, key, tmp_path))
    assert "1000000000000000 bytes" in error and f"{len(data)}" in error, error
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("mode, words", [("changing-total", "changed the file's size"),
                                         ("wrong-range", "when"),
                                         ("gzip-json", "compressed answer"),
                                         ("endless-json", "too large")])
def test_answers_that_disagree_or_have_no_end_are_refused(
        mode: str, words: str, payload: Payload,
        make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    key, _, data = payload
    with _Hostile(data, mode) as hostile:
        error = _one_sentence(_receive(make_engine, hostile, key, tmp_path))
    assert words in error, error
    assert not any(p.name == "hostile.bin" for p in (tmp_path / "in").iterdir())


def test_a_size_info_does_not_declare_is_refused(
        payload: Payload, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    """info says 1 MiB; the storage offers 20 MiB."""
    key, _, data = payload
    with _Hostile(data, "honest", declared=MiB) as hostile:
        error = _one_sentence(_receive(make_engine, hostile, key, tmp_path))
    assert f"offers {len(data)} bytes" in error, error


def test_the_direct_route_stops_at_the_transfers_size(
        payload: Payload, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    key, _, data = payload
    with _Hostile(data, "direct") as hostile:
        error = _one_sentence(_receive(make_engine, hostile, key, tmp_path))
    assert "more bytes than the transfer has" in error, error


def test_a_store_that_ignores_range_still_delivers(
        payload: Payload, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    """The whole payload in one 200 answer goes round one slot of the window; every byte still once."""
    key, content, data = payload
    with _Hostile(data, "ignore-range") as hostile:
        snap = _receive(make_engine, hostile, key, tmp_path)
        assert hostile.gets == 1
    assert snap.state is TransferState.DONE, snap.error
    assert Path(snap.saved_path or "").read_bytes() == content


def test_a_drip_fed_range_ends_in_one_sentence_after_the_retries(
        payload: Payload, make_engine: Callable[..., TransferEngine], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A byte every 0.2 s never trips a read timeout; the stall check (here 1 s for 64 KiB, in the app
    60 s) does, and the range gives up after its tries."""
    monkeypatch.setattr(download, "STALL_SECONDS", 1.0)
    key, _, data = payload
    started = time.monotonic()
    with _Hostile(data, "drip") as hostile:
        error = _one_sentence(_receive(make_engine, hostile, key, tmp_path))
    assert "the storage sent only" in error and "gave up after 3 attempts" in error, error
    assert time.monotonic() - started < 60


def test_a_drip_fed_api_answer_ends_in_one_sentence(
        payload: Payload, make_engine: Callable[..., TransferEngine], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api, "ANSWER_DEADLINE", 1.0)
    key, _, data = payload
    started = time.monotonic()
    with _Hostile(data, "drip-json") as hostile:
        error = _one_sentence(_receive(make_engine, hostile, key, tmp_path))
    assert "did not arrive in time" in error and "gave up after 3 attempts" in error, error
    assert time.monotonic() - started < 60


def _proxied_link(link: str, server: ServerProc, proxy: DropProxy) -> str:
    assert link.startswith(server.url)
    return proxy.url + link[len(server.url):]


def _payload_size(data_dir: Path) -> int:
    journal = Journal(data_dir / "journal.sqlite3")
    try:
        [row] = [r for r in journal.all() if r.direction is Direction.RECEIVE]
        assert row.payload_size
        return row.payload_size
    finally:
        journal.close()


def test_a_link_that_drops_every_6_mb_still_completes_refetching_at_most_a_read_per_drop(
        disk_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    """Through a proxy that cuts each connection after 6 MB (a range is 8 MiB): every range continues
    from its last byte, and what the storage sends twice is at most one socket read per cut."""
    sender = make_engine(disk_server.url, data_dir=tmp_path / "sender")
    source = make_file(tmp_path / "dropping.bin", 40 * MiB + 5, seed=31)
    sent = wait_state(sender, sender.send([source])[0], FINISHED)
    assert sent.state is TransferState.DONE and sent.share_link
    with DropProxy(disk_server.url, drop_every=6_000_000) as proxy:
        receiver = make_engine(proxy.url, data_dir=tmp_path / "receiver", retry=QUICK)
        link = _proxied_link(sent.share_link, disk_server, proxy)
        local_id = receiver.receive(link, dest_dir=tmp_path / "in")
        got = wait_state(receiver, local_id, FINISHED)
        assert got.state is TransferState.DONE, got.error
        assert sha256(Path(got.saved_path or "")) == sha256(source)
        fetched = proxy.body_bytes("GET", "/storage/")
        payload_size = receiver.journal.get(local_id).payload_size or 0
        drops = proxy.drops
    assert drops >= 4  # 40 MiB through connections of at most 6 MB (4 workers: the last ones carry less)
    assert payload_size <= fetched <= payload_size + drops * READ_CHUNK, (fetched, payload_size, drops)


def test_kill9_mid_receive_refetches_at_most_workers_times_range_size(
        disk_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    """`sgsend get` killed (-9) half-way, then `sgsend resume`: the storage sent the payload once, plus
    at most the window (workers x range size) that was in memory."""
    sender = make_engine(disk_server.url, data_dir=tmp_path / "sender")
    source = make_file(tmp_path / "killed.bin", 96 * MiB + 7, seed=32)
    sent = wait_state(sender, sender.send([source])[0], FINISHED)
    assert sent.state is TransferState.DONE and sent.share_link
    data = tmp_path / "data"
    out = tmp_path / "out"
    with DropProxy(disk_server.url) as proxy:
        link = _proxied_link(sent.share_link, disk_server, proxy)
        proc = start_cli(["get", link, "-o", str(out), "--limit", "24M", "--workers", "4"], data, proxy.url)
        try:
            wait_for(lambda: proxy.body_bytes("GET", "/storage/") >= 48 * MiB, 60, "half of the file")
        finally:
            proc.kill()
            proc.wait(timeout=10)
        first_run = proxy.body_bytes("GET", "/storage/")
        resumed = run_cli(["resume", "--all", "--workers", "4"], data, proxy.url)
        assert resumed.returncode == 0, resumed.stderr
        saved = Path(resumed.stdout.strip())
        assert sha256(saved) == sha256(source)
        fetched = proxy.body_bytes("GET", "/storage/")
    payload_size = _payload_size(data)
    assert first_run < payload_size
    assert fetched - payload_size <= 4 * RANGE_SIZE, (fetched - payload_size) / MiB


def test_after_a_reboot_a_resume_starts_from_the_last_synced_point(
        disk_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    """The journal's resume point is written before its bytes are synced (the page cache outlives a
    killed process); after a reboot — another boot id — only the synced point counts. Here the unsynced
    point claims 8 MiB more than the partial file really holds in good bytes: with the same boot the
    resume would trust it (and fail on the tag), after a reboot it starts from the synced one."""
    sender = make_engine(disk_server.url, data_dir=tmp_path / "sender")
    source = make_file(tmp_path / "rebooted.bin", 40 * MiB, seed=33)
    sent = wait_state(sender, sender.send([source])[0], FINISHED)
    assert sent.share_link
    receiver = make_engine(disk_server.url, data_dir=tmp_path / "receiver", download_limit_bps=12 * MiB)
    out = tmp_path / "out"
    local = receiver.receive(sent.share_link, dest_dir=out)
    wait_for(lambda: receiver.journal.get(local).decrypted_to >= RANGE_SIZE, 60, "a resume point")
    receiver.pause(local)
    wait_state(receiver, local, [TransferState.PAUSED])
    row = receiver.journal.get(local)
    assert row.synced_to == row.decrypted_to and row.synced_content == row.content_written  # paused: synced
    with open(partial_path(out, local), "ab") as lost:  # "written, never synced, gone in the crash"
        lost.write(b"\0" * RANGE_SIZE)
    receiver.journal.update(local, decrypted_to=row.decrypted_to + RANGE_SIZE,
                            content_written=row.content_written + RANGE_SIZE, resume_boot="another boot")
    receiver.set_limits(download_limit_bps=None)
    receiver.resume(local)
    final = wait_state(receiver, local, FINISHED)
    assert final.state is TransferState.DONE, final.error
    assert sha256(Path(final.saved_path or "")) == sha256(source)


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, the certificate its own authority."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sgsend test storage")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "storage.pem", folder / "storage.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def test_ranges_over_https_trust_what_httpx_trusts(
        payload: Payload, make_engine: Callable[..., TransferEngine], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The storage connections (http.client) use httpx's TLS context: a certificate httpx trusts
    (SSL_CERT_FILE here) is trusted, and one it does not is refused in one sentence, not waited out."""
    key, content, data = payload
    cert, cert_key = _self_signed(tmp_path)
    with _Hostile(data, "honest", tls=(cert, cert_key)) as hostile:
        refused = _one_sentence(_receive(make_engine, hostile, key, tmp_path / "untrusted"))
        assert "certificate" in refused.lower() or "ssl" in refused.lower(), refused
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        snap = _receive(make_engine, hostile, key, tmp_path / "trusted")
    assert snap.state is TransferState.DONE, snap.error
    assert Path(snap.saved_path or "").read_bytes() == content


def test_with_a_proxy_configured_transfers_go_through_httpx(
        disk_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Part PUTs and ranged GETs take httpx (which honours proxy settings) when a proxy is configured:
    the same bytes, the same checks."""
    monkeypatch.setattr(presigned, "proxied", lambda: True)
    sender = make_engine(disk_server.url, data_dir=tmp_path / "sender")
    source = make_file(tmp_path / "via-httpx.bin", 21 * MiB + 3, seed=34)
    sent = wait_state(sender, sender.send([source])[0], FINISHED)
    assert sent.state is TransferState.DONE and sent.share_link, sent.error
    receiver = make_engine(disk_server.url, data_dir=tmp_path / "receiver")
    got = wait_state(receiver, receiver.receive(sent.share_link, dest_dir=tmp_path / "in"), FINISHED)
    assert got.state is TransferState.DONE, got.error
    assert sha256(Path(got.saved_path or "")) == sha256(source)
