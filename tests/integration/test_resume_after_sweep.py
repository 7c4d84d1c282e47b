"""Issue 12: a send paused longer than the server keeps unfinished uploads starts again by itself.

The server's abandoned-upload sweep (`--abandoned-after`, 24 h for `sgsend serve`) removes a pending
transfer left idle; every call about it is then a 404. Resuming such a send used to fail on the first
404; now it starts again from the beginning as a new transfer with the same key, logs it and tells the
user in the row (the snapshot's ``note``). Tested against a real `sgsend serve --abandoned-after 2`."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from sgsend_desktop.cli.transfers import ProgressPrinter
from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.model import TransferOptions, TransferState
from sgsend_desktop.core.upload import START_AGAIN_NOTE
from sgsend_desktop.server.config import EMBEDDED_ABANDONED_AFTER
from sgsend_desktop.server.embedded import _config
from tests.helpers.servers import ServerProc, running_server
from tests.integration.conftest import FINISHED, MiB, make_file, sha256, wait_for, wait_state

AGE = 2  # seconds: the server removes a pending transfer idle this long


@pytest.fixture(scope="module")
def sweeping_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    with running_server(tmp_path_factory.mktemp("sweeping"), extra_args=["--abandoned-after", str(AGE)]) as s:
        yield s


def gone(server: ServerProc, transfer_id: str) -> bool:
    return httpx.get(f"{server.url}/api/transfers/info/{transfer_id}", timeout=10).status_code == 404


def paused_then_swept(engine: TransferEngine, server: ServerProc, local_id: str,
                      started: Callable[[], bool]) -> str:
    """Pause the send once ``started()``, then wait until the server has swept its transfer."""
    wait_for(started, 60, "the upload to get under way")
    engine.pause(local_id)
    snap = wait_state(engine, local_id, [TransferState.PAUSED])
    assert snap.transfer_id is not None
    wait_for(lambda: gone(server, snap.transfer_id or ""), 30, "the sweep to remove the paused transfer")
    return snap.transfer_id


def received(engine: TransferEngine, link: str, dest: Path) -> Path:
    local_id = engine.receive(link, dest_dir=dest)
    snap = wait_state(engine, local_id, FINISHED)
    assert snap.state is TransferState.DONE, snap.error
    assert snap.saved_path is not None
    return Path(snap.saved_path)


def test_a_multipart_send_swept_while_paused_starts_again(
        sweeping_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    source = make_file(tmp_path / "big.bin", 12 * MiB)
    engine = make_engine(sweeping_server.url, upload_limit_bps=3 * MiB)
    printed = io.StringIO()
    engine.subscribe(ProgressPrinter(printed))
    [local_id] = engine.send([source])
    old_id = paused_then_swept(engine, sweeping_server, local_id,
                               lambda: any(p.state == "done" for p in engine.journal.parts(local_id)))
    engine.set_limits(upload_limit_bps=0)
    engine.resume(local_id)
    snap = wait_state(engine, local_id, FINISHED)
    assert snap.state is TransferState.DONE, snap.error
    assert snap.note == START_AGAIN_NOTE
    assert snap.transfer_id not in (None, old_id)  # a new transfer (a random key: a new id)
    assert f"{local_id} big.bin: {START_AGAIN_NOTE}" in printed.getvalue()
    assert snap.share_link is not None
    assert sha256(received(engine, snap.share_link, tmp_path / "in")) == sha256(source)


@pytest.mark.parametrize("friendly", [False, True])
def test_a_direct_send_swept_while_paused_starts_again(
        sweeping_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path,
        friendly: bool) -> None:
    source = make_file(tmp_path / "small.bin", 1 * MiB)
    engine = make_engine(sweeping_server.url, upload_limit_bps=200 * 1024)  # ~5 s in the direct upload
    [local_id] = engine.send([source], TransferOptions(friendly_key=friendly))
    key_before = engine.snapshot(local_id).key_text
    old_id = paused_then_swept(engine, sweeping_server, local_id,
                               lambda: engine.snapshot(local_id).state is TransferState.UPLOADING)
    engine.set_limits(upload_limit_bps=0)
    engine.resume(local_id)
    snap = wait_state(engine, local_id, FINISHED)
    assert snap.state is TransferState.DONE, snap.error
    assert snap.note == START_AGAIN_NOTE
    assert snap.key_text == key_before  # the same key
    # a friendly key derives the id: the same link again (the old id is free once swept)
    assert (snap.transfer_id == old_id) is friendly
    assert snap.share_link is not None
    assert sha256(received(engine, snap.share_link, tmp_path / "in")) == sha256(source)


def test_the_embedded_server_keeps_paused_sends_for_30_days(tmp_path: Path) -> None:
    assert EMBEDDED_ABANDONED_AFTER == 30 * 24 * 3600
    assert _config(tmp_path, None).abandoned_after == EMBEDDED_ABANDONED_AFTER
