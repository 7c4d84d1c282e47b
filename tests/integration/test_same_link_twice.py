"""A link opened again while its download is unfinished goes on with that download (engine and CLI),
against a real `sgsend serve`: one download counted, one file saved, nothing fetched twice."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.model import TransferState
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


def _downloads(server: ServerProc, transfer_id: str) -> int:
    info = httpx.get(f"{server.url}/api/transfers/info/{transfer_id}", timeout=10).json()
    return int(info["download_count"])


def test_a_link_opened_twice_is_one_download(
        disk_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    sender = make_engine(disk_server.url, data_dir=tmp_path / "sender")
    source = make_file(tmp_path / "video.mkv", 16 * MiB, seed=11)
    [sent] = sender.send([source])
    snap = wait_state(sender, sent, FINISHED)
    assert snap.share_link and snap.transfer_id
    engine = make_engine(disk_server.url, data_dir=tmp_path / "recipient", download_limit_bps=4 * MiB)
    out = tmp_path / "out"
    first = engine.receive(snap.share_link, dest_dir=out)
    wait_for(lambda: engine.snapshot(first).bytes_done > 2 * MiB, 30, "the download under way")
    assert engine.receive(snap.share_link, dest_dir=out) == first  # clicked again while it runs
    engine.pause(first)
    paused = wait_state(engine, first, (TransferState.PAUSED,))
    assert engine.receive(snap.share_link, dest_dir=out) == first  # opened again: it goes on
    done = wait_state(engine, first, FINISHED)
    assert done.state is TransferState.DONE and done.saved_path, done.error
    assert paused.bytes_done > 0
    assert sorted(p.name for p in out.iterdir()) == ["video.mkv"]  # no "video (1).mkv"
    assert sha256(out / "video.mkv") == sha256(source)
    assert _downloads(disk_server, snap.transfer_id) == 1
    assert [s.id for s in engine.snapshots()] == [first]
    # once it is done, opening the link again downloads it again (a second copy, on purpose)
    again = engine.receive(snap.share_link, dest_dir=out)
    assert again != first
    assert wait_state(engine, again, FINISHED).state is TransferState.DONE
    # another folder is another download
    elsewhere = engine.receive(snap.share_link, dest_dir=tmp_path / "elsewhere")
    assert elsewhere not in (first, again)
    assert wait_state(engine, elsewhere, FINISHED).state is TransferState.DONE


def test_sgsend_get_again_after_ctrl_c_goes_on(disk_server: ServerProc, tmp_path: Path) -> None:
    """`sgsend get LINK`, Ctrl+C half-way, `sgsend get LINK` again: the same transfer continues."""
    source = make_file(tmp_path / "big.bin", 24 * MiB, seed=12)
    data = tmp_path / "data"
    sent = run_cli(["send", str(source)], tmp_path / "sender", disk_server.url)
    assert sent.returncode == 0, sent.stderr
    link = next(line for line in sent.stdout.splitlines() if "#" in line).strip()
    out = tmp_path / "out"
    first = start_cli(["get", link, "-o", str(out), "--limit", "6M"], data, disk_server.url)
    assert first.stderr is not None
    started = first.stderr.readline()  # "sgsend: receiving <id>"
    assert "receiving" in started, started
    first_id = started.split()[-1]
    time.sleep(2.0)
    first.send_signal(signal.SIGINT)
    first.communicate(timeout=60)
    partial = [p for p in out.iterdir()] if out.exists() else []
    assert partial and all(p.name.startswith(".sgsend-") for p in partial)  # a partial file, kept
    second = run_cli(["get", link, "-o", str(out)], data, disk_server.url)
    assert second.returncode == 0, second.stderr
    assert f"receiving {first_id}" in second.stderr
    assert sha256(out / "big.bin") == sha256(source)
    assert sorted(p.name for p in out.iterdir()) == ["big.bin"]
    transfer_id = link.split("#", 1)[1].split("/", 1)[0]
    assert _downloads(disk_server, transfer_id) == 1  # the second run went on with the first's grant
