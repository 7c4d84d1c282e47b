"""`sgsend-desktop FILE…`, files dropped on the app's icon, a second launch: files are sent, links
received (gui/incoming.py, the launcher, the single-instance hand-over, FileOpen events)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from sgsend_desktop.core.model import Direction, TransferState
from sgsend_desktop.gui.incoming import as_incoming, missing_text, split_incoming
from tests.gui.real_app import cli, cli_env, rows, sha256_of, start_desktop, wait_state, write_random
from tests.helpers.servers import running_server

LINK = "https://send.example/en-gb/download/#abc123def456/-vv8_f7_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBk"


def test_arguments_are_sorted_into_files_to_send_and_links_to_receive(tmp_path: Path) -> None:
    (tmp_path / "report.pdf").write_bytes(b"x")
    (tmp_path / "my photos").mkdir()
    (tmp_path / "apple-mango-5623").write_bytes(b"a file that looks like a friendly link")
    given = ["report.pdf", "my photos", "./gone.txt", str(tmp_path / "nested" / ".." / "report.pdf"), LINK,
             "sgsend://open?url=x", "file:///already/a%20url", "apple-mango-5623", "pear-kiwi-1234", "  "]
    items = [as_incoming(arg, tmp_path) for arg in given]
    assert items[0] == (tmp_path / "report.pdf").as_uri()
    assert items[1] == (tmp_path / "my photos").as_uri() and "%20" in items[1]
    assert items[2] == (tmp_path / "gone.txt").as_uri()  # written as a path: said missing, not a bad link
    assert items[3] == (tmp_path / "report.pdf").as_uri()  # absolute and normalised
    assert items[4:7] == [LINK, "sgsend://open?url=x", "file:///already/a%20url"]
    assert items[7] == (tmp_path / "apple-mango-5623").as_uri()  # an existing file wins
    assert items[8] == "pear-kiwi-1234"
    paths, links = split_incoming(items)
    assert paths == [tmp_path / "report.pdf", tmp_path / "my photos", tmp_path / "gone.txt",
                     tmp_path / "report.pdf", Path("/already/a url"), tmp_path / "apple-mango-5623"]
    assert links == [LINK, "sgsend://open?url=x", "pear-kiwi-1234"]
    assert missing_text([]) == ""
    assert missing_text([Path("/a/b.txt")]) == "Cannot send /a/b.txt: there is no such file or folder."
    assert missing_text([Path("/a"), Path("/b"), Path("/c")]).endswith("folder (and 2 more).")


def test_a_file_open_event_for_a_local_file_hands_it_over_to_send(qtbot: QtBot, tmp_path: Path) -> None:
    """macOS: a file dropped on the Dock icon arrives as a FileOpen event (a link as well)."""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtGui import QFileOpenEvent

    from sgsend_desktop.gui.app import FileOpenLinks

    app = QCoreApplication.instance()
    assert app is not None
    handler = FileOpenLinks()
    seen: list[list[str]] = []
    handler.opened.connect(seen.append)
    app.installEventFilter(handler)
    try:
        document = tmp_path / "a b.txt"
        document.write_text("hello")
        QCoreApplication.sendEvent(app, QFileOpenEvent(str(document)))
    finally:
        app.removeEventFilter(handler)
    assert seen == [[document.as_uri()]]
    assert split_incoming(seen[0])[0] == [document]


@pytest.mark.slow
def test_a_second_launch_with_files_sends_them_from_the_running_app(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    """`sgsend-desktop report.pdf photos/ missing.txt` run in another folder while the app runs (what a
    file manager's "Open with" or a drop on the launcher does): the running app sends the file and the
    folder (one link each: the window's default), says which path is not there, and the launch exits."""
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "photos").mkdir(parents=True)
    report = write_random(elsewhere / "report.pdf", 700_000)
    for number in range(3):
        write_random(elsewhere / "photos" / f"p{number}.jpg", 50_000 + number)
    with running_server(tmp_path / "serve") as server:
        desktop = start_desktop(qtbot, data_dir, server.url, tmp_path / "downloads")
        try:
            env = cli_env(data_dir)
            env["QT_QPA_PLATFORM"] = "offscreen"
            launch = subprocess.Popen(
                [sys.executable, "-m", "sgsend_desktop.gui", "report.pdf", "photos", "./missing.txt"],
                cwd=elsewhere, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            qtbot.waitUntil(lambda: launch.poll() is not None, timeout=30_000)  # our loop answers it
            assert launch.returncode == 0, launch.stderr.read() if launch.stderr else ""
            qtbot.waitUntil(lambda: len(rows(desktop, Direction.SEND)) == 2, timeout=20_000)
            qtbot.waitUntil(lambda: "missing.txt" in desktop.window.statusBar().currentMessage(),
                            timeout=5_000)
            message = desktop.window.statusBar().currentMessage()
            assert message == f"Cannot send {elsewhere / 'missing.txt'}: there is no such file or folder."
            sends = {s.name: s for s in rows(desktop, Direction.SEND)}
            assert set(sends) == {"report.pdf", "photos.zip"}
            done = wait_state(qtbot, desktop, sends["report.pdf"].id, TransferState.DONE)
            wait_state(qtbot, desktop, sends["photos.zip"].id, TransferState.DONE)
            assert done.share_link
            got = cli(["get", done.share_link, "-o", str(tmp_path / "got")], tmp_path / "cli-receiver")
            assert got.returncode == 0, got.stderr
            assert sha256_of(tmp_path / "got" / "report.pdf") == sha256_of(report)
        finally:
            desktop.close_now()
