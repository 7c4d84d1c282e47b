"""The transfer queue as a Qt table model over the engine's immutable ``TransferSnapshot``s."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor

from sgsend_desktop.core.model import TransferSnapshot, TransferState
from sgsend_desktop.gui.formatting import (
    direction_label,
    display_name,
    format_eta,
    format_size,
    format_speed,
    progress_fraction,
    reconnect_text,
    state_label,
)

ModelIndex = QModelIndex | QPersistentModelIndex

SNAPSHOT_ROLE = Qt.ItemDataRole.UserRole + 1
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 2  # int 0..1000 (per mille)

# An accent that reads on light and dark palettes alike.
FAILED_ACCENT = QColor(214, 69, 65)


class Column(enum.IntEnum):
    NAME = 0
    SIZE = 1
    DIRECTION = 2
    STATE = 3
    PROGRESS = 4
    SPEED = 5
    ETA = 6


HEADERS = {
    Column.NAME: "Name",
    Column.SIZE: "Size",
    Column.DIRECTION: "Direction",
    Column.STATE: "State",
    Column.PROGRESS: "Progress",
    Column.SPEED: "Speed",
    Column.ETA: "Time left",
}


@dataclass(frozen=True)
class QueueTotals:
    count: int
    active: int
    bytes_done: int
    bytes_total: int
    speed_bps: float


class TransferQueueModel(QAbstractTableModel):
    """Rows in engine queue order; ``upsert`` replaces a row's snapshot in place."""

    totals_changed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[TransferSnapshot] = []
        self._index: dict[str, int] = {}

    # --- Qt model API -------------------------------------------------------------------------
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> object:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        snap = self._rows[index.row()]
        column = Column(index.column())
        if role == SNAPSHOT_ROLE:
            return snap
        if role == PROGRESS_ROLE:
            return round(progress_fraction(snap) * 1000)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(snap, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if snap.state is TransferState.FAILED and snap.error:
                return f"Failed: {snap.error}"
            if snap.reconnecting:
                return reconnect_text(snap)
            return snap.source_path or snap.saved_path or snap.name
        if role == Qt.ItemDataRole.ForegroundRole and snap.state is TransferState.FAILED:
            return FAILED_ACCENT if column in (Column.NAME, Column.STATE) else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (Column.SIZE, Column.SPEED, Column.ETA):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return (
                f"{display_name(snap)}, {state_label(snap)}, {round(progress_fraction(snap) * 100)} percent"
            )
        return None

    @staticmethod
    def _display(snap: TransferSnapshot, column: Column) -> str:
        if column is Column.NAME:
            return display_name(snap)
        if column is Column.SIZE:
            return format_size(snap.size) if snap.size else ""
        if column is Column.DIRECTION:
            return direction_label(snap.direction)
        if column is Column.STATE:
            return state_label(snap)
        if column is Column.PROGRESS:
            return f"{round(progress_fraction(snap) * 100)} %"
        if column is Column.SPEED:
            return format_speed(snap.speed_bps) if snap.state.is_active else ""
        return format_eta(snap.eta_seconds) if snap.state.is_active and not snap.reconnecting else ""

    # --- updates from the engine --------------------------------------------------------------
    def upsert(self, snapshot: TransferSnapshot) -> None:
        row = self._index.get(snapshot.id)
        if row is None:
            position = len(self._rows)
            self.beginInsertRows(QModelIndex(), position, position)
            self._rows.append(snapshot)
            self._index[snapshot.id] = position
            self.endInsertRows()
        else:
            self._rows[row] = snapshot
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(Column) - 1))
        self.totals_changed.emit()

    def upsert_many(self, snapshots: Iterable[TransferSnapshot]) -> None:
        for snapshot in snapshots:
            self.upsert(snapshot)

    def apply_progress(self, snapshots: Iterable[TransferSnapshot]) -> list[TransferSnapshot]:
        """Progress only refreshes rows it finds still unfinished; returns the snapshots it applied.

        Engine threads race: a progress snapshot taken just before "removed" or "done" can arrive
        after it, and must neither bring a discarded row back nor turn a done row active again.
        """
        applied = []
        for snapshot in snapshots:
            current = self.snapshot_of(snapshot.id)
            if current is None or current.state.is_final:
                continue
            self.upsert(snapshot)
            applied.append(snapshot)
        return applied

    def add_missing(self, snapshots: Iterable[TransferSnapshot]) -> None:
        """Initial load: rows already known came from newer events and are kept."""
        for snapshot in snapshots:
            if snapshot.id not in self._index:
                self.upsert(snapshot)

    def remove(self, local_id: str) -> None:
        row = self._index.get(local_id)
        if row is None:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._rows[row]
        self._reindex()
        self.endRemoveRows()
        self.totals_changed.emit()

    def set_order(self, local_ids: Sequence[str]) -> None:
        """Reorder rows to the engine's queue order (unknown ids ignored, missing rows kept last)."""
        rank = {local_id: position for position, local_id in enumerate(local_ids)}
        ordered = sorted(self._rows, key=lambda snap: rank.get(snap.id, len(rank)))
        if [s.id for s in ordered] == [s.id for s in self._rows]:
            return
        self.layoutAboutToBeChanged.emit()
        old_ids = [snap.id for snap in self._rows]
        self._rows = ordered
        self._reindex()
        for persistent in self.persistentIndexList():
            if 0 <= persistent.row() < len(old_ids):
                new_row = self._index[old_ids[persistent.row()]]
                self.changePersistentIndex(persistent, self.index(new_row, persistent.column()))
        self.layoutChanged.emit()

    def _reindex(self) -> None:
        self._index = {snap.id: row for row, snap in enumerate(self._rows)}

    # --- queries -----------------------------------------------------------------------------
    def snapshot_at(self, row: int) -> TransferSnapshot | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def snapshot_of(self, local_id: str) -> TransferSnapshot | None:
        row = self._index.get(local_id)
        return None if row is None else self._rows[row]

    def row_of(self, local_id: str) -> int:
        return self._index.get(local_id, -1)

    def snapshots(self) -> list[TransferSnapshot]:
        return list(self._rows)

    def totals(self) -> QueueTotals:
        live = [s for s in self._rows if s.state not in (TransferState.CANCELLED,)]
        active = [s for s in live if s.state.is_active]
        unfinished = [s for s in live if s.state is not TransferState.DONE]
        return QueueTotals(
            count=len(live),
            active=len(active),
            bytes_done=sum(min(s.size, max(s.bytes_done, s.bytes_confirmed)) for s in unfinished),
            bytes_total=sum(s.size for s in unfinished),
            speed_bps=sum(s.speed_bps for s in active),
        )
