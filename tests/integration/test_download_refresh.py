"""Downloads that outlive their URL: renewed through download_refresh (not counted) or, on a server
without it, through a new download-url (counted), against real `sgsend serve` processes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.model import TransferOptions, TransferState
from tests.helpers.seaweed import SeaweedS3
from tests.helpers.servers import ServerProc, running_server
from tests.integration.conftest import (
    FINISHED,
    MiB,
    hide_capabilities,
    make_file,
    sha256,
    wait_for,
    wait_state,
)

SHORT_URLS = ["--url-expiry", "2"]


@pytest.fixture(params=["disk", "s3"])
def short_url_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProc]:
    store: SeaweedS3 | None = request.getfixturevalue("seaweedfs") if request.param == "s3" else None
    backend = str(request.param)
    with running_server(tmp_path / "server", backend=backend, extra_args=SHORT_URLS, s3=store) as server:
        yield server


def info(server: ServerProc, transfer_id: str | None) -> dict[str, object]:
    result: dict[str, object] = httpx.get(f"{server.url}/api/transfers/info/{transfer_id}", timeout=10).json()
    return result


def send_once(engine: TransferEngine, source: Path, max_downloads: int) -> tuple[str, str | None]:
    [sent] = engine.send([source], TransferOptions(max_downloads=max_downloads))
    snap = wait_state(engine, sent, FINISHED)
    assert snap.state is TransferState.DONE, snap.error
    assert snap.share_link
    return snap.share_link, snap.transfer_id


def test_a_slow_single_download_outlives_its_url_and_counts_once(
        short_url_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sgsend_desktop")
    server = short_url_server
    sender = make_engine(server.url, data_dir=tmp_path / "sender")
    source = make_file(tmp_path / "once.bin", 20 * MiB, seed=21)
    link, transfer_id = send_once(sender, source, max_downloads=1)
    # ~4 s at 5 MiB/s: the 2-second URL expires at least once mid-download
    receiver = make_engine(server.url, data_dir=tmp_path / "receiver", workers=2,
                           download_limit_bps=5 * MiB)
    local = receiver.receive(link, dest_dir=tmp_path / "out")
    wait_for(lambda: bool(receiver.journal.get(local).download_ticket), 60, "the download ticket")
    ticket = receiver.journal.get(local).download_ticket or ""
    got = wait_state(receiver, local, FINISHED)
    assert got.state is TransferState.DONE, got.error
    assert sha256(Path(got.saved_path or "")) == sha256(source)
    assert info(server, transfer_id)["download_count"] == 1
    assert info(server, transfer_id)["status"] == "exhausted"
    assert "download-url/refresh" in caplog.text  # the path taken is in the log ...
    assert "counts as a download" not in caplog.text
    assert ticket and ticket not in caplog.text  # ... the ticket is not
    assert receiver.journal.get(local).download_ticket is None  # dropped once done


def test_a_resumed_single_download_renews_its_expired_url(
        make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    with running_server(tmp_path / "server", extra_args=SHORT_URLS) as server:
        sender = make_engine(server.url, data_dir=tmp_path / "sender")
        source = make_file(tmp_path / "resumed.bin", 24 * MiB, seed=22)
        link, transfer_id = send_once(sender, source, max_downloads=1)
        receiver = make_engine(server.url, data_dir=tmp_path / "receiver", download_limit_bps=6 * MiB)
        local = receiver.receive(link, dest_dir=tmp_path / "out")
        wait_for(lambda: receiver.journal.get(local).decrypted_to > 0, 60, "a resume point")
        receiver.pause(local)
        wait_state(receiver, local, [TransferState.PAUSED])
        time.sleep(2.5)  # the URL has expired; info now says "exhausted" (this download used the grant)
        assert info(server, transfer_id)["status"] == "exhausted"
        receiver.set_limits(download_limit_bps=None)
        receiver.resume(local)
        final = wait_state(receiver, local, FINISHED)
        assert final.state is TransferState.DONE, final.error
        assert sha256(Path(final.saved_path or "")) == sha256(source)
        assert info(server, transfer_id)["download_count"] == 1


def test_a_refused_ticket_falls_back_to_a_new_download_url(
        make_engine: Callable[..., TransferEngine], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sgsend_desktop")
    with running_server(tmp_path / "server", extra_args=SHORT_URLS) as server:
        sender = make_engine(server.url, data_dir=tmp_path / "sender")
        source = make_file(tmp_path / "forged.bin", 40 * MiB, seed=23)
        link, transfer_id = send_once(sender, source, max_downloads=0)
        receiver = make_engine(server.url, data_dir=tmp_path / "receiver", download_limit_bps=6 * MiB)
        local = receiver.receive(link, dest_dir=tmp_path / "out")
        wait_for(lambda: receiver.journal.get(local).decrypted_to > 0, 60, "a resume point")
        receiver.pause(local)
        wait_state(receiver, local, [TransferState.PAUSED])
        receiver.journal.update(local, download_ticket="AAAA.BBBB", download_url_expires=time.time() - 10)
        receiver.set_limits(download_limit_bps=None)
        receiver.resume(local)
        final = wait_state(receiver, local, FINISHED)
        assert final.state is TransferState.DONE, final.error
        assert sha256(Path(final.saved_path or "")) == sha256(source)
        assert "refused the download ticket" in caplog.text
        assert info(server, transfer_id)["download_count"] == 2  # the fallback counted one more


@pytest.fixture
def no_download_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client sees a server without the download_refresh extension (as upstream)."""
    hide_capabilities(monkeypatch, download_refresh=False)


def test_without_the_extension_expired_urls_are_renewed_with_download_url(
        no_download_refresh: None, make_engine: Callable[..., TransferEngine], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sgsend_desktop")
    with running_server(tmp_path / "server", extra_args=SHORT_URLS) as server:
        sender = make_engine(server.url, data_dir=tmp_path / "sender")
        source = make_file(tmp_path / "plain.bin", 20 * MiB, seed=24)
        link, transfer_id = send_once(sender, source, max_downloads=0)
        receiver = make_engine(server.url, data_dir=tmp_path / "receiver", workers=2,
                               download_limit_bps=5 * MiB)
        got = wait_state(receiver, receiver.receive(link, dest_dir=tmp_path / "out"), FINISHED)
        assert got.state is TransferState.DONE, got.error
        assert sha256(Path(got.saved_path or "")) == sha256(source)
        assert "no download_refresh extension" in caplog.text
        assert "download-url/refresh" not in caplog.text
        count = info(server, transfer_id)["download_count"]
        assert isinstance(count, int) and count >= 2  # each renewal was a counted download-url


def test_a_v2_journal_gains_the_ticket_column(tmp_path: Path) -> None:
    import sqlite3

    from sgsend_desktop.core.journal import MIGRATIONS, SCHEMA_VERSION, Journal

    db = sqlite3.connect(tmp_path / "v2.sqlite3")
    for script in MIGRATIONS[:2]:
        db.executescript(script)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    db.execute("INSERT INTO schema_version VALUES (2)")
    db.execute("INSERT INTO transfers (id, direction, state, position, server_url, created_at, updated_at, "
               "download_url, download_url_expires) "
               "VALUES ('old', 'receive', 'paused', 0, 'http://h', 1, 1, 'http://h/u', 5)")
    db.commit()
    db.close()
    journal = Journal(tmp_path / "v2.sqlite3")
    assert journal.schema_version == SCHEMA_VERSION >= 3
    row = journal.get("old")
    assert row.download_ticket is None and row.download_url == "http://h/u"
    journal.update("old", download_ticket="secret-ticket")
    assert journal.get("old").download_ticket == "secret-ticket"
    assert "secret-ticket" not in repr(journal.get("old"))
    journal.close()
