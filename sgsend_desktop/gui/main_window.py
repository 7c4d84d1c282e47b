"""The main window: layout and wiring of the toolbar, the drop zone, the send options, the queue and the
selected transfer's details.

It commands the engine only through ``TransferCommands`` (off the GUI thread) and renders what the
EngineBridge reports; it never does HTTP, SQL, crypto or hashing itself. What is enabled, and what is
asked before an irreversible step, are pure functions of the selected snapshots (``gui/rules.py``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

from PySide6.QtCore import (
    QEvent,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPoint,
    QSize,
    Qt,
    QTimer,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFileDialog,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSizePolicy,
    QSplitter,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sgsend_desktop.core.errors import LinkError
from sgsend_desktop.core.model import Direction, EngineEvent, TransferOptions, TransferSnapshot
from sgsend_desktop.core.unzip import UnzipResult
from sgsend_desktop.gui import welcome_token
from sgsend_desktop.gui.actions import WindowActions
from sgsend_desktop.gui.backend import Backend
from sgsend_desktop.gui.background import BackgroundRunner
from sgsend_desktop.gui.colors import ToneLabel
from sgsend_desktop.gui.commands import TransferCommands
from sgsend_desktop.gui.details_panel import POLLING_TEXT, DetailsPanel, DetailsScroll
from sgsend_desktop.gui.dialogs.confirm import ask
from sgsend_desktop.gui.dialogs.history import HistoryDialog
from sgsend_desktop.gui.dialogs.open_link import OpenLinkDialog
from sgsend_desktop.gui.dialogs.settings_dialog import SettingsDialog
from sgsend_desktop.gui.drop_zone import DropOverlay, DropZone, local_paths
from sgsend_desktop.gui.engine_bridge import EngineBridge
from sgsend_desktop.gui.formatting import (
    display_name,
    format_size,
    format_speed,
    link_error_text,
    plural,
)
from sgsend_desktop.gui.icons import app_icon, clear_cache
from sgsend_desktop.gui.incoming import missing_text, split_incoming
from sgsend_desktop.gui.placement import (
    COMFORTABLE,
    SMALLEST,
    first_geometry,
    room_for,
    smallest_size,
)
from sgsend_desktop.gui.progress_delegate import ProgressDelegate, RowActionsDelegate, StateDelegate
from sgsend_desktop.gui.queue_model import Column, TransferQueueModel, totals_of
from sgsend_desktop.gui.queue_view import QueueView
from sgsend_desktop.gui.rules import (
    Question,
    action_states,
    can_cancel,
    can_pause,
    can_resume,
    can_retry,
    cancel_question,
    delete_question,
    is_running,
    is_shared,
    quit_question,
    remove_question,
)
from sgsend_desktop.gui.send_options import (  # noqa: F401 - re-exported for older imports
    EXPIRY_CHOICES,
    FRIENDLY_WARNING,
    KEY_CHOICES,
    SendOptions,
)
from sgsend_desktop.gui.settings import AppSettings, Preferences
from sgsend_desktop.gui.unpacking import ZipUnpacker, result_html

log = logging.getLogger(__name__)
ERROR_SHOWN_MS = 10_000  # an error stays this long in the status bar (notes wait for it)


def downloaded_text(name: str, count: int) -> str:
    """The server counts a download when a recipient starts it (it never sees the end: the bytes may
    come straight from the store), so the notice says *started*, not that the file arrived."""
    so_far = f" ({plural(count, 'download')} so far)" if count > 1 else ""
    return f"A recipient started downloading {name}{so_far}."

TITLE = "SGraph Send Desktop"
EMPTY_TOTALS = "No transfers yet — drop files anywhere in this window, or open a link to receive one."
CLEARED_TOTALS = ("Nothing in the queue — drop files anywhere in this window, or open a link. Finished "
                  "transfers are in History (Ctrl+H).")
# toolbar: (action, key in row_buttons, shows its text)
TOOLBAR: list[tuple[str, str, bool] | None] = [
    ("add_files", "add_files", True),
    ("add_folder", "add_folder", True),
    ("open_link", "open_link", True),
    None,
    ("pause", "pause", False),
    ("resume", "resume", False),
    ("retry", "retry", False),
    ("cancel", "cancel", False),
    ("discard", "discard", False),
    ("move_up", "up", False),
    ("move_down", "down", False),
    None,
    ("pause_all", "pause_all", True),
    ("resume_all", "resume_all", True),
    None,
    ("history", "history", False),
    ("settings", "settings", False),
]


FINISHED_QUIET_S = 2.0  # finished transfers are told once none has finished for this long...
FINISHED_MOST_S = 10.0  # ...or this long after the first of them


def finished_text(group: Sequence[TransferSnapshot]) -> str:
    """What a notification says of sends (or receives) that finished together."""
    first = display_name(group[0])
    who = first
    if len(group) == 2:
        who = f"{first} and {display_name(group[1])}"
    elif len(group) > 2:
        who = f"{first} and {len(group) - 1} more"
    if group[0].direction is Direction.SEND:
        if len(group) == 1:
            return f"{who} is uploaded; its link is ready to share."
        return f"{who} are uploaded; their links are ready to share."
    if len(group) == 1:
        return f"{who} was saved to {group[0].saved_path or 'your folder'}."
    folders = {str(Path(s.saved_path).parent) for s in group if s.saved_path}
    return f"{who} were saved{f' to {folders.pop()}' if len(folders) == 1 else ''}."


def cleared_text(count: int) -> str:
    return f"Cleared {count} finished transfer{'s' if count != 1 else ''} off the list; History keeps them."


ALREADY_RECEIVING_TEXT = "This link is already in the queue: its download goes on from where it is."
NAME_ROOM = 160  # the least a name gets before other columns give way: "Quarterly…report.pdf"


class MainWindow(QMainWindow):
    notification = Signal(str, str, bool, str)  # title, message, is_error, local id (the tray shows it)
    quit_requested = Signal()
    backend_ready = Signal()
    hidden_to_tray = Signal()
    totals_text_changed = Signal(str)  # "2 active · 45 % · 1.2 MB/s" (tray tooltip and menu); "" if empty

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
        self.commands = TransferCommands(runner, self)
        self.tray_available = tray_available
        self.token: str | None = None
        self.token_loaded = False  # the stored token is read off the GUI thread while the engine starts
        # questions before irreversible steps (tests answer them)
        self.confirm: Callable[[Question], bool] = lambda question: ask(self, question)
        self.confirm_quit: Callable[[], bool] = self._ask_quit
        self.inform: Callable[[str, str], None] = self._inform
        self.choose_unpack_folder: Callable[[Path], Path | None] = self._choose_unpack_folder
        self._quitting = False
        self._error_until = 0.0  # monotonic time until which the status bar shows an error (show_error)
        self._pending_note: tuple[str, int] | None = None  # a note waiting for that error to be read
        self._note_timer = QTimer(self)  # the window's child: it never fires for a closed window
        self._note_timer.setSingleShot(True)
        self._note_timer.timeout.connect(self._show_pending_note)
        self._totals_text = ""
        self._details_shape: tuple[object, ...] | None = None
        self._live_pending = False
        self._finished: list[TransferSnapshot] = []  # done, not told yet (see _notify)
        self._finished_since = 0.0
        self._finished_timer = QTimer(self)
        self._finished_timer.setSingleShot(True)
        self._finished_timer.timeout.connect(self._tell_finished)
        self.unpacker = ZipUnpacker(runner, self)
        self.unpacker.progress.connect(self._unpack_progress)

        self.setWindowTitle(TITLE)
        self.setWindowIcon(app_icon())
        self.setAccessibleName(TITLE)
        self.setAcceptDrops(True)  # anywhere in the window: drag events come up from the widget below
        room = room_for(self)
        if room is None:
            self.resize(COMFORTABLE)
            self.setMinimumSize(SMALLEST)
        else:
            self.setGeometry(first_geometry(room))
            self.setMinimumSize(smallest_size(room))

        self.actions_ = WindowActions(self)
        self.model = TransferQueueModel()
        self._build_ui()
        self._build_toolbar()
        self._build_menus()
        self._connect()
        self._set_tab_order()
        self._queue_size_changed()
        self._update_actions()
        self._update_totals()
        self._ticker = QTimer(self)  # speeds go stale, expiries count down: no engine event for those
        self._ticker.setInterval(1000)
        self._ticker.timeout.connect(self.model.refresh_live_columns)
        self._ticker.start()
        geometry, state = settings.geometry(), settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)  # Qt fits it to the screens there are now
        if state is not None:
            self.restoreState(state)

    # ------------------------------------------------------------------------------------------
    # the engine (DesktopApp attaches it once started)
    @property
    def backend(self) -> Backend | None:
        return self.commands.backend

    @backend.setter
    def backend(self, backend: Backend | None) -> None:
        self.commands.backend = backend

    # ------------------------------------------------------------------------------------------
    # layout
    def _build_ui(self) -> None:
        self.drop_zone = DropZone()
        self.send_options = SendOptions()

        self.table = QueueView()
        self.table.setModel(self.model)
        self.table.setAccessibleName("Transfer queue")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setTabKeyNavigation(False)  # Tab leaves the queue; arrows move inside it
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # "Quarterly re…port.pdf"
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(30)
        self.table.setIconSize(QSize(20, 20))
        self.table.setItemDelegateForColumn(Column.PROGRESS, ProgressDelegate(self.table))
        self.table.setItemDelegateForColumn(Column.STATE, StateDelegate(self.table))
        self.row_actions_delegate = RowActionsDelegate(self.table)
        self.table.setItemDelegateForColumn(Column.ACTIONS, self.row_actions_delegate)
        header = self.table.horizontalHeader()
        header.setMinimumSectionSize(40)
        header.setSectionResizeMode(Column.NAME, QHeaderView.ResizeMode.Stretch)
        for column, width in (
            (Column.SIZE, 150),
            (Column.STATE, 170),
            (Column.PROGRESS, 120),
            (Column.SPEED, 84),
            (Column.ETA, 110),
            (Column.ACTIONS, 64),
        ):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            self.table.setColumnWidth(column, width)
        header.setSectionResizeMode(Column.ACTIONS, QHeaderView.ResizeMode.Fixed)
        # too narrow for all of them: speed, then time left, then size give way (details panel has them)
        self.table.set_columns_that_give_way(
            (Column.SPEED, Column.ETA, Column.SIZE), Column.NAME, NAME_ROOM
        )
        self.table.setMinimumHeight(120)
        for action in (
            self.actions_.toggle,
            self.actions_.cancel,
            self.actions_.copy_link,
            self.actions_.discard,
            self.actions_.open_file,
        ):
            self.table.addAction(action)

        self.total_label = ToneLabel("")
        self.total_label.setAccessibleName("Queue totals")

        queue_box = QWidget()
        queue_layout = QVBoxLayout(queue_box)
        queue_layout.setContentsMargins(0, 0, 0, 0)
        queue_layout.setSpacing(4)
        queue_layout.addWidget(self.table, 1)
        queue_layout.addWidget(self.total_label)

        self._into_view: str | None = None  # the first of the files just queued, to scroll to
        self._select_when_added: str | None = None  # a transfer to select once its row arrives
        self.details = DetailsPanel()
        self.details_scroll = DetailsScroll(self.details)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(queue_box)
        self.splitter.addWidget(self.details_scroll)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(12, 8, 12, 6)
        layout.setSpacing(8)
        layout.addWidget(self.drop_zone)
        layout.addWidget(self.send_options)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.drop_overlay = DropOverlay(self)

        self.server_label = QLabel("Starting…")
        self.server_label.setAccessibleName("Server in use")
        self.server_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.server_label.setMinimumWidth(120)
        self.live_label = ToneLabel("")
        self.live_label.setAccessibleName("Progress source")
        # the server label is a normal widget: a message ("Copied the link.") takes its place for a few
        # seconds. As a stretching *permanent* widget it left messages no room: none was ever seen
        self.statusBar().addWidget(self.server_label, 1)
        self.statusBar().addPermanentWidget(self.live_label)

    def _build_toolbar(self) -> None:
        self.toolbar = QToolBar("Transfers")
        self.toolbar.setObjectName("mainToolbar")
        self.toolbar.setAccessibleName("Toolbar")
        self.toolbar.setMovable(False)
        self.toolbar.setFloatable(False)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)
        self.row_buttons: dict[str, QToolButton] = {}
        for item in TOOLBAR:
            if item is None:
                self.toolbar.addSeparator()
                continue
            name, key, with_text = item
            if name == "pause_all":
                spacer = QWidget()
                spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
                self.toolbar.addWidget(spacer)
            action: QAction = getattr(self.actions_, name)
            self.toolbar.addAction(action)
            button = self.toolbar.widgetForAction(action)
            assert isinstance(button, QToolButton)
            button.setToolButtonStyle(
                Qt.ToolButtonStyle.ToolButtonTextBesideIcon
                if with_text
                else Qt.ToolButtonStyle.ToolButtonIconOnly
            )
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # toolbars skip Tab by default: not this one
            button.setAccessibleName(action.toolTip())
            self.row_buttons[key] = button

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
            a.clear_finished,
            None,
            a.copy_link,
            a.copy_link_only,
            a.copy_key,
            a.show_qr,
            a.delete_remote,
            None,
            a.open_file,
            a.show_in_folder,
            a.unpack,
        ):
            transfer_menu.addSeparator() if action is None else transfer_menu.addAction(action)
        view_menu = bar.addMenu("&View")
        view_menu.addAction(a.history)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(a.about)

    def _connect(self) -> None:
        a = self.actions_
        self.drop_zone.add_files_requested.connect(a.add_files.trigger)
        self.drop_zone.add_folder_requested.connect(a.add_folder.trigger)
        a.add_files.triggered.connect(self.choose_files)
        a.add_folder.triggered.connect(self.choose_folder)
        a.open_link.triggered.connect(self.open_link_dialog)
        a.settings.triggered.connect(self.open_settings)
        a.history.triggered.connect(self.open_history)
        a.about.triggered.connect(self.show_about)
        a.quit.triggered.connect(self.quit_asking)
        a.pause.triggered.connect(lambda: self.commands.pause(self._ids(can_pause)))
        a.resume.triggered.connect(lambda: self.commands.resume(self._ids(can_resume)))
        a.retry.triggered.connect(self.retry_selected)
        a.toggle.triggered.connect(self.toggle_selected)
        a.cancel.triggered.connect(self.cancel_selected)
        a.discard.triggered.connect(self.remove_selected)
        a.move_up.triggered.connect(lambda: self.move_selected(-1))
        a.move_down.triggered.connect(lambda: self.move_selected(+1))
        a.pause_all.triggered.connect(self.pause_all)
        a.resume_all.triggered.connect(self.resume_all)
        a.clear_finished.triggered.connect(self.clear_finished)
        a.copy_link.triggered.connect(self.copy_links)
        a.copy_link_only.triggered.connect(self.details.copy_link_only)
        a.copy_key.triggered.connect(self.details.copy_key)
        a.show_qr.toggled.connect(self.details.qr_toggle.setChecked)
        self.details.qr_toggle.toggled.connect(a.show_qr.setChecked)
        a.delete_remote.triggered.connect(lambda: self.delete_remote_selected(self.selected_snapshots()))
        a.open_file.triggered.connect(self.details.open_file)
        a.show_in_folder.triggered.connect(self.details.show_in_folder)
        a.unpack.triggered.connect(lambda: self._on_one(self.unpack))
        self.details.delete_remote_requested.connect(self.delete_remote)
        self.details.retry_requested.connect(lambda local_id: self.retry(self._snaps([local_id])))
        self.details.unpack_requested.connect(self.unpack)
        # slots of the window, not lambdas: Qt disconnects them when the window goes (a lambda fired on a
        # deleted pane while the window closed in CI's relaunch test)
        self.details.resized.connect(self._fit_details_soon)
        self.details_scroll.resized.connect(self._fit_details_soon)
        self.details.copied.connect(lambda what: self.statusBar().showMessage(f"Copied the {what}.", 4000))
        self.details.unpack_label.linkActivated.connect(lambda url: self.details.open_url(QUrl(url)))
        self.row_actions_delegate.triggered.connect(self._row_button)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.model.totals_changed.connect(self._update_totals)
        self.model.rowsInserted.connect(lambda *_: self._queue_size_changed())
        self.model.rowsRemoved.connect(lambda *_: self._queue_size_changed())
        self.bridge.event_received.connect(self.on_engine_event)
        self.bridge.progress_received.connect(self.on_progress)
        self.runner.error.connect(lambda message: self.show_error(message))

    def _focus_chain(self) -> list[QWidget]:
        toolbar = [self.row_buttons[item[1]] for item in TOOLBAR if item is not None]
        drop = [self.drop_zone.add_files_button, self.drop_zone.add_folder_button]
        return [*toolbar, *drop, *self.send_options.focus_chain(), self.table, *self.details.focus_chain()]

    def _set_tab_order(self) -> None:
        """Toolbar → drop zone → send options → queue → details panel (hidden ones are skipped)."""
        chain = self._focus_chain()
        for first, second in pairwise(chain):
            QWidget.setTabOrder(first, second)

    def _queue_size_changed(self) -> None:
        has_rows = self.model.rowCount() > 0
        self.drop_zone.set_compact(has_rows)
        self.details_scroll.setVisible(has_rows)  # nothing to select yet: no "select a transfer" box

    # ------------------------------------------------------------------------------------------
    # the backend
    def attach_backend(self, backend: Backend) -> None:
        """Show the engine's transfers (journal included) and run what waited for it."""
        self.token_loaded = True  # DesktopApp sets ``token`` before attaching
        self.server_label.setText(f"Server: {backend.server_label}")
        self.server_label.setToolTip(backend.server_label)
        self._show_notes(backend.notes)
        self.commands.attach(backend)
        self.commands.snapshots(self._initial_snapshots)
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
        if not self.selected_snapshots() and self.model.rowCount() > 0:
            self.select_row(0)
        self._update_live()

    # ------------------------------------------------------------------------------------------
    # engine events (GUI thread, via the bridge)
    def on_engine_event(self, event: EngineEvent) -> None:
        snap = event.snapshot
        if event.kind == "removed":
            self.model.remove_soon(snap.id)
        else:
            self.model.upsert(snap)
        if event.kind == "added" and (snap.id == self._select_when_added or not self.selected_snapshots()):
            self._select_when_added = None
            self.select_transfer(snap.id)
        elif event.kind == "added" and snap.id == self._into_view:
            self._bring_into_view()
        self._notify(event)
        self._refresh_selected(snap.id)
        self._update_actions()  # a row came or went: moving up/down may have changed
        self._update_live_soon()

    def on_progress(self, snapshots: list[TransferSnapshot]) -> None:
        applied = self.model.apply_progress(snapshots)
        if not applied:
            return
        selected = self.selected_snapshots()
        ids = {s.id for s in selected}
        if any(snap.id in ids for snap in applied):
            self._show_selection(selected)
            self._update_actions(selected)
        self._update_live_soon()

    def _notify(self, event: EngineEvent) -> None:
        snap = event.snapshot
        name = display_name(snap)
        if event.kind == "done":
            # finished ones are told together: 50 files dropped at once made 50 notifications
            if not self._finished:
                self._finished_since = time.monotonic()
            self._finished.append(snap)
            wait = min(FINISHED_QUIET_S, FINISHED_MOST_S - (time.monotonic() - self._finished_since))
            self._finished_timer.start(max(0, round(wait * 1000)))
        elif event.kind == "downloaded":
            self.notification.emit("Downloaded", downloaded_text(name, snap.download_count), False, snap.id)
        elif event.kind == "failed":
            self.notification.emit(
                "Transfer failed", f"{name}: {snap.error or 'unknown error'}", True, snap.id
            )

    def _tell_finished(self) -> None:
        """One notification for the sends, one for the receives that finished since the last one."""
        finished, self._finished = self._finished, []
        for title, group in (
            ("Sent", [s for s in finished if s.direction is Direction.SEND]),
            ("Received", [s for s in finished if s.direction is Direction.RECEIVE]),
        ):
            if group:
                self.notification.emit(title, finished_text(group), False, group[-1].id)

    def _update_live_soon(self) -> None:
        """Once per turn of the event loop, however many events came: the label looks at every row
        (2000 events of *Clear finished* on 2000 rows took 2.4 s one by one)."""
        if not self._live_pending:
            self._live_pending = True
            QTimer.singleShot(0, self, self._update_live)

    def _update_live(self) -> None:
        self._live_pending = False
        sends = [
            s
            for s in self.model.snapshots()
            if s.direction is Direction.SEND and s.transfer_id and s.state.is_active
        ]
        if not sends:
            self.live_label.setText("")
        elif all(s.reconnecting for s in sends):  # not "live": the event stream is down with the server
            self.live_label.setText("○ offline")
            self.live_label.setToolTip("The server cannot be reached; the transfers reconnect by themselves")
        elif any(s.live_events for s in sends):
            self.live_label.setText("● live")
            self.live_label.setToolTip("Progress comes live from the server's event stream")
        elif any(s.events_down for s in sends):  # parts go straight to the store: the sends go on
            self.live_label.setText("○ events reconnecting")
            self.live_label.setToolTip("The server's event stream dropped (is the server away?); uploads "
                                       "go on, progress is counted here until it is back")
        else:
            self.live_label.setText(POLLING_TEXT[0].lower() + POLLING_TEXT[1:])
            self.live_label.setToolTip("This server has no event stream; progress is polled")

    # ------------------------------------------------------------------------------------------
    # selection
    def selected_snapshots(self) -> list[TransferSnapshot]:
        """The selected rows' snapshots, in queue order."""
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        return [s for s in (self.model.snapshot_at(r) for r in rows) if s is not None]

    def selected_snapshot(self) -> TransferSnapshot | None:
        """The one selected transfer (None when none or several are selected)."""
        selected = self.selected_snapshots()
        return selected[0] if len(selected) == 1 else None

    def select_transfer(self, local_id: str) -> None:
        """Make that row the whole selection (whatever modifier keys are held meanwhile); a row not there
        yet (a command answered before its "added" event arrived) is selected when it comes."""
        row = self.model.row_of(local_id)
        if row < 0:
            if not self.model.is_archived(local_id):  # cleared off the list: it will not come
                self._select_when_added = local_id
            return
        self.select_row(row)

    def select_row(self, row: int) -> None:
        if not 0 <= row < self.model.rowCount():
            return
        index = self.model.index(row, 0)
        flags = QItemSelectionModel.SelectionFlag
        self.table.selectionModel().setCurrentIndex(index, flags.ClearAndSelect | flags.Rows)
        self.table.scrollTo(index)
        # and once more after the layout settled: the details panel and the table resize for the new
        # selection, which left a row just added at the bottom half hidden (seen using the window)
        snap = self.model.snapshot_at(row)
        if snap is not None:
            local_id = snap.id
            QTimer.singleShot(0, self, lambda: self._scroll_to(local_id))

    def _ids(self, keep: Callable[[TransferSnapshot], bool]) -> list[str]:
        return [s.id for s in self.selected_snapshots() if keep(s)]

    def _snaps(self, ids: Sequence[str]) -> list[TransferSnapshot]:
        return [s for s in (self.model.snapshot_of(i) for i in ids) if s is not None]

    def _on_one(self, call: Callable[[str], None]) -> None:
        snap = self.selected_snapshot()
        if snap is not None:
            call(snap.id)

    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        selected = self.selected_snapshots()
        self.row_actions_delegate.selected_id = selected[0].id if len(selected) == 1 else ""
        self._show_selection(selected)
        self._update_actions(selected)
        self.table.viewport().update()  # the row buttons follow the selection

    def _show_selection(self, selected: list[TransferSnapshot] | None = None) -> None:
        if selected is None:
            selected = self.selected_snapshots()
        if len(selected) > 1:
            self.details.show_snapshot(None)
            self.details.title.setText(f"{len(selected)} transfers selected")
            summary = totals_of(selected).summary()
            self.details.subtitle.setText(summary)
            self.details.subtitle.show()
        else:
            self.details.show_snapshot(selected[0] if selected else None)
        self._fit_details()

    def _fit_details_soon(self) -> None:
        QTimer.singleShot(0, self, self._fit_details)  # once the layout has settled

    def _fit_details(self, force: bool = False) -> None:
        """The details pane takes the height its content needs (the queue keeps the rest): when what it
        needs or the splitter's sizes changed (a section shown, a QR code, a resize)."""
        layout = self.details.layout()
        if layout is not None:
            layout.activate()  # cheap unless a section was shown or hidden
        want = self.details.sizeHint().height()
        width = self.details_scroll.width()
        # wrapped text (the link's reach, an error) takes more lines when the window is narrow; a layout
        # with no wrapped text shown answers -1 (and its "total" 1 px)
        wraps = layout is not None and width > 0 and layout.hasHeightForWidth()
        if layout is not None and wraps and layout.heightForWidth(width) >= 0:
            want = layout.totalHeightForWidth(width)
        sizes = self.splitter.sizes()
        key = (want, *sizes)
        if key == self._details_shape and not force:
            return
        total = sum(sizes)
        if total <= 0:
            return
        height = max(0, min(want, total - self.table.minimumHeight() - 30))
        if sizes[1] != height:
            self.splitter.setSizes([total - height, height])
        self._details_shape = (want, *self.splitter.sizes())

    def _refresh_selected(self, local_id: str) -> None:
        selected = self.selected_snapshots()
        if not selected or local_id in {s.id for s in selected}:
            self._show_selection(selected)
            self._update_actions(selected)

    def _update_actions(self, selected: list[TransferSnapshot] | None = None) -> None:
        if selected is None:
            selected = self.selected_snapshots()
        rows = [self.model.row_of(s.id) for s in selected]
        for name, enabled in action_states(selected, rows, self.model.rowCount()).items():
            getattr(self.actions_, name).setEnabled(enabled)

    def _update_totals(self) -> None:
        totals = self.model.totals()
        self.actions_.clear_finished.setEnabled(totals.done > 0)
        if totals.count == 0:
            self.total_label.setText(CLEARED_TOTALS if self.model.all_snapshots() else EMPTY_TOTALS)
            text = ""
        else:
            parts = [totals.summary()]
            if totals.fraction is not None and totals.active + totals.waiting + totals.paused:
                parts.append(f"{round(totals.fraction * 100)} %")
            if totals.bytes_total:
                left = max(0, totals.bytes_total - totals.bytes_done)
                unsized = f" + {totals.unsized} of unknown size" if totals.unsized else ""
                parts.append(f"{format_size(left)} of {format_size(totals.bytes_total)}{unsized} to go")
            if totals.speed_bps > 0:
                parts.append(format_speed(totals.speed_bps))
            self.total_label.setText("Total: " + " · ".join(parts))
            text = " · ".join(parts)
        fraction = totals.fraction
        busy = totals.active > 0 and fraction is not None
        self.setWindowTitle(
            f"{round(fraction * 100)} % · {TITLE}" if busy and fraction is not None else TITLE
        )
        if text != self._totals_text:
            self._totals_text = text
            self.totals_text_changed.emit(text)

    def totals_text(self) -> str:
        return self._totals_text

    def _context_menu(self, position: QPoint) -> None:
        index = self.table.indexAt(position)
        if not index.isValid():
            return
        if not self.table.selectionModel().isRowSelected(index.row(), QModelIndex()):
            self.select_row(index.row())
        menu = QMenu(self)
        for action in self.actions_.row_actions():
            menu.addSeparator() if action is None else menu.addAction(action)
        menu.popup(self.table.viewport().mapToGlobal(position))

    def _row_button(self, key: str, local_id: str) -> None:
        """A row's hover button: that row becomes the selection, then its action runs as from the menu."""
        if local_id not in {s.id for s in self.selected_snapshots()} or len(self.selected_snapshots()) > 1:
            self.select_transfer(local_id)
        action: QAction = getattr(self.actions_, key)
        if action.isEnabled():
            action.trigger()

    # ------------------------------------------------------------------------------------------
    # dropping files anywhere in the window
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        paths = local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self._place_overlay()
        self.drop_overlay.show_for(len(paths), self.send_options.together)
        self.drop_zone.set_hover(True)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if not local_paths(event.mimeData()):
            event.ignore()
            return
        event.acceptProposedAction()
        self.drop_overlay.set_pointer(self.drop_overlay.mapFrom(self, event.position().toPoint()))

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.drop_overlay.hide()
        self.drop_zone.set_hover(False)

    def dropEvent(self, event: QDropEvent) -> None:
        paths = local_paths(event.mimeData())
        overlay_pos = self.drop_overlay.mapFrom(self, event.position().toPoint())
        if self.drop_overlay.isHidden():  # a drop without a drag-enter (never from a real drag)
            self.drop_overlay.show_for(len(paths), self.send_options.together)
        together = self.drop_overlay.together_at(overlay_pos)
        self.drop_overlay.hide()
        self.drop_zone.set_hover(False)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.send_paths(paths, together=together)

    def _place_overlay(self) -> None:
        central = self.centralWidget()
        if central is not None:
            self.drop_overlay.setGeometry(central.geometry())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_details_soon()
        if self.drop_overlay.isVisible():
            self._place_overlay()

    # ------------------------------------------------------------------------------------------
    # commands
    def current_options(self) -> TransferOptions:
        return self.send_options.options()

    def send_paths(self, paths: list[Path], together: bool | None = None) -> None:
        """Queue ``paths``: one transfer each, or (``together``; default: the send options' choice) one
        transfer with one link for all of them."""
        if not paths:
            return
        group = self.send_options.together if together is None else together
        self.commands.send(
            list(paths),
            self.current_options(),
            group and len(paths) > 1,
            on_result=self._sent_ids,
            on_error=self._send_failed,
        )
        if group and len(paths) > 1:
            message = f"Queued {plural(len(paths), 'item')} to send as one zip with one link."
        elif len(paths) == 1:
            message = f"Queued {paths[0].name or paths[0]} to send."  # a file or a folder: its name says
        else:
            message = f"Queued {plural(len(paths), 'item')} to send, one link each."
        self.statusBar().showMessage(message, 4000)

    def _sent_ids(self, ids: list[str]) -> None:
        if ids and not self.selected_snapshots():
            self.select_transfer(ids[0])
        elif ids:  # the selection stays; the new rows come into view (they join the end of a long queue)
            self._into_view = ids[0]
            self._bring_into_view()

    def _bring_into_view(self) -> None:
        """Scroll to the first row of the files just queued, once its row is there (its "added" event may
        come after the answer of the send)."""
        local_id = self._into_view
        row = self.model.row_of(local_id) if local_id else -1
        if row >= 0:
            self._into_view = None
            self.table.scrollTo(self.model.index(row, 0))
            # and once more after the layout settled (the table's own resizing left the row half shown)
            QTimer.singleShot(0, self, lambda: self._scroll_to(local_id))

    def _scroll_to(self, local_id: str | None) -> None:
        row = self.model.row_of(local_id) if local_id else -1
        if row >= 0:
            self.table.scrollTo(self.model.index(row, 0))

    def _send_failed(self, error: BaseException) -> None:
        self.show_error(f"Could not queue the files: {error}")

    def receive_link(self, link: str, key: str | None = None, folder: Path | None = None) -> None:
        """Download what a link holds (into ``folder``, else the download folder of Settings); a welcome
        link's access token is imported instead (asked first)."""
        from sgsend_desktop.core.links import parse_link

        try:
            parsed = parse_link(link, key)
        except LinkError as error:
            self.show_error(f"Cannot open this link: {link_error_text(error)}")
            return
        if parsed.is_welcome:
            self.import_welcome_token(link, key)
            return
        known = {snap.id for snap in self.model.snapshots()}

        def received(local_id: str) -> None:
            self.select_transfer(local_id)
            if local_id in known:  # the engine went on with the unfinished receive of this link
                self.statusBar().showMessage(ALREADY_RECEIVING_TEXT, 6000)  # the user's own action: at once

        self.commands.receive(
            link,
            key,
            folder or self.prefs.download_path(),
            on_result=received,
            on_error=lambda error: self.show_error(
                f"Cannot open this link: {link_error_text(error) if isinstance(error, LinkError) else error}"
            ),
        )

    def choose_files(self) -> None:
        files, _filter = QFileDialog.getOpenFileNames(self, "Choose files to send",
                                                      self.settings.last_send_dir())
        if files:
            self.settings.set_last_send_dir(Path(files[0]).parent)
        self.send_paths([Path(f) for f in files])

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a folder to send",
                                                  self.settings.last_send_dir())
        if folder:
            self.settings.set_last_send_dir(Path(folder).parent)
            self.send_paths([Path(folder)])

    def open_link_dialog(self, link: str | None = None) -> OpenLinkDialog:
        dialog = OpenLinkDialog(self, folder=self.prefs.download_path())
        if link:
            dialog.link_edit.setText(link)
        dialog.accepted.connect(lambda: self.receive_link(dialog.link, dialog.key, dialog.folder))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def handle_incoming_link(self, link: str) -> None:
        """A link from the command line or a second launch: download it at once."""
        self.bring_to_front()
        self.receive_link(link.strip())

    def handle_incoming(self, items: Sequence[str]) -> None:
        """What the command line, a second launch or the OS hands over (``gui/incoming.py``): files and
        folders are sent as if dropped on the window (the send options apply: one link each, or one for
        all), links are downloaded."""
        paths, links = split_incoming(items)
        if not paths and not links:
            return
        self.bring_to_front()
        present = [p for p in paths if p.exists()]
        self.send_paths(present)
        if missing := missing_text([p for p in paths if not p.exists()]):
            self.show_error(missing)
        for link in links:
            self.receive_link(link)

    def toggle_selected(self) -> None:
        for snap in self.selected_snapshots():
            self.commands.toggle(snap)

    def cancel_selected(self) -> None:
        selected = self.selected_snapshots()
        question = cancel_question(selected)
        if question is None or not self.confirm(question):
            return
        self.commands.cancel([s.id for s in selected if can_cancel(s)])

    def remove_selected(self) -> None:
        selected = self.selected_snapshots()
        if not selected:
            return
        question = remove_question(selected)
        if question is not None and not self.confirm(question):
            return
        self.commands.discard([s.id for s in selected])

    def retry_selected(self) -> None:
        self.retry([s for s in self.selected_snapshots() if can_retry(s)])

    def retry(self, snapshots: Sequence[TransferSnapshot]) -> None:
        def retried(ids: list[str]) -> None:
            if ids:
                QTimer.singleShot(0, self, lambda: self.select_transfer(ids[0]))

        self.commands.retry([s for s in snapshots if can_retry(s)], on_result=retried)

    def move_selected(self, step: int) -> None:
        snap = self.selected_snapshot()
        if snap is None:
            return
        new_index = self.model.row_of(snap.id) + step
        if not 0 <= new_index < self.model.rowCount():
            return
        self.commands.move(snap.id, new_index, lambda snaps: self._apply_order(snaps, snap.id))

    def _apply_order(self, snapshots: list[TransferSnapshot], keep_selected: str) -> None:
        self.model.set_order([s.id for s in snapshots])
        self.select_transfer(keep_selected)

    def pause_all(self) -> None:
        self.commands.pause_all()

    def resume_all(self) -> None:
        self.commands.resume_all()

    def clear_finished(self) -> None:
        """The finished rows leave the queue; History keeps them (nothing to ask: nothing is lost)."""
        self.commands.clear_finished(
            # feedback on the user's own action: at once, not queued behind an error like a passing note
            on_result=lambda ids: self.statusBar().showMessage(cleared_text(len(ids)), 6000) if ids else None
        )

    def copy_links(self) -> None:
        links = [s.share_link for s in self.selected_snapshots() if is_shared(s) and s.share_link]
        if not links:
            return
        QApplication.clipboard().setText("\n".join(links))
        self.statusBar().showMessage(
            "Copied the link." if len(links) == 1 else f"Copied {len(links)} links.", 4000
        )

    def delete_remote(self, local_id: str) -> None:
        self.delete_remote_selected(self._snaps([local_id]))

    def delete_remote_selected(self, snapshots: Sequence[TransferSnapshot]) -> None:
        targets = [s for s in snapshots if is_shared(s)]
        question = delete_question(targets)
        if question is None or not self.confirm(question):
            return
        names = display_name(targets[0]) if len(targets) == 1 else plural(len(targets), "transfer")
        self.commands.delete_remote(
            [s.id for s in targets],
            on_result=lambda _ids: self.statusBar().showMessage(f"Deleted {names} from the server.", 6000),
            on_error=lambda error: self.show_error(f"Could not delete {names}: {error}"),
        )

    # ------------------------------------------------------------------------------------------
    # welcome links: the access token they carry (gui/welcome_token.py)
    def import_welcome_token(self, link: str, key: str | None = None) -> None:
        current = "" if self.prefs.uses_local_server else self.prefs.server_url.strip().rstrip("/")
        plan = welcome_token.plan_import(link, key, current)
        if isinstance(plan, str):
            self.show_error(plan)
            return
        if not self.confirm(plan.question):
            return
        self.statusBar().showMessage(f"Collecting the access token from {plan.host}…", 10000)
        self.runner.run(
            lambda: welcome_token.collect(plan),
            on_result=lambda result: self._welcome_token(plan, *result),
            on_error=lambda error: self._welcome_refused(plan.host, error),
        )

    def _welcome_token(self, plan: welcome_token.WelcomePlan, token: str, valid: bool | None) -> None:
        if valid is False:
            self._welcome_refused(plan.host, None)
            return
        self.apply_settings(replace(self.prefs, server_url=plan.server), token)
        self.statusBar().showMessage(f"Access token saved for {plan.host}.", 10000)
        self.inform("Access token saved", welcome_token.saved_text(plan.host, valid))

    def _welcome_refused(self, host: str, error: BaseException | None) -> None:
        reason = welcome_token.refused_text(host, error)
        self.show_error(f"The access token was not saved: {reason}")
        self.inform("Access token not saved", f"{reason} Nothing was changed.")

    # ------------------------------------------------------------------------------------------
    # unpacking a received zip (gui/unpacking.py)
    def unpack(self, local_id: str) -> None:
        snap = self.model.snapshot_of(local_id)
        if snap is None or not snap.saved_path:
            return
        archive = Path(snap.saved_path)
        folder = self.choose_unpack_folder(archive.parent)
        if folder is None:
            return
        self.details.show_unpack_progress(0, 0)
        self.unpacker.start(
            local_id,
            archive,
            folder,
            on_done=lambda result: self._unpacked(local_id, result),
            on_error=lambda error: self._unpack_failed(local_id, error),
        )

    def _shows(self, local_id: str) -> bool:
        return self.details.snapshot is not None and self.details.snapshot.id == local_id

    def _unpack_progress(self, local_id: str, done: int, total: int) -> None:
        if self._shows(local_id):
            self.details.show_unpack_progress(int(done), int(total))

    def _unpacked(self, local_id: str, result: UnzipResult) -> None:
        self.statusBar().showMessage(f"Unpacked into {result.folder}.", 8000)
        if self._shows(local_id):
            self.details.show_unpack_result(result_html(result))

    def _unpack_failed(self, local_id: str, error: BaseException) -> None:
        message = str(error) or type(error).__name__  # UnsafeArchiveError / LocalIOError: as they say it
        self.show_error(f"Could not unpack: {message}")
        if self._shows(local_id):
            self.details.show_unpack_result(message, error=True)

    def _choose_unpack_folder(self, default: Path) -> Path | None:
        folder = QFileDialog.getExistingDirectory(self, "Unpack into which folder?", str(default))
        return Path(folder) if folder else None

    # ------------------------------------------------------------------------------------------
    # settings, history, about
    def open_settings(self) -> SettingsDialog:
        dialog = SettingsDialog(self.prefs, self.token, self)
        known = self.token_loaded
        if not known:  # an empty field now would erase the stored token on OK
            dialog.token_edit.setEnabled(False)
            dialog.token_edit.setPlaceholderText("Still loading the stored token…")
        dialog.accepted.connect(
            lambda: self.apply_settings(dialog.preferences(), dialog.token(), keep_token=not known)
        )
        dialog.check_token_requested.connect(lambda server, token: self.check_token(dialog, server, token))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        if known and dialog.check_button.isEnabled():
            dialog.request_check()  # what the server says of the token: valid, uses left
        return dialog

    def check_token(self, dialog: SettingsDialog, server: str, token: str) -> None:
        def check() -> str:
            from sgsend_desktop.core.api import SendApi

            api = SendApi(server)
            try:
                return api.check_token(token).message
            finally:
                api.close()

        def show(text: str) -> None:
            if dialog.isVisible():
                dialog.show_token_status(text)

        self.commands.runner.run(check, on_result=show, on_error=lambda error: show(str(error)))

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
                self.server_label.setToolTip(label)
                self._show_notes(notes)
                self.commands.snapshots(self._refresh_all)

            self.runner.run(apply, on_result=applied)

        self.commands.when_ready(run)

    def _refresh_all(self, snapshots: list[TransferSnapshot]) -> None:
        """After a server change: links and "where it opens" of every row may have changed."""
        for snapshot in snapshots:
            current = self.model.snapshot_of(snapshot.id)
            if current is not None and current.state is snapshot.state:  # no stale state comes back
                self.model.upsert(snapshot)
        self._show_selection()

    def open_history(self) -> HistoryDialog:
        dialog = HistoryDialog(self.model.all_snapshots(), self)
        dialog.remove_requested.connect(
            lambda ids: self.commands.discard(ids, on_done=lambda _result: dialog.forget(ids))
        )
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def about_text(self) -> str:
        from PySide6 import __version__ as pyside_version
        from PySide6.QtCore import qVersion

        from sgsend_desktop import __version__

        return (
            f"<h3>SGraph Send Desktop {__version__}</h3>"
            "<p>End-to-end encrypted file sending. Files are encrypted on this computer; the key travels "
            "only in the link, never to the server.</p>"
            f"<p>Version {__version__} · Qt {qVersion()} · PySide6 {pyside_version}<br>"
            "Licensed under the Apache License 2.0.</p>"
        )

    def show_about(self) -> None:
        QMessageBox.about(self, "About SGraph Send Desktop", self.about_text())

    def show_error(self, message: str) -> None:
        """An error in the status bar for 10 s; passing notes (show_note) do not cover it meanwhile."""
        log.warning("%s", message)
        self.statusBar().showMessage(message, ERROR_SHOWN_MS)
        self._error_until = time.monotonic() + ERROR_SHOWN_MS / 1000

    def show_note(self, message: str, timeout_ms: int = 4000) -> None:
        """A note nobody asked for just now (a transfer finished, without a tray to say so): it waits
        for an error still on show to be read — "Cannot send …" must not vanish under "Sent: …" a
        moment later. (Feedback on the user's own action — "Copied the link." — shows at once.)"""
        left = self._error_until - time.monotonic()
        if left > 0 and self.statusBar().currentMessage():
            self._pending_note = (message, timeout_ms)  # the latest note waits (a timer the window owns)
            self._note_timer.start(int(left * 1000) + 50)
            return
        self.statusBar().showMessage(message, timeout_ms)

    def _show_pending_note(self) -> None:
        if self._pending_note is not None:
            message, timeout_ms = self._pending_note
            self._pending_note = None
            self.show_note(message, timeout_ms)

    def _inform(self, title: str, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def bring_to_front(self) -> None:
        self.show()
        self.setWindowState(
            (self.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive
        )
        self.raise_()
        self.activateWindow()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            clear_cache()  # our icons are drawn in the palette's colours
            self.actions_.refresh_icons()
            self.details.refresh_icons()
            self.drop_zone.refresh_icons()
            self.table.viewport().update()

    # ------------------------------------------------------------------------------------------
    # closing
    def running_transfers(self) -> list[TransferSnapshot]:
        return [s for s in self.model.snapshots() if is_running(s)]

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
        question = quit_question(self.running_transfers())
        return question is None or self.confirm(question)

    def quit_asking(self) -> None:
        """Quit (menu, Ctrl+Q, tray): asks first while transfers run."""
        if self.running_transfers() and not self.confirm_quit():
            return
        self.request_quit()

    def request_quit(self) -> None:
        self.save_window_state()
        self._quitting = True
        self.quit_requested.emit()

    def save_window_state(self) -> None:
        self.settings.save_window(self.saveGeometry(), self.saveState())

    def index_for(self, local_id: str, column: Column = Column.NAME) -> QModelIndex:
        return self.model.index(self.model.row_of(local_id), column)
