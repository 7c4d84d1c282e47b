"""Wrong key, tampered payload, exhausted transfer, bad link: one clear sentence each, no final file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sgsend_desktop.core import crypto
from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.errors import LinkError
from sgsend_desktop.core.links import parse_link
from sgsend_desktop.core.model import TransferOptions, TransferState
from tests.helpers.servers import ServerProc
from tests.integration.conftest import FINISHED, MiB, make_file, run_cli, wait_state


def _sent(engine: TransferEngine, source: Path, options: TransferOptions | None = None) -> str:
    [sent] = engine.send([source], options or TransferOptions())
    snap = wait_state(engine, sent, FINISHED)
    assert snap.state is TransferState.DONE and snap.share_link, snap.error
    return snap.share_link


def _one_sentence(text: str) -> None:
    assert text and "\n" not in text.strip() and "Traceback" not in text


def test_wrong_key_fails_cleanly(any_server: ServerProc, make_engine: Callable[..., TransferEngine],
                                 tmp_path: Path) -> None:
    engine = make_engine(any_server.url)
    link = parse_link(_sent(engine, make_file(tmp_path / "secret.bin", 6 * MiB)))
    wrong = link.with_key(crypto.generate_key()).combined()
    out = tmp_path / "out"
    snap = wait_state(engine, engine.receive(wrong, dest_dir=out), FINISHED)
    assert snap.state is TransferState.FAILED
    assert snap.error and "key is wrong" in snap.error
    _one_sentence(snap.error)
    assert list(out.iterdir()) == []  # neither a final file nor a partial one


def test_tampered_payload_is_rejected_by_the_cli(disk_server: ServerProc,
                                                 make_engine: Callable[..., TransferEngine],
                                                 tmp_path: Path) -> None:
    engine = make_engine(disk_server.url)
    link = _sent(engine, make_file(tmp_path / "doc.bin", 2 * MiB))
    tid = parse_link(link).transfer_id
    [payload] = list(disk_server.data_dir.rglob(f"{tid}/payload"))
    with open(payload, "r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0x01]))
    out = tmp_path / "out"
    result = run_cli(["get", link, "-o", str(out)], tmp_path / "cli", disk_server.url)
    assert result.returncode == 1 and result.stdout == ""
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("sgsend: doc") or
                   "could not be decrypted" in line]
    assert error_lines and "could not be decrypted" in error_lines[-1]
    assert list(out.iterdir()) == []


def test_exhausted_transfer_is_refused(any_server: ServerProc, make_engine: Callable[..., TransferEngine],
                                       tmp_path: Path) -> None:
    engine = make_engine(any_server.url)
    link = _sent(engine, make_file(tmp_path / "once.bin", 1000), TransferOptions(max_downloads=1))
    first = wait_state(engine, engine.receive(link, dest_dir=tmp_path / "first"), FINISHED)
    assert first.state is TransferState.DONE, first.error
    out = tmp_path / "second"
    second = wait_state(engine, engine.receive(link, dest_dir=out), FINISHED)
    assert second.state is TransferState.FAILED
    assert second.error and "download limit" in second.error
    _one_sentence(second.error)
    assert not out.exists() or list(out.iterdir()) == []


def test_bad_links_fail_at_once(make_engine: Callable[..., TransferEngine], disk_server: ServerProc,
                                tmp_path: Path) -> None:
    engine = make_engine(disk_server.url)
    with pytest.raises(LinkError):
        engine.receive("https://example.com/en-gb/download/#nothex/abc")
    with pytest.raises(LinkError, match="no key"):
        engine.receive("https://example.com/en-gb/download/#0123456789ab")
    result = run_cli(["get", "not a link"], tmp_path / "cli", disk_server.url)
    assert result.returncode == 1 and result.stderr.startswith("sgsend: ")
    _one_sentence(result.stderr)


def test_sender_can_delete_with_the_link(disk_server: ServerProc, make_engine: Callable[..., TransferEngine],
                                         tmp_path: Path) -> None:
    engine = make_engine(disk_server.url)
    link = _sent(engine, make_file(tmp_path / "gone.bin", 100))
    deleted = run_cli(["delete", link], tmp_path / "cli", disk_server.url)
    assert deleted.returncode == 0 and "deleted" in deleted.stdout, deleted.stderr
    snap = wait_state(engine, engine.receive(link, dest_dir=tmp_path / "out"), FINISHED)
    assert snap.state is TransferState.FAILED and snap.error and "deleted" in snap.error


def test_an_unreadable_source_fails_with_one_sentence(disk_server: ServerProc,
                                                      make_engine: Callable[..., TransferEngine]) -> None:
    """An OSError while reading the file (here EIO: /proc/self/mem at offset 0) is a sentence, not a repr."""
    engine = make_engine(disk_server.url)
    [sent] = engine.send([Path("/proc/self/mem")])
    snap = wait_state(engine, sent, [TransferState.FAILED])
    assert snap.error and snap.error.startswith("A local file could not be read or written"), snap.error
    assert "Errno" not in snap.error and "OSError" not in snap.error
