"""Issue 9, item 12: no log line holds a key or a presigned URL's signature, even at DEBUG; the journal
is owner-only."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from sgsend_desktop.core import crypto
from sgsend_desktop.core.links import parse_link
from sgsend_desktop.core.logsetup import RedactingFilter, configured_level, redact
from tests.helpers.servers import ServerProc
from tests.integration.conftest import make_file, run_cli


def test_redact_cuts_every_query_string() -> None:
    line = "HTTP Request: PUT http://127.0.0.1:9/storage/a/b?expires=1&sig=SECRET \"HTTP/1.1 200 OK\""
    assert "SECRET" not in redact(line) and "http://127.0.0.1:9/storage/a/b?…" in redact(line)
    assert redact("https://s3.example/b/k?X-Amz-Signature=abc&X-Amz-Credential=x") == "https://s3.example/b/k?…"


def test_the_filter_rewrites_records_with_args() -> None:
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "GET %s", ("http://h/p?sig=S",), None)
    assert RedactingFilter().filter(record) and record.getMessage() == "GET http://h/p?…"


def test_one_level_variable_and_a_safe_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SGSEND_LOG_LEVEL", "debug")
    assert configured_level() == logging.DEBUG
    monkeypatch.setenv("SGSEND_LOG_LEVEL", "not-a-level")
    assert configured_level() == logging.WARNING


def test_a_debug_log_of_a_send_and_a_receive_holds_no_key_and_no_signature(
        tmp_path: Path, disk_server: ServerProc) -> None:
    source = make_file(tmp_path / "quarterly-report.bin", 12 * 1024 * 1024)  # multipart: presigned PUTs
    os.environ["SGSEND_LOG_LEVEL"] = "DEBUG"
    try:
        sent = run_cli(["send", str(source)], tmp_path / "a", disk_server.url)
        assert sent.returncode == 0, sent.stderr
        link = sent.stdout.strip().splitlines()[-1]
        got = run_cli(["get", link, "-o", str(tmp_path / "in")], tmp_path / "b", disk_server.url)
        assert got.returncode == 0, got.stderr
    finally:
        del os.environ["SGSEND_LOG_LEVEL"]
    logs = sent.stderr + got.stderr
    assert " INFO " in logs  # the log really was verbose
    key = parse_link(link).require_key()
    for secret in (crypto.encode_key(key), key.hex(), parse_link(link).key_text or "?"):
        assert secret not in logs
    assert "sig=" not in logs and "expires=" not in logs


def test_the_journal_is_owner_only_in_a_0755_data_dir(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from sgsend_desktop.core import config
    from sgsend_desktop.core.journal import Journal

    old_umask = os.umask(0o022)
    try:
        data = tmp_path / "data"
        data.mkdir(mode=0o755)
        monkeypatch.setenv("SGSEND_DATA_DIR", str(data))
        assert config.data_dir() == data and data.stat().st_mode & 0o777 == 0o700
        (data / config.JOURNAL_FILE).write_bytes(b"")  # an old journal made under umask 022
        os.chmod(data / config.JOURNAL_FILE, 0o644)
        journal = Journal(config.journal_path(data))
        journal.close()
        for name in (config.JOURNAL_FILE, f"{config.JOURNAL_FILE}-wal", f"{config.JOURNAL_FILE}-shm"):
            if (data / name).exists():
                assert (data / name).stat().st_mode & 0o777 == 0o600, name
    finally:
        os.umask(old_umask)


def test_a_receives_key_is_dropped_once_the_file_is_saved(tmp_path: Path, disk_server: ServerProc) -> None:
    from sgsend_desktop.core.engine import TransferEngine
    from sgsend_desktop.core.model import TransferState
    from tests.integration.conftest import wait_state

    engine = TransferEngine(tmp_path / "data", disk_server.url)
    engine.start()
    try:
        sent = wait_state(engine, engine.send([make_file(tmp_path / "k.bin", 5000)])[0], [TransferState.DONE])
        assert sent.share_link and engine.secrets.get(sent.id)  # a send keeps its key: its link needs it
        got = engine.receive(sent.share_link, dest_dir=tmp_path / "in")
        assert wait_state(engine, got, [TransferState.DONE, TransferState.FAILED]).state is TransferState.DONE
        assert engine.secrets.get(got) is None
        engine.discard(sent.id)
        assert engine.secrets.get(sent.id) is None  # a discarded row takes its key along
    finally:
        engine.close()
