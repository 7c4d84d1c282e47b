"""The transfer CLI end to end: a ≥300 MiB file, cross-process pause/cancel, the embedded server."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from sgsend_desktop.core.journal import Journal
from sgsend_desktop.core.model import TransferState
from tests.helpers.servers import ServerProc
from tests.integration.conftest import MiB, make_file, run_cli, sha256, start_cli, wait_for


@pytest.mark.slow
def test_300_mib_file_round_trips_through_the_cli(disk_server: ServerProc, tmp_path: Path) -> None:
    source = make_file(tmp_path / "huge.bin", 300 * MiB + 17, seed=300)
    sent = run_cli(["send", str(source), "--link-only"], tmp_path / "sender", disk_server.url, timeout=600)
    assert sent.returncode == 0, sent.stderr
    link, key = sent.stdout.split()
    assert key not in link
    got = run_cli(["get", link, "--key", key, "-o", str(tmp_path / "out")], tmp_path / "receiver",
                  disk_server.url, timeout=600)
    assert got.returncode == 0, got.stderr
    saved = Path(got.stdout.strip())
    assert saved.stat().st_size == source.stat().st_size
    assert sha256(saved) == sha256(source)


def test_pause_and_cancel_from_another_process(disk_server: ServerProc, tmp_path: Path) -> None:
    data = tmp_path / "data"
    source = make_file(tmp_path / "slow.bin", 30 * MiB)
    proc = start_cli(["send", str(source), "--limit", "4M"], data, disk_server.url)
    journal_file = data / "journal.sqlite3"
    wait_for(lambda: journal_file.exists(), 30, "the journal")
    journal = Journal(journal_file)
    try:
        wait_for(lambda: bool(journal.all()) and journal.all()[0].state is TransferState.UPLOADING, 30,
                 "the upload to start")
        local_id = journal.all()[0].id
        started = time.monotonic()
        paused = run_cli(["pause", local_id], data, disk_server.url)
        assert paused.returncode == 0, paused.stderr
        stdout, stderr = proc.communicate(timeout=30)
        assert time.monotonic() - started < 10
        assert proc.returncode == 1 and stdout == ""
        assert f"sgsend resume {local_id}" in stderr
        row = journal.get(local_id)
        assert row.state is TransferState.PAUSED and row.upload_id
        listed = run_cli(["list"], data, disk_server.url)
        assert re.search(rf"{local_id}\s+\S+ paused", listed.stdout)
        assert " 30.0 MB  slow.bin" in listed.stdout  # the window's units (30 MiB), not 31.5 "MB"

        cancelled = run_cli(["cancel", local_id], data, disk_server.url)
        assert cancelled.returncode == 0, cancelled.stderr
        assert journal.get(local_id).state is TransferState.CANCELLED
        resumed = run_cli(["resume", local_id], data, disk_server.url)
        assert resumed.returncode == 1 and "nothing to resume" in resumed.stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        journal.close()


def test_without_a_server_the_embedded_one_is_used(tmp_path: Path) -> None:
    source = make_file(tmp_path / "local.bin", 7 * MiB)
    data = tmp_path / "data"
    sent = run_cli(["send", str(source)], data, None)
    assert sent.returncode == 0, sent.stderr
    assert "embedded local server" in sent.stderr
    [link] = sent.stdout.split()
    assert link.startswith("http://127.0.0.1:")
    assert (data / "server").is_dir()
