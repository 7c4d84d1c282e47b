"""Concurrency, expiring part URLs and a 503 burst, against a fresh `sgsend serve` each."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.model import TransferState
from tests.helpers.servers import running_server
from tests.integration.conftest import FINISHED, MiB, make_file, sha256, test_stats, wait_state


def _round_trip(engine: TransferEngine, source: Path, out: Path) -> None:
    [sent] = engine.send([source])
    snap = wait_state(engine, sent, FINISHED)
    assert snap.state is TransferState.DONE, snap.error
    assert snap.share_link
    got = wait_state(engine, engine.receive(snap.share_link, dest_dir=out), FINISHED)
    assert got.state is TransferState.DONE, got.error
    assert sha256(Path(got.saved_path or "")) == sha256(source)


def test_four_workers_put_parts_concurrently(
        make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    with running_server(tmp_path / "server") as server:
        engine = make_engine(server.url, workers=4, upload_limit_bps=16 * MiB)
        _round_trip(engine, make_file(tmp_path / "c.bin", 30 * MiB), tmp_path / "out")
        assert test_stats(server)["max_concurrent_part_puts"] >= 3


def test_expired_part_urls_are_refreshed_mid_upload(make_engine: Callable[..., TransferEngine],
                                                    tmp_path: Path) -> None:
    with running_server(tmp_path / "server", extra_args=["--url-expiry", "2"]) as server:
        engine = make_engine(server.url, workers=2, upload_limit_bps=6 * MiB)
        source = make_file(tmp_path / "slow.bin", 30 * MiB)
        [sent] = engine.send([source])
        snap = wait_state(engine, sent, FINISHED)
        assert snap.state is TransferState.DONE, snap.error
        parts = engine.journal.parts(sent)
        assert sum(p.attempts for p in parts) >= 1  # at least one PUT hit an expired URL and was retried
        got = wait_state(engine, engine.receive(snap.share_link or "", dest_dir=tmp_path / "out"), FINISHED)
        assert got.state is TransferState.DONE, got.error
        assert sha256(Path(got.saved_path or "")) == sha256(source)


def test_a_503_burst_is_survived(make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    with running_server(tmp_path / "server") as server:
        answer = httpx.post(f"{server.url}/api/_test/faults", json={"part_put_503": 6})
        assert answer.status_code == 200
        engine = make_engine(server.url)
        source = make_file(tmp_path / "burst.bin", 25 * MiB)
        [sent] = engine.send([source])
        snap = wait_state(engine, sent, FINISHED)
        assert snap.state is TransferState.DONE, snap.error
        assert sum(p.attempts for p in engine.journal.parts(sent)) >= 6
        assert engine.journal.get(sent).attempts >= 6
        got = wait_state(engine, engine.receive(snap.share_link or "", dest_dir=tmp_path / "out"), FINISHED)
        assert sha256(Path(got.saved_path or "")) == sha256(source)
