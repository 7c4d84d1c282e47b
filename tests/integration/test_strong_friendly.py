"""The strong friendly form (issue 9 item 1) round-trips through a real `sgsend serve`, and its received zip
unpacks with core/unzip.py: send with five words, receive from the `#ID/TOKEN` link and from link + key."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from sgsend_desktop.core import crypto
from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.links import parse_link
from sgsend_desktop.core.model import TransferOptions, TransferState
from sgsend_desktop.core.unzip import unpack_zip
from tests.helpers.servers import ServerProc
from tests.integration.conftest import FINISHED, MiB, make_file, sha256, wait_state


def test_strong_friendly_key_round_trip_and_unpack(
        disk_server: ServerProc, make_engine: Callable[..., TransferEngine], tmp_path: Path) -> None:
    folder = tmp_path / "album"
    (folder / "inner").mkdir(parents=True)
    make_file(folder / "one.bin", 6 * MiB, seed=5)
    (folder / "inner" / "two.txt").write_text("second file\n")
    engine = make_engine(disk_server.url)
    [sent] = engine.send([folder], TransferOptions(friendly_key=True, strong_friendly=True))
    snap = wait_state(engine, sent, FINISHED)
    assert snap.state is TransferState.DONE, snap.error
    token = snap.key_text or ""
    assert crypto.is_strong_token(token) and len(token.split("-")) == 6
    assert snap.transfer_id == crypto.friendly_transfer_id(token)
    assert snap.transfer_id != hashlib.sha256(token.encode()).hexdigest()[:12]
    assert snap.share_link and snap.share_link.endswith(f"#{snap.transfer_id}/{token}")
    assert parse_link(snap.share_link).token == token
    for link, key in ((snap.share_link, None), (snap.link_only or "", token)):
        out = tmp_path / f"out-{key is None}"
        received = wait_state(engine, engine.receive(link, key, dest_dir=out), FINISHED)
        assert received.state is TransferState.DONE, received.error
        unpacked = unpack_zip(Path(received.saved_path or ""), out / "unpacked")
        assert unpacked.folder.name == "album" and unpacked.files == 2
        assert sha256(unpacked.folder / "one.bin") == sha256(folder / "one.bin")
        assert (unpacked.folder / "inner" / "two.txt").read_text() == "second file\n"
