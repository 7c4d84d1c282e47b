"""Issue 11 (and 12's front end) on the real window, the real engine and a real `sgsend serve`: several
files as one link, cancel → start again, delete from server, the send's limits after sending, welcome
links and their access token, unpacking a received zip, the token's remaining uses in Settings."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, QPoint, Qt
from pytestqt.qtbot import QtBot

from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.model import Direction, TransferState
from sgsend_desktop.gui.drop_zone import deliver_drop
from sgsend_desktop.gui.queue_model import Column
from sgsend_desktop.gui.rules import Question
from sgsend_desktop.gui.settings import AppSettings
from tests.gui.real_app import cli, rows, sha256_of, start_desktop, wait_state, write_random
from tests.helpers.servers import ServerProc, running_server

MiB = 1024 * 1024
TOKEN = "alice-7f3k2q-welcome"


class Yes:
    def __init__(self) -> None:
        self.asked: list[Question] = []

    def __call__(self, question: Question) -> bool:
        self.asked.append(question)
        return True


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    with running_server(tmp_path_factory.mktemp("serve")) as proc:
        yield proc


def _band_point(window) -> tuple[object, QPoint]:  # type: ignore[no-untyped-def]
    """Where the drop overlay's "one link for all" band is, as (widget under it, point in it)."""
    window.drop_overlay.setGeometry(window.centralWidget().geometry())
    overlay = window.drop_overlay
    point = window.mapFromGlobal(overlay.mapToGlobal(overlay.band_rect().center()))
    target = window.childAt(point) or window
    return target, target.mapFrom(window, point)


def test_several_files_as_one_link_download_as_one_zip_that_unpacks(
    qtbot: QtBot, server: ServerProc, tmp_path: Path, data_dir: Path
) -> None:
    report = write_random(tmp_path / "report.pdf", 300_000)
    photo = write_random(tmp_path / "photo.jpg", 2 * MiB)
    downloads = tmp_path / "downloads"
    desktop = start_desktop(qtbot, data_dir, server.url, downloads)
    try:
        window = desktop.window
        window.confirm = Yes()
        target, point = _band_point(window)
        assert deliver_drop(target, [report, photo], point)  # dropped on "One link for all"
        qtbot.waitUntil(lambda: len(rows(desktop)) == 1, timeout=10_000)
        bundle = wait_state(qtbot, desktop, rows(desktop)[0].id, TransferState.DONE)
        assert bundle.name == "report and 1 more.zip" and bundle.item_count == 2 and bundle.share_link
        window.select_transfer(bundle.id)
        assert "2 items in one zip" in window.details.subtitle.text()

        got = cli(["get", bundle.share_link, "-o", str(tmp_path / "got")], tmp_path / "cli-receiver")
        assert got.returncode == 0, got.stderr
        with zipfile.ZipFile(tmp_path / "got" / "report and 1 more.zip") as zf:
            assert sorted(zf.namelist()) == ["report and 1 more/photo.jpg", "report and 1 more/report.pdf"]
            assert zf.read("report and 1 more/photo.jpg") == photo.read_bytes()

        # the same link received in the window: a zip, which the details panel offers to unpack
        dialog = window.open_link_dialog(bundle.share_link)
        qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: len(rows(desktop, Direction.RECEIVE)) == 1, timeout=10_000)
        received = wait_state(qtbot, desktop, rows(desktop, Direction.RECEIVE)[0].id, TransferState.DONE)
        window.select_transfer(received.id)
        details = window.details
        assert details.unpack_button.isVisible() and window.actions_.unpack.isEnabled()
        unpack_into = tmp_path / "unpacked"
        window.choose_unpack_folder = lambda default: unpack_into if default == downloads else None
        qtbot.mouseClick(details.unpack_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(details.unpack_label.isVisible, timeout=20_000)
        assert "Unpacked 2 files" in details.unpack_label.text()
        folder = unpack_into / "report and 1 more"
        assert sha256_of(folder / "photo.jpg") == sha256_of(photo)
        assert sha256_of(folder / "report.pdf") == sha256_of(report)
    finally:
        desktop.close_now()


def test_cancel_asks_then_start_again_and_delete_from_server_asks_and_says_so(
    qtbot: QtBot, server: ServerProc, tmp_path: Path, data_dir: Path
) -> None:
    source = write_random(tmp_path / "big.bin", 8 * MiB)
    desktop = start_desktop(qtbot, data_dir, server.url, tmp_path / "downloads", upload_limit_kbps=1024)
    try:
        window = desktop.window
        answers = Yes()
        window.confirm = answers
        window.send_options.max_downloads_spin.setValue(2)
        window.send_options.expiry_combo.setCurrentIndex(2)  # 1 day
        assert deliver_drop(window.drop_zone, [source])
        qtbot.waitUntil(lambda: len(rows(desktop)) == 1, timeout=10_000)
        first = rows(desktop)[0].id
        qtbot.waitUntil(lambda: rows(desktop)[0].bytes_done > 0, timeout=20_000)
        window.select_transfer(first)
        window.table.setFocus()
        window.actions_.cancel.trigger()
        assert answers.asked[-1].title == "Cancel sending “big.bin”?"
        wait_state(qtbot, desktop, first, TransferState.CANCELLED, 20_000)
        assert window.details.retry_button.text() == "Start again"
        window.details.retry_button.click()
        qtbot.waitUntil(lambda: window.model.row_of(first) == -1 and len(rows(desktop)) == 1, timeout=10_000)
        again = rows(desktop)[0]
        assert again.id != first and again.name == "big.bin" and again.max_downloads == 2
        done = wait_state(qtbot, desktop, again.id, TransferState.DONE, 60_000)
        assert done.share_link and done.expires_at is not None
        row = window.model.row_of(done.id)
        assert window.model.index(row, Column.ETA).data() in ("expires in 24 h", "expires in 23 h")

        got = cli(["get", done.share_link, "-o", str(tmp_path / "got")], tmp_path / "cli-receiver")
        assert got.returncode == 0, got.stderr
        qtbot.waitUntil(
            lambda: window.model.index(row, Column.STATE).data() == "Sent · 1 of 2 downloads", timeout=15_000
        )
        window.select_transfer(done.id)
        assert "Downloaded once · 1 of 2 downloads left" in window.details.facts_label.text()

        qtbot.mouseClick(window.details.delete_button, Qt.MouseButton.LeftButton)
        assert answers.asked[-1].title == "Delete “big.bin” from the server?"
        qtbot.waitUntil(lambda: window.model.snapshot_of(done.id).deleted_remote, timeout=10_000)  # type: ignore[union-attr]
        assert window.model.index(row, Column.STATE).data() == "Deleted from server"
        assert window.details.deleted_label.isVisible() and not window.details.share_box.isVisible()
        gone = cli(["get", done.share_link, "-o", str(tmp_path / "got2")], tmp_path / "cli-receiver")
        assert gone.returncode != 0
    finally:
        desktop.close_now()
    # the deletion is remembered: a relaunch still says so
    desktop = start_desktop(qtbot, data_dir, server.url, tmp_path / "downloads")
    try:
        qtbot.waitUntil(lambda: len(rows(desktop)) == 1, timeout=10_000)
        assert rows(desktop)[0].deleted_remote
    finally:
        desktop.close_now()


def _welcome_link(server_url: str, data_dir: Path, payload: str, token: str | None) -> str:
    """A welcome link as upstream's admin makes it: the access token is the plaintext of a transfer."""
    source = data_dir.parent / "token.txt"
    source.write_text(payload)
    engine = TransferEngine(data_dir, server_url, token=token)
    engine.start()
    try:
        [local_id] = engine.send([source])
        for _ in range(400):
            snap = engine.snapshot(local_id)
            if snap.state is TransferState.DONE:
                break
            assert snap.state is not TransferState.FAILED, snap.error
            import time

            time.sleep(0.05)
        link = engine.snapshot(local_id).share_link
    finally:
        engine.close()
    assert link and "/download/#" in link
    return link.replace("/download/#", "/welcome/#")


def test_a_welcome_link_asks_then_saves_its_token_and_settings_show_its_uses(
    qtbot: QtBot, tmp_path: Path, data_dir: Path
) -> None:
    tokens = tmp_path / "tokens.txt"
    tokens.write_text(f"alice {TOKEN} 50\n")
    with running_server(tmp_path / "serve", extra_args=["--tokens", str(tokens)]) as server:
        welcome = _welcome_link(server.url, tmp_path / "admin", TOKEN, TOKEN)  # its upload used one
        bogus = _welcome_link(server.url, tmp_path / "admin2", "nobody-has-this-token", TOKEN)
        desktop = start_desktop(qtbot, data_dir, "", tmp_path / "downloads")  # the local server
        try:
            window = desktop.window
            answers = Yes()
            window.confirm = answers
            informed: list[tuple[str, str]] = []
            window.inform = lambda title, text: informed.append((title, text))
            window.handle_incoming_link(welcome)
            host = server.url.split("://", 1)[1]
            assert answers.asked[-1].title == f"Use the access token from this link for {host}?"
            qtbot.waitUntil(lambda: bool(informed), timeout=20_000)
            assert informed[-1][0] == "Access token saved"
            assert rows(desktop) == []  # no download was queued
            qtbot.waitUntil(lambda: window.server_label.text() == f"Server: {server.url}", timeout=10_000)
            assert desktop.window.token == TOKEN and window.prefs.server_url == server.url
            assert AppSettings(data_dir).load_token() == TOKEN

            dialog = window.open_settings()  # asks check-token by itself: valid, uses left
            qtbot.waitUntil(lambda: "uses left" in dialog.token_status.text(), timeout=10_000)
            assert dialog.token_status.text() == "The access token is valid: 48 uses left."
            dialog.reject()

            window.handle_incoming_link(bogus)  # the server says this token is not valid: refused
            qtbot.waitUntil(lambda: informed[-1][0] == "Access token not saved", timeout=20_000)
            assert "not valid" in informed[-1][1]
            assert AppSettings(data_dir).load_token() == TOKEN
        finally:
            desktop.close_now()


def test_a_link_opened_again_while_it_downloads_selects_that_download(
    qtbot: QtBot, server: ServerProc, tmp_path: Path, data_dir: Path
) -> None:
    """A link clicked twice in the browser (or pasted again after a pause) is one download: the window
    selects the row that has it, says so, and a paused one goes on."""
    from sgsend_desktop.gui.main_window import ALREADY_RECEIVING_TEXT

    video = write_random(tmp_path / "video.mkv", 12 * MiB)
    sent = cli(["send", "--server", server.url, str(video)], tmp_path / "cli-sender")
    assert sent.returncode == 0, sent.stderr
    link = next(line for line in sent.stdout.splitlines() if "#" in line).strip()
    downloads = tmp_path / "downloads"
    desktop = start_desktop(qtbot, data_dir, server.url, downloads, download_limit_kbps=2048)
    try:
        window = desktop.window
        window.receive_link(link)
        qtbot.waitUntil(lambda: len(rows(desktop)) == 1, timeout=10_000)
        first = rows(desktop)[0].id
        qtbot.waitUntil(lambda: rows(desktop)[0].bytes_done > MiB, timeout=20_000)
        window.table.clearSelection()
        window.receive_link(link)
        qtbot.waitUntil(lambda: [s.id for s in window.selected_snapshots()] == [first], timeout=10_000)
        assert window.statusBar().currentMessage() == ALREADY_RECEIVING_TEXT
        window.commands.pause([first])
        wait_state(qtbot, desktop, first, TransferState.PAUSED)
        window.receive_link(link)
        done = wait_state(qtbot, desktop, first, TransferState.DONE)
        assert len(rows(desktop)) == 1
        assert done.saved_path and sha256_of(Path(done.saved_path)) == sha256_of(video)
        assert sorted(p.name for p in downloads.iterdir()) == ["video.mkv"]
    finally:
        desktop.close_now()


def test_clear_finished_takes_done_rows_off_the_list_and_history_keeps_them_across_a_relaunch(
    qtbot: QtBot, server: ServerProc, tmp_path: Path, data_dir: Path
) -> None:
    """After a day of sending, the queue is a long list of done rows: *Clear finished* takes them off
    (nothing to ask: nothing is lost); History still lists them with their links, also after a
    relaunch; a failed row stays; the list is empty again (the big drop zone)."""
    from sgsend_desktop.gui.dialogs.history import HistoryDialog
    from sgsend_desktop.gui.main_window import cleared_text

    files = [write_random(tmp_path / f"photo-{n}.jpg", 200_000 + n) for n in range(6)]
    desktop = start_desktop(qtbot, data_dir, server.url, tmp_path / "downloads")
    try:
        window = desktop.window
        assert not window.actions_.clear_finished.isEnabled()
        window.send_paths(files)
        qtbot.waitUntil(lambda: len(rows(desktop)) == 6, timeout=10_000)
        for snap in rows(desktop):
            wait_state(qtbot, desktop, snap.id, TransferState.DONE)
        links = sorted(s.share_link or "" for s in rows(desktop))
        window.receive_link(f"{server.url}/en-gb/download/#abcdef123456/" + "A" * 43)  # no such transfer
        qtbot.waitUntil(lambda: any(s.state is TransferState.FAILED for s in rows(desktop)), timeout=30_000)
        assert window.actions_.clear_finished.isEnabled()
        window.actions_.clear_finished.trigger()
        qtbot.waitUntil(lambda: len(rows(desktop)) == 1, timeout=10_000)
        assert rows(desktop)[0].state is TransferState.FAILED
        # at once (the user's own action), though the failure's message and a "Sent" note are about
        qtbot.waitUntil(lambda: window.statusBar().currentMessage() == cleared_text(6), timeout=3000)
        assert not window.actions_.clear_finished.isEnabled()
        history = window.open_history()
        assert sorted(s.share_link or "" for s in history.entries) == links
        history.close()
    finally:
        desktop.close_now()

    again = start_desktop(qtbot, data_dir, server.url, tmp_path / "downloads")
    try:
        qtbot.waitUntil(lambda: len(rows(again)) == 1, timeout=10_000)
        qtbot.wait(300)
        assert [s.state for s in rows(again)] == [TransferState.FAILED]  # the cleared ones stay cleared
        again.window.commands.discard([rows(again)[0].id])  # the failed row goes: an empty queue
        qtbot.waitUntil(lambda: len(rows(again)) == 0, timeout=10_000)
        assert "Finished transfers are in History" in again.window.total_label.text()
        assert len(again.window.model.all_snapshots()) == 6
        history = again.window.open_history()
        assert isinstance(history, HistoryDialog)
        assert sorted(s.share_link or "" for s in history.entries) == links
        # History grows for good otherwise: Remove… forgets entries (asked: their links go)
        asked: list[object] = []
        history.confirm = lambda question: asked.append(question) or True
        assert not history.remove_button.isEnabled()
        history.table.selectRow(0)
        flags = QItemSelectionModel.SelectionFlag
        history.table.selectionModel().select(history.proxy.index(1, 0), flags.Select | flags.Rows)
        doomed = [snap.id for snap in history.selected_all()]
        assert len(doomed) == 2 and history.remove_button.isEnabled()
        qtbot.mouseClick(history.remove_button, Qt.MouseButton.LeftButton)
        assert len(asked) == 1 and "from History" in asked[0].title  # type: ignore[attr-defined]
        qtbot.waitUntil(lambda: len(history.entries) == 4, timeout=10_000)
        assert not {snap.id for snap in history.entries} & set(doomed)
        qtbot.waitUntil(lambda: len(again.window.model.all_snapshots()) == 4, timeout=10_000)
        history.close()
    finally:
        again.close_now()
    listed = cli(["list"], data_dir)
    assert listed.returncode == 0 and not any(local_id in listed.stdout for local_id in doomed)


def test_open_link_saves_in_the_folder_chosen_for_that_download(
    qtbot: QtBot, server: ServerProc, tmp_path: Path, data_dir: Path
) -> None:
    """The Open link dialog names the folder the file goes to (Settings' download folder) and lets this
    one download go elsewhere — a full disk, a file that belongs in a project folder — without changing
    Settings."""
    report = write_random(tmp_path / "report.pdf", 3 * MiB)
    sent = cli(["send", "--server", server.url, str(report)], tmp_path / "cli-sender")
    assert sent.returncode == 0, sent.stderr
    link = next(line for line in sent.stdout.splitlines() if "#" in line).strip()
    downloads = tmp_path / "downloads"
    desktop = start_desktop(qtbot, data_dir, server.url, downloads)
    try:
        window = desktop.window
        dialog = window.open_link_dialog(link)
        assert dialog.folder == downloads and dialog.folder_edit.text() == str(downloads)
        dialog.folder_edit.clear()
        qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
        assert dialog.isVisible() and "folder" in dialog.error_label.text()  # nowhere to save: stays open
        project = tmp_path / "project" / "docs"  # not there yet: made
        dialog.choose_folder = lambda start: str(project)
        qtbot.mouseClick(dialog.folder_button, Qt.MouseButton.LeftButton)
        assert dialog.folder == project
        qtbot.mouseClick(dialog.download_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: len(rows(desktop)) == 1, timeout=10_000)
        done = wait_state(qtbot, desktop, rows(desktop)[0].id, TransferState.DONE)
        assert done.saved_path == str(project / "report.pdf")
        assert sha256_of(project / "report.pdf") == sha256_of(report)
        assert not downloads.exists() or list(downloads.iterdir()) == []
        assert window.prefs.download_path() == downloads  # Settings unchanged
        again = window.open_link_dialog()
        assert again.folder == downloads
        again.folder_edit.setText("Projects/docs")  # typed, relative: from the home folder
        assert again.folder == Path.home() / "Projects" / "docs"
        again.folder_edit.setText("~/Desktop")
        assert again.folder == Path.home() / "Desktop"
        again.reject()
    finally:
        desktop.close_now()
