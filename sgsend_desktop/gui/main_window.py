"""The main window: drop zone and send options, the queue, the selected transfer's details.

It only commands the engine (through the BackgroundRunner, off the GUI thread) and renders what the
EngineBridge reports; it never does HTTP, SQL, crypto or hashing itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import QItemSelection, QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sgsend_desktop.core.model import Direction, EngineEvent, TransferOptions, TransferSnapshot, TransferState
from sgsend_desktop.gui.actions import WindowActions
from sgsend_desktop.gui.backend import Backend
from sgsend_desktop.gui.background import BackgroundRunner
from sgsend_desktop.gui.details_panel import POLLING_TEXT, DetailsPanel
from sgsend_desktop.gui.dialogs.history import HistoryDialog
from sgsend_desktop.gui.dialogs.open_link import OpenLinkDialog
from sgsend_desktop.gui.dialogs.settings_dialog import SettingsDialog
from sgsend_desktop.gui.drop_zone import DropZone
from sgsend_desktop.gui.engine_bridge import EngineBridge
from sgsend_desktop.gui.formatting import format_size, format_speed
from sgsend_desktop.gui.icons import app_icon
from sgsend_desktop.gui.progress_delegate import ProgressDelegate
from sgsend_desktop.gui.queue_model import Column, TransferQueueModel
from sgsend_desktop.gui.settings import AppSettings, Preferences

log = logging.getLogger(__name__)

EXPIRY_CHOICES: list[tuple[str, timedelta | None]] = [
    ("Never", None),
    ("1 hour", timedelta(hours=1)),
    ("1 day", timedelta(days=1)),
    ("7 days", timedelta(days=7)),
]
# (label, friendly_key, strong_friendly); random first: the default
KEY_CHOICES: list[tuple[str, bool, bool]] = [
    ("Random (safest)", False, False),
    ("Words: word-word-1234", True, False),
    ("Five words (this app only)", True, True),
]
FRIENDLY_WARNING = (
    "Random: 32 random bytes, the safest. Words (word-word-1234) open in the SGraph Send web page, but "
    "anyone who learns the transfer id (a link without its key, or the server) can guess them in "
    "minutes: only for files that need little protection. Five words resist guessing but open only in "
    "this app and sgsend."
)
PAUSABLE = (
    TransferState.QUEUED,
    TransferState.PREPARING,
    TransferState.UPLOADING,
    TransferState.DOWNLOADING,
    TransferState.COMPLETING,
)
MOVABLE = (TransferState.QUEUED, TransferState.PAUSED)


class MainWindow(QMainWindow):
    notification = Signal(str, str, bool)  # title, message, is_error (the tray shows it)
    quit_requested = Signal()
    backend_ready = Signal()
    hidden_to_tray = Signal()

    def __init__(
        self,
        settings: AppSettings,
        runner: BackgroundRunner,
        bridge: EngineBridge,
        tray_available: bool = False,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.prefs: Preferences = settings.load()
        self.runner = runner
        self.bridge = bridge
        self.backend: Backend | None = None
        self.tray_available = tray_available
        self.token: str | None = None
        self.token_loaded = False  # the stored token is read off the GUI thread while the engine starts
        self.confirm_quit: Callable[[], bool] = self._ask_quit
        self._when_ready: list[Callable[[Backend], None]] = []
        self._quitting = False

        self.setWindowTitle("SGraph Send Desktop")
        self.setWindowIcon(app_icon())
        self.setAccessibleName("SGraph Send Desktop")
        self.resize(1000, 720)
        self.setMinimumSize(720, 520)

        self.actions_ = WindowActions(self)
        self.model = TransferQueueModel()
        self._build_ui()
        self._build_menus()
        self._connect()
        self._update_actions()
        self._update_totals()
        geometry, state = settings.geometry(), settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

    # ------------------------------------------------------------------------------------------
    # layout
    def _build_ui(self) -> None:
        a = self.actions_
        self.drop_zone = DropZone()

        self.max_downloads_spin = QSpinBox()
        self.max_downloads_spin.setRange(0, 1000)
        self.max_downloads_spin.setSpecialValueText("Unlimited")
        self.max_downloads_spin.setAccessibleName("Maximum downloads")
        self.max_downloads_spin.setToolTip("How many times the file can be downloaded (Unlimited = no limit)")
        self.expiry_combo = QComboBox()
        for label, _delta in EXPIRY_CHOICES:
            self.expiry_combo.addItem(label)
        self.expiry_combo.setAccessibleName("Expires after")
        self.key_combo = QComboBox()  # KEY_CHOICES: random stays the default (index 0)
        for label, _friendly, _strong in KEY_CHOICES:
            self.key_combo.addItem(label)
        self.key_combo.setAccessibleName("Kind of key")
        self.key_combo.setToolTip(FRIENDLY_WARNING)
        self.key_warning = QLabel("⚠ guessable in minutes")
        self.key_warning.setToolTip(FRIENDLY_WARNING)
        self.key_warning.setAccessibleName("Warning: a word-word-NNNN key can be guessed in minutes")
        self.key_warning.setStyleSheet("color: rgb(214, 69, 65);")
        self.key_warning.hide()
        self.key_combo.currentIndexChanged.connect(lambda i: self.key_warning.setVisible(i == 1))
        self.open_link_button = QPushButton("Open link…")
        self.open_link_button.setAccessibleName("Open a share link to download")
        self.open_link_button.setToolTip("Download from a share link (Ctrl+L)")
        self.open_link_button.clicked.connect(a.open_link.trigger)
        max_label = QLabel("Max &downloads:")
        max_label.setBuddy(self.max_downloads_spin)
        expiry_label = QLabel("&Expires:")
        expiry_label.setBuddy(self.expiry_combo)
        options = QHBoxLayout()
        options.addWidget(max_label)
        options.addWidget(self.max_downloads_spin)
        options.addSpacing(16)
        options.addWidget(expiry_label)
        options.addWidget(self.expiry_combo)
        options.addSpacing(16)
        key_label = QLabel("&Key:")
        key_label.setBuddy(self.key_combo)
        options.addWidget(key_label)
        options.addWidget(self.key_combo)
        options.addWidget(self.key_warning)
        options.addStretch(1)
        options.addWidget(self.open_link_button)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName("Transfer queue")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(30)
        self.table.setItemDelegateForColumn(Column.PROGRESS, ProgressDelegate(self.table))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(Column.NAME, QHeaderView.ResizeMode.Stretch)
        for column, width in (
            (Column.SIZE, 84),
            (Column.DIRECTION, 80),
            (Column.STATE, 150),
            (Column.PROGRESS, 160),
            (Column.SPEED, 90),
            (Column.ETA, 90),
        ):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            self.table.setColumnWidth(column, width)
        self.table.setMinimumHeight(160)
        for action in (a.toggle, a.cancel, a.copy_link, a.discard, a.open_file):
            self.table.addAction(action)

        self.row_buttons: dict[str, QToolButton] = {}
        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        for key, action in (
            ("pause", a.pause),
            ("resume", a.resume),
            ("cancel", a.cancel),
            ("retry", a.retry),
            ("up", a.move_up),
            ("down", a.move_down),
            ("discard", a.discard),
        ):
            buttons.addWidget(self._tool_button(key, action))
        buttons.addStretch(1)
        for key, action in (("pause_all", a.pause_all), ("resume_all", a.resume_all)):
            buttons.addWidget(self._tool_button(key, action))

        self.total_label = QLabel("")
        self.total_label.setAccessibleName("Queue totals")

        queue_box = QWidget()
        queue_layout = QVBoxLayout(queue_box)
        queue_layout.setContentsMargins(0, 0, 0, 0)
        queue_layout.setSpacing(6)
        queue_layout.addLayout(buttons)
        queue_layout.addWidget(self.table, 1)
        queue_layout.addWidget(self.total_label)

        self.details = DetailsPanel()
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(queue_box)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(14, 12, 14, 8)
        layout.setSpacing(10)
        layout.addWidget(self.drop_zone)
        layout.addLayout(options)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        self.server_label = QLabel("Starting…")
        self.server_label.setAccessibleName("Server in use")
        self.live_label = QLabel("")
        self.live_label.setAccessibleName("Progress source")
        self.live_label.setEnabled(False)
        self.statusBar().addPermanentWidget(self.live_label)
        self.statusBar().addPermanentWidget(self.server_label)

    def _tool_button(self, key: str, action: QAction) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        button.setAccessibleName(action.toolTip())
        self.row_buttons[key] = button
        return button

    def _build_menus(self) -> None:
        a = self.actions_
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for action in (a.add_files, a.add_folder, a.open_link, None, a.settings, None, a.quit):
            file_menu.addSeparator() if action is None else file_menu.addAction(action)
        transfer_menu = bar.addMenu("&Transfers")
        for action in (
            a.pause,
            a.resume,
            a.toggle,
            a.retry,
            a.cancel,
            a.discard,
            None,
            a.move_up,
            a.move_down,
            None,
            a.pause_all,
            a.resume_all,
            None,
            a.copy_link,
            a.copy_link_only,
            a.copy_key,
            a.show_qr,
            a.delete_remote,
            None,
            a.open_file,
            a.show_in_folder,
        ):
            transfer_menu.addSeparator() if action is None else transfer_menu.addAction(action)
        view_menu = bar.addMenu("&View")
        view_menu.addAction(a.history)
        help_menu = bar.addMenu("&Help")
        about = help_menu.addAction("&About SGraph Send Desktop")
        about.triggered.connect(self._about)

    def _connect(self) -> None:
        a = self.actions_
        self.drop_zone.paths_dropped.connect(self.send_paths)
        self.drop_zone.add_files_requested.connect(a.add_files.trigger)
        self.drop_zone.add_folder_requested.connect(a.add_folder.trigger)
        a.add_files.triggered.connect(self.choose_files)
        a.add_folder.triggered.connect(self.choose_folder)
        a.open_link.triggered.connect(self.open_link_dialog)
        a.settings.triggered.connect(self.open_settings)
        a.history.triggered.connect(self.open_history)
        a.quit.triggered.connect(self.request_quit)
        a.pause.triggered.connect(lambda: self._on_selected(self._engine_call("pause")))
        a.resume.triggered.connect(lambda: self._on_selected(self._engine_call("resume")))
        a.retry.triggered.connect(lambda: self._on_selected(self._engine_call("resume")))
        a.toggle.triggered.connect(self.toggle_selected)
        a.cancel.triggered.connect(lambda: self._on_selected(self._engine_call("cancel")))
        a.discard.triggered.connect(lambda: self._on_selected(self._engine_call("discard")))
        a.move_up.triggered.connect(lambda: self.move_selected(-1))
        a.move_down.triggered.connect(lambda: self.move_selected(+1))
        a.pause_all.triggered.connect(self.pause_all)
        a.resume_all.triggered.connect(self.resume_all)
        a.copy_link.triggered.connect(self.details.copy_link)
        a.copy_link_only.triggered.connect(self.details.copy_link_only)
        a.copy_key.triggered.connect(self.details.copy_key)
        a.show_qr.toggled.connect(self.details.qr_toggle.setChecked)
        self.details.qr_toggle.toggled.connect(a.show_qr.setChecked)
        a.delete_remote.triggered.connect(lambda: self._on_selected(self.delete_remote))
        a.open_file.triggered.connect(self.details.open_file)
        a.show_in_folder.triggered.connect(self.details.show_in_folder)
        self.details.delete_remote_requested.connect(self.delete_remote)
        self.details.retry_requested.connect(self._engine_call("resume"))
        self.details.copied.connect(lambda what: self.statusBar().showMessage(f"Copied the {what}.", 4000))
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.model.totals_changed.connect(self._update_totals)
        self.bridge.event_received.connect(self.on_engine_event)
        self.bridge.progress_received.connect(self.on_progress)
        self.runner.error.connect(lambda message: self.show_error(message))

    # ------------------------------------------------------------------------------------------
    # backend
    def attach_backend(self, backend: Backend) -> None:
        """Show the engine's transfers (journal included) and run what waited for it."""
        self.backend = backend
        self.token_loaded = True  # DesktopApp sets ``token`` before attaching
        self.server_label.setText(f"Server: {backend.server_label}")
        self._show_notes(backend.notes)
        self.runner.run(backend.engine.snapshots, on_result=self._initial_snapshots)
        waiting, self._when_ready = self._when_ready, []
        for call in waiting:
            call(backend)
        self.backend_ready.emit()

    def _show_notes(self, notes: list[str]) -> None:
        """What the local server wants the user to know (its port moved, no network address...)."""
        if notes:
            self.statusBar().showMessage(" ".join(notes), 20000)

    def backend_failed(self, error: BaseException) -> None:
        self.server_label.setText("Server: not available")
        self.show_error(f"Could not start: {error}")

    def _initial_snapshots(self, snapshots: list[TransferSnapshot]) -> None:
        self.model.add_missing(snapshots)
        # rows that arrived by events first (e.g. `sgsend-desktop LINK`) take their queue place
        self.model.set_order([snapshot.id for snapshot in snapshots])
        if self.table.currentIndex().row() < 0 and self.model.rowCount() > 0:
            self.table.selectRow(0)
        self._update_live()

    def _with_backend(self, call: Callable[[Backend], None]) -> None:
        if self.backend is not None:
            call(self.backend)
        else:
            self._when_ready.append(call)

    def _engine_call(self, method: str) -> Callable[[str], None]:
        def call(local_id: str) -> None:
            def run(backend: Backend) -> None:
                self.runner.run(lambda: getattr(backend.engine, method)(local_id))

            self._with_backend(run)

        return call

    # ------------------------------------------------------------------------------------------
    # engine events (GUI thread, via the bridge)
    def on_engine_event(self, event: EngineEvent) -> None:
        snap = event.snapshot
        if event.kind == "removed":
            self.model.remove(snap.id)
        else:
            self.model.upsert(snap)
        if event.kind == "added" and self.table.currentIndex().row() < 0:
            self.table.selectRow(self.model.row_of(snap.id))
        self._notify(event)
        self._refresh_selected(snap.id)
        self._update_live()

    def on_progress(self, snapshots: list[TransferSnapshot]) -> None:
        snapshots = self.model.apply_progress(snapshots)
        selected = self.selected_snapshot()
        if selected is not None and any(s.id == selected.id for s in snapshots):
            self._refresh_selected(selected.id)
        self._update_live()

    def _notify(self, event: EngineEvent) -> None:
        snap = event.snapshot
        if event.kind == "done" and snap.direction is Direction.SEND:
            self.notification.emit("Sent", f"{snap.name} is uploaded; its link is ready to share.", False)
        elif event.kind == "done":
            self.notification.emit(
                "Received", f"{snap.name} was saved to {snap.saved_path or 'your folder'}.", False
            )
        elif event.kind == "downloaded":
            self.notification.emit("Downloaded", f"{snap.name} was downloaded by the recipient.", False)
        elif event.kind == "failed":
            self.notification.emit("Transfer failed", f"{snap.name}: {snap.error or 'unknown error'}", True)

    def _update_live(self) -> None:
        sends = [
            s
            for s in self.model.snapshots()
            if s.direction is Direction.SEND and s.transfer_id and s.state.is_active
        ]
        if not sends:
            self.live_label.setText("")
        elif any(s.live_events for s in sends):
            self.live_label.setText("● live")
            self.live_label.setToolTip("Progress comes live from the server's event stream")
        else:
            self.live_label.setText(POLLING_TEXT[0].lower() + POLLING_TEXT[1:])
            self.live_label.setToolTip("This server has no event stream; progress is polled")

    # ------------------------------------------------------------------------------------------
    # selection
    def selected_snapshot(self) -> TransferSnapshot | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.snapshot_at(rows[0].row()) if rows else None

    def select_transfer(self, local_id: str) -> None:
        row = self.model.row_of(local_id)
        if row >= 0:
            self.table.selectRow(row)

    def _on_selected(self, call: Callable[[str], None]) -> None:
        snap = self.selected_snapshot()
        if snap is not None:
            call(snap.id)

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self.details.show_snapshot(self.selected_snapshot())
        self._update_actions()

    def _refresh_selected(self, local_id: str) -> None:
        selected = self.selected_snapshot()
        if selected is not None and selected.id == local_id:
            self.details.show_snapshot(selected)
            self._update_actions()
        elif selected is None:
            self.details.show_snapshot(None)
            self._update_actions()

    def _update_actions(self) -> None:
        a = self.actions_
        snap = self.selected_snapshot()
        state = snap.state if snap else None
        shared = bool(
            snap and snap.direction is Direction.SEND and state is TransferState.DONE and snap.share_link
        )
        received = bool(
            snap and snap.direction is Direction.RECEIVE and state is TransferState.DONE and snap.saved_path
        )
        a.pause.setEnabled(state in PAUSABLE)
        a.resume.setEnabled(state is TransferState.PAUSED)
        a.retry.setEnabled(state is TransferState.FAILED)
        a.toggle.setEnabled(state in PAUSABLE or state in (TransferState.PAUSED, TransferState.FAILED))
        a.cancel.setEnabled(state is not None and not state.is_final)
        a.discard.setEnabled(snap is not None)
        row = self.model.row_of(snap.id) if snap else -1
        a.move_up.setEnabled(state in MOVABLE and row > 0)
        a.move_down.setEnabled(state in MOVABLE and 0 <= row < self.model.rowCount() - 1)
        for action in (a.copy_link, a.copy_link_only, a.copy_key, a.show_qr):
            action.setEnabled(shared)
        a.delete_remote.setEnabled(
            bool(snap and snap.direction is Direction.SEND and state is TransferState.DONE)
        )
        a.open_file.setEnabled(received)
        a.show_in_folder.setEnabled(received)

    def _update_totals(self) -> None:
        totals = self.model.totals()
        if totals.count == 0:
            self.total_label.setText("No transfers yet — drop a file above, or open a link to receive one.")
            return
        parts = [f"{totals.count} transfer{'s' if totals.count != 1 else ''}", f"{totals.active} active"]
        if totals.bytes_total:
            left = max(0, totals.bytes_total - totals.bytes_done)
            parts.append(f"{format_size(left)} of {format_size(totals.bytes_total)} to go")
        if totals.speed_bps > 0:
            parts.append(format_speed(totals.speed_bps))
        self.total_label.setText("Total: " + " · ".join(parts))
        self._update_actions()

    def _context_menu(self, position: QPoint) -> None:
        index = self.table.indexAt(position)
        if not index.isValid():
            return
        self.table.selectRow(index.row())
        menu = QMenu(self)
        for action in self.actions_.row_actions():
            menu.addSeparator() if action is None else menu.addAction(action)
        menu.popup(self.table.viewport().mapToGlobal(position))

    # ------------------------------------------------------------------------------------------
    # commands
    def current_options(self) -> TransferOptions:
        delta = EXPIRY_CHOICES[self.expiry_combo.currentIndex()][1]
        _label, friendly, strong = KEY_CHOICES[max(0, self.key_combo.currentIndex())]
        return TransferOptions(
            max_downloads=self.max_downloads_spin.value(),
            expires_at=datetime.now(UTC) + delta if delta is not None else None,
            friendly_key=friendly, strong_friendly=strong,
        )

    def send_paths(self, paths: list[Path]) -> None:
        if not paths:
            return
        options = self.current_options()

        def run(backend: Backend) -> None:
            self.runner.run(
                lambda: backend.engine.send(list(paths), options),
                on_result=self._sent_ids,
                on_error=self._send_failed,
            )

        self._with_backend(run)
        noun = "file" if len(paths) == 1 else "items"
        self.statusBar().showMessage(f"Queued {len(paths)} {noun} to send.", 4000)

    def _sent_ids(self, ids: list[str]) -> None:
        if ids and self.selected_snapshot() is None:
            self.select_transfer(ids[0])

    def _send_failed(self, error: BaseException) -> None:
        self.show_error(f"Could not queue the files: {error}")

    def receive_link(self, link: str, key: str | None = None) -> None:
        dest = self.prefs.download_path()

        def run(backend: Backend) -> None:
            self.runner.run(
                lambda: backend.engine.receive(link, key=key, dest_dir=dest),
                on_result=self.select_transfer,
                on_error=lambda error: self.show_error(f"Cannot open this link: {error}"),
            )

        self._with_backend(run)

    def choose_files(self) -> None:
        files, _filter = QFileDialog.getOpenFileNames(self, "Choose files to send")
        self.send_paths([Path(f) for f in files])

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder to send")
        if folder:
            self.send_paths([Path(folder)])

    def open_link_dialog(self, link: str | None = None) -> OpenLinkDialog:
        dialog = OpenLinkDialog(self)
        if link:
            dialog.link_edit.setText(link)
        dialog.accepted.connect(lambda: self.receive_link(dialog.link, dialog.key))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def handle_incoming_link(self, link: str) -> None:
        """A link from the command line or a second launch: download it at once."""
        self.bring_to_front()
        self.receive_link(link.strip())

    def toggle_selected(self) -> None:
        snap = self.selected_snapshot()
        if snap is None:
            return
        method = "pause" if snap.state in PAUSABLE else "resume"
        self._engine_call(method)(snap.id)

    def move_selected(self, step: int) -> None:
        snap = self.selected_snapshot()
        if snap is None:
            return
        new_index = self.model.row_of(snap.id) + step
        if not 0 <= new_index < self.model.rowCount():
            return

        def run(backend: Backend) -> None:
            def move() -> list[TransferSnapshot]:
                backend.engine.move(snap.id, new_index)
                return backend.engine.snapshots()

            self.runner.run(move, on_result=lambda snaps: self._apply_order(snaps, snap.id))

        self._with_backend(run)

    def _apply_order(self, snapshots: list[TransferSnapshot], keep_selected: str) -> None:
        self.model.set_order([s.id for s in snapshots])
        self.select_transfer(keep_selected)

    def pause_all(self) -> None:
        def run(backend: Backend) -> None:
            self.runner.run(backend.engine.pause_all)

        self._with_backend(run)

    def resume_all(self) -> None:
        def run(backend: Backend) -> None:
            self.runner.run(backend.engine.resume_all)

        self._with_backend(run)

    def delete_remote(self, local_id: str) -> None:
        snap = self.model.snapshot_of(local_id)
        name = snap.name if snap else "this transfer"

        def run(backend: Backend) -> None:
            self.runner.run(
                lambda: backend.engine.delete_remote(local_id),
                on_result=lambda _r: self.statusBar().showMessage(f"Deleted {name} from the server.", 6000),
                on_error=lambda error: self.show_error(f"Could not delete {name}: {error}"),
            )

        self._with_backend(run)

    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.prefs, self.token, self)
        known = self.token_loaded
        if not known:  # an empty field now would erase the stored token on OK
            dialog.token_edit.setEnabled(False)
            dialog.token_edit.setPlaceholderText("Still loading the stored token…")
        dialog.accepted.connect(
            lambda: self.apply_settings(dialog.preferences(), dialog.token(), keep_token=not known)
        )
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def apply_settings(self, prefs: Preferences, token: str | None, keep_token: bool = False) -> None:
        """``keep_token``: the dialog never knew the stored token, so keep it rather than save ``token``."""
        self.prefs = prefs
        if not keep_token:
            self.token = token
        self.settings.save(prefs)

        def run(backend: Backend) -> None:
            def apply() -> tuple[str | None, str, list[str]]:
                chosen = self.settings.load_token() if keep_token else token
                if not keep_token:
                    self.settings.save_token(chosen)
                notes_before = backend.notes
                backend.apply_preferences(prefs, chosen)
                notes = backend.notes if backend.notes is not notes_before else []
                return chosen, backend.server_label, notes

            def applied(result: tuple[str | None, str, list[str]]) -> None:
                self.token, label, notes = result
                self.token_loaded = True
                self.server_label.setText(f"Server: {label}")
                self._show_notes(notes)
                self.runner.run(backend.engine.snapshots, on_result=self._refresh_all)

            self.runner.run(apply, on_result=applied)

        self._with_backend(run)

    def _refresh_all(self, snapshots: list[TransferSnapshot]) -> None:
        """After a server change: links and "where it opens" of every row may have changed."""
        for snapshot in snapshots:
            current = self.model.snapshot_of(snapshot.id)
            if current is not None and current.state is snapshot.state:  # no stale state comes back
                self.model.upsert(snapshot)
        selected = self.selected_snapshot()
        if selected is not None:
            self._refresh_selected(selected.id)

    def open_history(self) -> HistoryDialog:
        dialog = HistoryDialog(self.model.snapshots(), self)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About SGraph Send Desktop",
            "SGraph Send Desktop\n\nEnd-to-end encrypted file sending. Files are encrypted on "
            "this computer; the key travels only in the link, never to the server.",
        )

    def show_error(self, message: str) -> None:
        log.warning("%s", message)
        self.statusBar().showMessage(message, 10000)

    def bring_to_front(self) -> None:
        self.show()
        self.setWindowState(
            (self.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive
        )
        self.raise_()
        self.activateWindow()

    # ------------------------------------------------------------------------------------------
    # closing
    def running_transfers(self) -> list[TransferSnapshot]:
        return [s for s in self.model.snapshots() if s.state.is_active or s.state is TransferState.QUEUED]

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._quitting:
            event.accept()
            return
        self.save_window_state()
        if self.tray_available and self.prefs.close_to_tray:
            event.ignore()
            self.hide()
            self.hidden_to_tray.emit()
            return
        if self.running_transfers() and not self.confirm_quit():
            event.ignore()
            return
        event.ignore()
        self.request_quit()

    def _ask_quit(self) -> bool:
        answer = QMessageBox.question(
            self,
            "Quit SGraph Send?",
            "Transfers are still running. Quit anyway? They are paused and can be resumed next time.",
        )
        return answer == QMessageBox.StandardButton.Yes

    def request_quit(self) -> None:
        self.save_window_state()
        self._quitting = True
        self.quit_requested.emit()

    def save_window_state(self) -> None:
        self.settings.save_window(self.saveGeometry(), self.saveState())

    def index_for(self, local_id: str, column: Column = Column.NAME) -> QModelIndex:
        return self.model.index(self.model.row_of(local_id), column)
