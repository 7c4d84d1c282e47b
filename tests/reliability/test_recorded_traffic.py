"""Issue 9: what goes over the wire and into the logs. A send and a receive (a random key, multipart; a
friendly word key, direct route) through a recording proxy, every process at SGSEND_LOG_LEVEL=DEBUG and
the server at --log-level debug: the key (raw, base64url, base64, hex), the friendly token and the file
name appear in no request — URL, headers or body (the body is ciphertext) — and in no log line. A few
requests fail on the way (seeded), so the retry paths write their log lines too."""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

from sgsend_desktop.core import crypto
from sgsend_desktop.core.links import parse_link
from tests.helpers.servers import running_server
from tests.integration.conftest import MiB, make_file, run_cli, sha256
from tests.reliability.chaos import test_seed
from tests.reliability.fault_proxy import FaultPlan, FaultProxy

NAME = "Quarterly Board Minutes ZQX7.pdf"
FRIENDLY_NAME = "payroll-wvq.csv"
LOG_LINE = re.compile(r"^sgsend: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


def _forms(key: bytes) -> list[bytes]:
    return [key, crypto.encode_key(key).encode(), key.hex().encode(), key.hex().upper().encode(),
            base64.b64encode(key), base64.b64encode(key).rstrip(b"=")]


def test_no_key_and_no_name_in_any_request_or_log_line(tmp_path: Path) -> None:
    big = make_file(tmp_path / NAME, 12 * MiB + 3, seed=21)           # multipart: presigned part PUTs
    small = make_file(tmp_path / FRIENDLY_NAME, 200 * 1024, seed=22)   # direct upload route
    # some requests fail (resets, truncations, 5xx): the retry paths log the errors they met, too
    plan = FaultPlan(test_seed("recorded traffic"), rate=0.15,
                     kinds=("status", "reset_request", "reset_response", "truncate"))
    os.environ["SGSEND_LOG_LEVEL"] = "DEBUG"
    try:
        with running_server(tmp_path, extra_args=["--log-level", "debug"]) as server, \
                FaultProxy(server.url, plan, keep_bodies=True) as proxy:
            sent = run_cli(["send", str(big)], tmp_path / "a", proxy.url)
            assert sent.returncode == 0, sent.stderr
            sent_friendly = run_cli(["send", "--friendly", "web", str(small)], tmp_path / "a", proxy.url)
            assert sent_friendly.returncode == 0, sent_friendly.stderr
            link = sent.stdout.strip().splitlines()[-1]
            friendly_link = sent_friendly.stdout.strip().splitlines()[-1]
            got = run_cli(["get", link, "-o", str(tmp_path / "in")], tmp_path / "b", proxy.url)
            got_friendly = run_cli(["get", friendly_link, "-o", str(tmp_path / "in")], tmp_path / "b",
                                   proxy.url)
            assert got.returncode == 0, got.stderr
            assert got_friendly.returncode == 0, got_friendly.stderr
            server_log = "".join(server.output)
            exchanges = proxy.seen()
    finally:
        del os.environ["SGSEND_LOG_LEVEL"]
    assert sha256(Path(got.stdout.strip())) == sha256(big)
    assert sha256(Path(got_friendly.stdout.strip())) == sha256(small)

    parsed, friendly = parse_link(link), parse_link(friendly_link)
    token = friendly.key_text or "?"
    assert crypto.is_friendly_token(token)
    secrets = [*_forms(parsed.require_key()), *_forms(friendly.require_key()), token.encode()]
    names = [name.encode() for name in (NAME, FRIENDLY_NAME, "Quarterly", "payroll")]
    names += [name.encode("utf-16-le") for name in (NAME, FRIENDLY_NAME)]

    # every request: target, headers, body
    assert any(e.method == "PUT" and e.path.startswith("/storage/") for e in exchanges)
    assert any(e.path.startswith("/api/transfers/upload/") for e in exchanges)
    body_bytes = 0
    for exchange in exchanges:
        head = (exchange.method + " " + exchange.target + "\n"
                + "\n".join(f"{k}: {v}" for k, v in exchange.headers)).encode("latin-1")
        body = bytes(exchange.body or b"")
        body_bytes += len(body)
        for needle in secrets + names:
            where = f"{exchange.method} {exchange.path}"
            assert needle not in head, f"{needle!r} in the URL or headers of {where}"
            assert needle not in body, f"{needle!r} in the body of {where}"
    assert body_bytes > 12 * MiB  # the payloads really were looked at

    # every log line of the four commands and of the server
    client_stderr = sent.stderr + sent_friendly.stderr + got.stderr + got_friendly.stderr
    log_lines = [line for line in client_stderr.splitlines() if LOG_LINE.match(line)]
    assert len(log_lines) >= 4 and any(" DEBUG " in line or " INFO " in line for line in log_lines)
    # (the server has no access log — uvicorn's is off — so its debug output is short; searched all the same)
    for needle in secrets + names:
        text = needle.decode("latin-1")
        for line in log_lines:
            assert text not in line, f"{text!r} in a log line: {line}"
        assert text not in server_log, f"{text!r} in the server's log"
    for needle in secrets:  # no key on stderr at all (progress lines name the file: the user's own view)
        assert needle.decode("latin-1") not in client_stderr
    print(f"faults: {dict(plan.injected)}; {len(exchanges)} requests, {body_bytes} body bytes, "
          f"{len(log_lines)} client log lines and {len(server.output)} server lines searched")
