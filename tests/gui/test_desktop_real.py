"""Issue 5's must-show behaviours on real widgets, the real engine and a real `sgsend serve` subprocess."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.model import Direction, TransferState
from sgsend_desktop.gui.dialogs.open_link import OpenLinkDialog
from sgsend_desktop.gui.drop_zone import deliver_drop
from sgsend_desktop.gui.queue_model import Column
from tests.gui.real_app import (
    REPO_ROOT,
    cli,
    cli_env,
    rows,
    sha256_of,
    start_desktop,
    wait_state,
    write_random,
)
from tests.helpers.servers import ServerProc, running_server

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    with running_server(tmp_path_factory.mktemp("serve")) as proc:
        yield proc


def send_with_cli(server: ServerProc, source: Path, tmp_path: Path) -> str:
    done = cli(["send", "--server", server.url, str(source)], tmp_path / "cli-sender")
    assert done.returncode == 0, done.stderr
    links = [line.strip() for line in done.stdout.splitlines() if "://" in line]
    assert links, done.stdout
    return links[-1]


def test_drop_two_files_reach_done_and_the_copied_link_downloads_with_sgsend_get(
    qtbot: QtBot, server: ServerProc, tmp_path: Path, data_dir: Path
) -> None:
    small = write_random(tmp_path / "notes.txt", 200_000)
    big = write_random(tmp_path / "video.bin", 7 * MiB)  # multipart path
    desktop = start_desktop(qtbot, data_dir, server.url, tmp_path / "downloads")
    try:
        window = desktop.window
        assert window.server_label.text() == f"Server: {server.url}"
        assert deliver_drop(window.drop_zone, [small, big])  # a real QDropEvent with file URLs
        qtbot.waitUntil(lambda: len(rows(desktop)) == 2, timeout=10_000)
        assert sorted(s.name for s in rows(desktop)) == ["notes.txt", "video.bin"]
        for snap in rows(desktop):
            wait_state(qtbot, desktop, snap.id, TransferState.DONE)

        video = next(s for s in rows(desktop) if s.name == "video.bin")
        window.select_transfer(video.id)
        assert window.details.share_box.isVisible()
        QApplication.clipboard().clear()
        qtbot.mouseClick(window.details.copy_link_button, Qt.MouseButton.LeftButton)
        link = QApplication.clipboard().text()
        assert link == video.share_link and video.transfer_id in link and link.startswith(server.url)

        out = tmp_path / "got"
        got = cli(["get", link, "-o", str(out)], tmp_path / "cli-receiver")
        assert got.returncode == 0, got.stderr
        assert sha256_of(out / "video.bin") == sha256_of(big)
        def told_sent(name: str) -> bool:  # files that finish together are told in one notification
            return any(title == "Sent" and name in text for title, text in desktop.tray.messages)

        qtbot.waitUntil(lambda: told_sent("notes.txt") and told_sent("video.bin"), timeout=15_000)
        # The recipient's download comes back over the server's event stream: notice + count in the row.
        qtbot.waitUntil(
            lambda: any(title == "Downloaded" for title, _m in desktop.tray.messages), timeout=15_000
        )
        row = window.model.snapshot_of(video.id)
        assert row is not None and row.download_count == 1
        assert window.model.index(window.model.row_of(video.id), Column.STATE).data() == "Sent · 1 download"
    finally:
        desktop.close_now()


def test_pause_stops_progress_and_resume_finishes(
    qtbot: QtBot, server: ServerProc, tmp_path: Path, data_dir: Path
) -> None:
    source = write_random(tmp_path / "slow.bin", 8 * MiB)
    desktop = start_desktop(qtbot, data_dir, server.url, tmp_path / "downloads", upload_limit_kbps=2048)
    try:
        window = desktop.window
        assert deliver_drop(window.drop_zone, [source])
        qtbot.waitUntil(lambda: len(rows(desktop)) == 1, timeout=10_000)
        local_id = rows(desktop)[0].id
        window.select_transfer(local_id)
        qtbot.waitUntil(
            lambda: rows(desktop)[0].state is TransferState.UPLOADING and rows(desktop)[0].bytes_done > 0,
            timeout=20_000,
        )
        pause_button = window.row_buttons["pause"]
        qtbot.waitUntil(pause_button.isEnabled, timeout=2000)
        qtbot.mouseClick(pause_button, Qt.MouseButton.LeftButton)
        paused = wait_state(qtbot, desktop, local_id, TransferState.PAUSED, 20_000)
        assert paused.bytes_done < paused.size
        qtbot.wait(1200)
        still = desktop.window.model.snapshot_of(local_id)
        assert still is not None and still.state is TransferState.PAUSED
        assert still.bytes_done == paused.bytes_done  # no progress while paused
        assert window.actions_.resume.isEnabled()
        qtbot.mouseClick(window.row_buttons["resume"], Qt.MouseButton.LeftButton)
        done = wait_state(qtbot, desktop, local_id, TransferState.DONE, 60_000)
        assert done.share_link
    finally:
        desktop.close_now()


def test_pasted_link_in_open_link_downloads(
    qtbot: QtBot, server: ServerProc, tmp_path: Path, data_dir: Path
) -> None:
    source = write_random(tmp_path / "photo.jpg", 3 * MiB)
    link = send_with_cli(server, source, tmp_path)
    desktop = start_desktop(qtbot, data_dir, server.url, tmp_path / "downloads")
    try:
        window = desktop.window
        QApplication.clipboard().setText(link)
        window.activateWindow()
        window.actions_.open_link.trigger()  # Ctrl+L
        dialog = window.findChild(OpenLinkDialog)
        assert dialog is not None and dialog.isVisible()
        assert dialog.link_edit.text() == link  # prefilled from the clipboard
        qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: len(rows(desktop, Direction.RECEIVE)) == 1, timeout=10_000)
        got = wait_state(qtbot, desktop, rows(desktop, Direction.RECEIVE)[0].id, TransferState.DONE)
        assert got.saved_path is not None
        saved = Path(got.saved_path)
        assert saved.parent == tmp_path / "downloads" and saved.name == "photo.jpg"
        assert sha256_of(saved) == sha256_of(source)
        window.select_transfer(got.id)
        opened: list[str] = []
        window.details.open_url = lambda url: opened.append(url.toLocalFile())
        qtbot.mouseClick(window.details.show_folder_button, Qt.MouseButton.LeftButton)
        assert opened == [str(saved.parent)]
    finally:
        desktop.close_now()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("https://send.example/en-gb/download/#not-a-transfer", "transfer"), ("just some words", "link")],
)
def test_bad_link_shows_the_error_text_in_the_dialog(
    qtbot: QtBot, server: ServerProc, tmp_path: Path, data_dir: Path, text: str, expected: str
) -> None:
    desktop = start_desktop(qtbot, data_dir, server.url, tmp_path / "downloads")
    try:
        window = desktop.window
        dialog = window.open_link_dialog()
        dialog.link_edit.setText(text)
        qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
        assert dialog.isVisible()  # stays open
        assert dialog.error_label.isVisible()
        assert expected in dialog.error_label.text().lower()
        assert rows(desktop) == []  # nothing was queued
        dialog.reject()
    finally:
        desktop.close_now()


def test_tray_actions_act_on_the_queue(
    qtbot: QtBot, server: ServerProc, tmp_path: Path, data_dir: Path
) -> None:
    first = write_random(tmp_path / "one.bin", 6 * MiB)
    second = write_random(tmp_path / "two.bin", 6 * MiB)
    desktop = start_desktop(qtbot, data_dir, server.url, tmp_path / "downloads", upload_limit_kbps=2048)
    try:
        window = desktop.window
        assert deliver_drop(window.drop_zone, [first, second])
        qtbot.waitUntil(lambda: len(rows(desktop)) == 2, timeout=10_000)
        qtbot.waitUntil(lambda: any(s.bytes_done > 0 for s in rows(desktop)), timeout=20_000)

        desktop.tray.pause_all_action.trigger()
        qtbot.waitUntil(lambda: all(s.state is TransferState.PAUSED for s in rows(desktop)), timeout=20_000)

        window.hide()
        desktop.tray.show_action.trigger()
        assert window.isVisible()

        desktop.tray.resume_all_action.trigger()
        for snap in rows(desktop):
            wait_state(qtbot, desktop, snap.id, TransferState.DONE, 60_000)

        with qtbot.waitSignal(desktop.finished, timeout=20_000):
            desktop.tray.quit_action.trigger()
        assert not window.isVisible()
    finally:
        desktop.close_now()


def test_second_instance_forwards_its_link_to_the_first(
    qtbot: QtBot, server: ServerProc, tmp_path: Path, data_dir: Path
) -> None:
    source = write_random(tmp_path / "forwarded.pdf", 1 * MiB)
    link = send_with_cli(server, source, tmp_path)
    scheme_link = "sgsend://open?url=" + __import__("urllib.parse").parse.quote(link, safe="")
    desktop = start_desktop(qtbot, data_dir, server.url, tmp_path / "downloads")
    try:
        env = cli_env(data_dir)  # the SAME data dir: same instance name
        second = subprocess.Popen(
            [sys.executable, "-m", "sgsend_desktop.gui", scheme_link],
            env=env,
            cwd=str(REPO_ROOT),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started = time.monotonic()
        qtbot.waitUntil(lambda: second.poll() is not None, timeout=30_000)
        assert second.returncode == 0, second.stdout.read() if second.stdout else ""
        assert time.monotonic() - started < 30
        qtbot.waitUntil(lambda: len(rows(desktop, Direction.RECEIVE)) == 1, timeout=10_000)
        got = wait_state(qtbot, desktop, rows(desktop, Direction.RECEIVE)[0].id, TransferState.DONE)
        assert got.saved_path and sha256_of(Path(got.saved_path)) == sha256_of(source)
    finally:
        desktop.close_now()


@pytest.mark.parametrize("automatically", [False, True], ids=["resume-button", "resume-automatically"])
def test_unfinished_transfer_in_the_journal_shows_paused_on_launch_and_resumes(
    qtbot: QtBot, server: ServerProc, tmp_path: Path, data_dir: Path, automatically: bool
) -> None:
    source = write_random(tmp_path / "interrupted.bin", 8 * MiB)
    engine = TransferEngine(data_dir, server.url, upload_limit_bps=2 * MiB)
    engine.start()
    [local_id] = engine.send([source])
    deadline = time.monotonic() + 30
    while engine.snapshot(local_id).bytes_done == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine.snapshot(local_id).state is TransferState.UPLOADING
    engine.close()  # the app quit mid-upload

    desktop = start_desktop(
        qtbot, data_dir, server.url, tmp_path / "downloads", resume_automatically=automatically
    )
    try:
        window = desktop.window
        qtbot.waitUntil(lambda: len(rows(desktop)) == 1, timeout=10_000)
        if not automatically:
            snap = rows(desktop)[0]
            assert (
                snap.id == local_id and snap.state is TransferState.PAUSED and snap.name == "interrupted.bin"
            )
            window.select_transfer(local_id)
            assert window.actions_.resume.isEnabled() and window.actions_.discard.isEnabled()
            qtbot.mouseClick(window.row_buttons["resume"], Qt.MouseButton.LeftButton)
        done = wait_state(qtbot, desktop, local_id, TransferState.DONE, 60_000)
        assert done.share_link
    finally:
        desktop.close_now()
    got = cli(["get", done.share_link, "-o", str(tmp_path / "got")], tmp_path / "cli-receiver")
    assert got.returncode == 0, got.stderr
    assert sha256_of(tmp_path / "got" / "interrupted.bin") == sha256_of(source)
