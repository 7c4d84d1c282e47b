"""History: the sent and received transfers the engine's journal remembers, with their links; search
and a Sent / Received filter."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from sgsend_desktop.core.model import Direction, TransferSnapshot, TransferState
from sgsend_desktop.gui.colors import ToneLabel
from sgsend_desktop.gui.dialogs.confirm import ask
from sgsend_desktop.gui.formatting import display_name, file_size_text, state_label
from sgsend_desktop.gui.icons import file_icon
from sgsend_desktop.gui.rules import Question, remove_question

Index = QModelIndex | QPersistentModelIndex
FILTERS = ("All", "Sent", "Received")
EMPTY_TEXT = "Nothing sent or received yet. Finished transfers appear here, with their links."
NO_MATCH_TEXT = "No transfer matches."


def history_entries(snapshots: Sequence[TransferSnapshot]) -> list[TransferSnapshot]:
    done = [s for s in snapshots if s.state is TransferState.DONE]
    return sorted(done, key=lambda s: s.created_at, reverse=True)


def entry_link(snap: TransferSnapshot) -> str:
    """What Copy copies: a send's link (with its key), nothing for a received file or a deleted send."""
    if snap.direction is not Direction.SEND or snap.deleted_remote:
        return ""
    return snap.share_link or snap.link_only or ""


class HistoryModel(QAbstractTableModel):
    HEADERS = ("When", "Direction", "Name", "Size", "Link / saved to")

    def __init__(self, entries: list[TransferSnapshot]) -> None:
        super().__init__()
        self.entries = entries

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if parent.isValid() else len(self.entries)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> object:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        snap = self.entries[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.UserRole:
            return snap
        if role == Qt.ItemDataRole.DecorationRole and column == 2:
            return file_icon(display_name(snap), folder=snap.item_count > 1)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        sent = snap.direction is Direction.SEND
        if column == 0:
            return (
                datetime.fromtimestamp(snap.created_at).strftime("%Y-%m-%d %H:%M") if snap.created_at else ""
            )
        if column == 1:
            return state_label(snap) if sent else "Received"
        if column == 2:
            return display_name(snap)
        if column == 3:
            return file_size_text(snap)  # the file's own size (an empty file is 0 B, not its 62 B payload)
        return entry_link(snap) if sent else (snap.saved_path or "")


class HistoryFilter(QSortFilterProxyModel):
    """Text in any column, and a direction."""

    def __init__(self) -> None:
        super().__init__()
        self.direction: Direction | None = None
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setFilterKeyColumn(-1)

    def set_direction(self, direction: Direction | None) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt ≥ 6.10 (invalidateRowsFilter is deprecated there)
            self.beginFilterChange()
            self.direction = direction
            self.endFilterChange()
        else:  # pragma: no cover - older Qt
            self.direction = direction
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        snap = model.index(source_row, 0, source_parent).data(Qt.ItemDataRole.UserRole)
        if (
            self.direction is not None
            and isinstance(snap, TransferSnapshot)
            and snap.direction is not (self.direction)
        ):
            return False
        return bool(super().filterAcceptsRow(source_row, source_parent))


class HistoryDialog(QDialog):
    """The finished transfers, searchable; a link to copy; *Remove…* forgets entries (asked first when a
    link would be lost): ``remove_requested`` carries their ids, and ``forget`` takes them off here."""

    remove_requested = Signal(list)  # local ids, already confirmed

    def __init__(self, snapshots: Sequence[TransferSnapshot], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.confirm: Callable[[Question], bool] = lambda question: ask(self, question)
        self.setWindowTitle("History")
        self.setAccessibleName("Transfer history")
        self.resize(860, 440)
        self.entries = history_entries(snapshots)
        self.model = HistoryModel(self.entries)
        self.proxy = HistoryFilter()
        self.proxy.setSourceModel(self.model)

        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search names and links")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setAccessibleName("Search the history")
        self.search_edit.textChanged.connect(self._filter_changed)
        self.direction_combo = QComboBox()
        self.direction_combo.addItems(FILTERS)
        self.direction_combo.setAccessibleName("Show sent, received or all transfers")
        self.direction_combo.currentIndexChanged.connect(self._filter_changed)
        search_label = QLabel("&Search:")
        search_label.setBuddy(self.search_edit)
        show_label = QLabel("Sh&ow:")
        show_label.setBuddy(self.direction_combo)
        filters = QHBoxLayout()
        filters.addWidget(search_label)
        filters.addWidget(self.search_edit, 1)
        filters.addWidget(show_label)
        filters.addWidget(self.direction_combo)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setAccessibleName("Sent and received transfers")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setTabKeyNavigation(False)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(2, 240)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.table.doubleClicked.connect(lambda _index: self.copy_selected())

        self.empty_label = ToneLabel(EMPTY_TEXT if not self.entries else NO_MATCH_TEXT)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setAccessibleName("History is empty")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty_label)

        self.copy_button = QPushButton("Copy link")
        self.copy_button.setAccessibleName("Copy the selected transfer's link")
        self.copy_button.clicked.connect(self.copy_selected)
        self.remove_button = QPushButton("&Remove…")
        self.remove_button.setAccessibleName("Remove the selected transfers from History")
        self.remove_button.setToolTip("Forget the selected transfers on this computer (a sent file's link "
                                      "and key too; the file stays on the server until it expires)")
        self.remove_button.clicked.connect(self.remove_selected)
        self.status_label = ToneLabel("")
        self.status_label.setAccessibleName("History status")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Close).setAccessibleName("Close")
        row_buttons = QHBoxLayout()
        row_buttons.addWidget(self.copy_button)
        row_buttons.addWidget(self.remove_button)
        row_buttons.addWidget(self.status_label, 1)
        row_buttons.addWidget(buttons)

        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.stack, 1)
        layout.addLayout(row_buttons)
        self._filter_changed()

    def _filter_changed(self) -> None:
        self.proxy.setFilterFixedString(self.search_edit.text().strip())
        index = self.direction_combo.currentIndex()
        self.proxy.set_direction(None if index == 0 else Direction.SEND if index == 1 else Direction.RECEIVE)
        empty = self.proxy.rowCount() == 0
        self.empty_label.setText(EMPTY_TEXT if not self.entries else NO_MATCH_TEXT)
        self.stack.setCurrentWidget(self.empty_label if empty else self.table)
        self.search_edit.setEnabled(bool(self.entries))
        self.direction_combo.setEnabled(bool(self.entries))
        self._update_buttons()

    def selected(self) -> TransferSnapshot | None:
        """The one selected entry (None when none, or several)."""
        chosen = self.selected_all()
        return chosen[0] if len(chosen) == 1 else None

    def selected_all(self) -> list[TransferSnapshot]:
        if self.stack.currentWidget() is not self.table:
            return []
        snaps = [row.data(Qt.ItemDataRole.UserRole) for row in self.table.selectionModel().selectedRows()]
        return [snap for snap in snaps if isinstance(snap, TransferSnapshot)]

    def _update_buttons(self) -> None:
        snap = self.selected()
        self.copy_button.setEnabled(bool(snap and entry_link(snap)))
        self.remove_button.setEnabled(bool(self.selected_all()))

    def remove_selected(self) -> None:
        chosen = self.selected_all()
        question = remove_question(chosen, "History")
        if chosen and (question is None or self.confirm(question)):
            self.remove_requested.emit([snap.id for snap in chosen])

    def forget(self, ids: Sequence[str]) -> None:
        """The engine forgot these: they leave the list."""
        gone = set(ids)
        self.model.beginResetModel()
        self.entries[:] = [snap for snap in self.entries if snap.id not in gone]
        self.model.endResetModel()
        self.status_label.setText(f"Removed {len(gone)} from History." if len(gone) > 1 else "Removed.")
        self._filter_changed()

    def copy_selected(self) -> None:
        snap = self.selected()
        text = entry_link(snap) if snap else ""
        if text:
            QGuiApplication.clipboard().setText(text)
            self.status_label.setText("Link copied.")
