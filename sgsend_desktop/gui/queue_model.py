"""The transfer queue as a Qt table model over the engine's immutable ``TransferSnapshot``s."""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal

from sgsend_desktop.core.filenames import portable_name
from sgsend_desktop.core.model import Direction, TransferSnapshot, TransferState
from sgsend_desktop.gui.formatting import (
    bytes_progress,
    direction_label,
    display_name,
    format_eta,
    format_expiry,
    format_speed,
    progress_fraction,
    progress_text,
    reconnect_text,
    state_label,
)
from sgsend_desktop.gui.icons import file_icon, state_icon

ModelIndex = QModelIndex | QPersistentModelIndex

SNAPSHOT_ROLE = Qt.ItemDataRole.UserRole + 1
PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 2  # int 0..1000 (per mille)
STATE_KIND_ROLE = Qt.ItemDataRole.UserRole + 3  # str: which state icon (icons.STATE_ICONS)
PROGRESS_TEXT_ROLE = Qt.ItemDataRole.UserRole + 4  # str on the bar: "42 %", "Failed"...
SPEED_FRESH_S = 3.0  # a speed not refreshed for this long is stale (nothing moves): not shown


class Column(enum.IntEnum):
    NAME = 0
    SIZE = 1
    STATE = 2
    PROGRESS = 3
    SPEED = 4
    ETA = 5
    ACTIONS = 6


HEADERS = {
    Column.NAME: "Name",
    Column.SIZE: "Size",
    Column.STATE: "State",
    Column.PROGRESS: "Progress",
    Column.SPEED: "Speed",
    Column.ETA: "Time left",
    Column.ACTIONS: "",
}
HEADER_NAMES = {**HEADERS, Column.ACTIONS: "Row actions"}


def state_kind(snap: TransferSnapshot) -> str:
    """The state icon of a row (a key of icons.STATE_ICONS)."""
    up = snap.direction is Direction.SEND
    if snap.reconnecting:
        return "reconnecting"
    if snap.state is TransferState.DONE:
        return "deleted" if snap.deleted_remote else "done"
    if snap.state is TransferState.FAILED:
        return "failed"
    if snap.state is TransferState.CANCELLED:
        return "cancelled"
    if snap.state is TransferState.PAUSED:
        return "paused"
    if snap.state.is_active:
        return "uploading" if up else "downloading"
    return "queued-up" if up else "queued-down"


@dataclass(frozen=True)
class QueueTotals:
    """Every row counts in exactly one of active / waiting / done / failed / cancelled."""

    count: int
    active: int  # preparing, uploading, downloading, finishing
    waiting: int  # queued: starts by itself
    done: int
    failed: int
    cancelled: int
    bytes_done: int  # of the active, waiting and paused rows
    bytes_total: int
    speed_bps: float  # of the active rows whose speed is fresh
    paused: int = 0  # paused by the user (or by quitting): waits for Resume
    # active, waiting and paused rows whose size is not known yet (a folder not zipped yet, a download
    # before the server answered): bytes_total leaves them out
    unsized: int = 0

    @property
    def fraction(self) -> float | None:
        return None if not self.bytes_total else min(1.0, self.bytes_done / self.bytes_total)

    def summary(self) -> str:
        """ "2 active · 1 waiting · 1 paused · 3 done · 1 failed"; "" for an empty queue."""
        parts = [
            f"{n} {noun}"
            for n, noun in (
                (self.active, "active"),
                (self.waiting, "waiting"),
                (self.paused, "paused"),
                (self.done, "done"),
                (self.failed, "failed"),
                (self.cancelled, "cancelled"),
            )
            if n
        ]
        return " · ".join(parts)


def moved_bytes(rows: Iterable[TransferSnapshot]) -> int:
    """Bytes moved by all the rows together (a finished row: all of its bytes)."""
    return sum(
        s.size if s.state is TransferState.DONE else min(s.size, max(s.bytes_done, s.bytes_confirmed))
        for s in rows
    )


class Throughput:
    """The queue's speed from the bytes all its rows moved over the last few seconds. Adding up the rows'
    own speeds missed the files that finished within a second: 50 small photos at 8 MB/s read 4.2 MB/s."""

    WINDOW = 5.0
    SETTLED = 1.0  # seconds of samples before a figure is given

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()

    def rate(self, moved: int) -> float:
        now = self._clock()
        if self._samples and moved < self._samples[-1][1]:
            self._samples.clear()  # rows removed (or a zip's bytes traded for its upload): start again
        self._samples.append((now, moved))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.WINDOW:
            self._samples.popleft()
        start, moved_then = self._samples[0]
        span = now - start
        return (moved - moved_then) / span if span >= self.SETTLED else 0.0


class TransferQueueModel(QAbstractTableModel):
    """Rows in engine queue order; ``upsert`` replaces a row's snapshot in place."""

    totals_changed = Signal()

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._rows: list[TransferSnapshot] = []
        self._archived: dict[str, TransferSnapshot] = {}  # finished, cleared off the queue (History)
        self._index: dict[str, int] = {}
        self._clock = clock
        self._updated: dict[str, float] = {}  # when each row last heard from the engine
        self._leaving: set[str] = set()  # archived rows still shown, taken off together (one batch)
        self._throughput = Throughput(clock)

    # --- Qt model API -------------------------------------------------------------------------
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> object:
        if orientation is not Qt.Orientation.Horizontal or not 0 <= section < len(Column):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        if role in (Qt.ItemDataRole.AccessibleTextRole, Qt.ItemDataRole.ToolTipRole):
            return HEADER_NAMES[Column(section)]
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
        if role == PROGRESS_TEXT_ROLE:
            return progress_text(snap)
        if role == STATE_KIND_ROLE:
            return state_kind(snap)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(snap, column)
        if role == Qt.ItemDataRole.DecorationRole:
            if column is Column.NAME:
                return file_icon(display_name(snap), folder=snap.item_count > 1)
            if column is Column.STATE:
                return state_icon(state_kind(snap))
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            if snap.state is TransferState.FAILED and snap.error:
                return f"Failed: {snap.error}"
            if snap.reconnecting:
                return reconnect_text(snap)
            if column is Column.STATE:
                return f"{direction_label(snap.direction)} · {state_label(snap)}"
            # a path in a legacy encoding: Qt would drop its undecodable bytes ("rsum.pdf")
            return portable_name(snap.source_path or snap.saved_path or "") or display_name(snap)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (Column.SIZE, Column.SPEED, Column.ETA):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return self.accessible_text(snap, column)
        return None

    def accessible_text(self, snap: TransferSnapshot, column: Column) -> str:
        if column is Column.NAME:
            return (
                f"{display_name(snap)}, {direction_label(snap.direction).lower()}, {state_label(snap)}, "
                f"{progress_text(snap) or 'no progress yet'}"
            )
        return self._display(snap, column) or HEADER_NAMES[column]

    def speed_of(self, snap: TransferSnapshot) -> float:
        """The row's speed, or 0 when it is not moving (not active, finishing — every byte moved, the
        server assembles or the file is verified —, reconnecting, or silent too long)."""
        if not snap.state.is_active or snap.state is TransferState.COMPLETING or snap.reconnecting:
            return 0.0
        if self._clock() - self._updated.get(snap.id, 0.0) > SPEED_FRESH_S:
            return 0.0
        return snap.speed_bps

    def _display(self, snap: TransferSnapshot, column: Column) -> str:
        if column is Column.NAME:
            return display_name(snap)
        if column is Column.SIZE:
            return bytes_progress(snap)
        if column is Column.STATE:
            return state_label(snap)
        if column is Column.PROGRESS:
            return progress_text(snap)
        if column is Column.SPEED:
            return format_speed(self.speed_of(snap))
        if column is Column.ETA:
            if snap.state.is_active and not snap.reconnecting and self.speed_of(snap) > 0:
                return format_eta(snap.eta_seconds)
            sent = snap.state is TransferState.DONE and snap.direction is Direction.SEND
            if sent and not snap.deleted_remote:
                return format_expiry(snap.expires_at)
            return ""
        return ""

    def refresh_live_columns(self) -> None:
        """Once a second: speeds go stale, expiries and countdowns move (no engine event for those)."""
        if not self._rows:
            return
        self.dataChanged.emit(self.index(0, Column.SIZE), self.index(len(self._rows) - 1, Column.ETA))
        self.totals_changed.emit()

    # --- updates from the engine --------------------------------------------------------------
    def upsert(self, snapshot: TransferSnapshot, announce: bool = True) -> None:
        """Add or refresh one row; ``announce=False`` leaves ``totals_changed`` to the caller (a batch
        announces once: the totals walk every row)."""
        if snapshot.archived:  # cleared off the queue: History still lists it
            self._archived[snapshot.id] = snapshot
            self._take_off_soon(snapshot.id)
            return
        self._archived.pop(snapshot.id, None)
        self._leaving.discard(snapshot.id)
        self._updated[snapshot.id] = self._clock()
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
        if announce:
            self.totals_changed.emit()

    def upsert_many(self, snapshots: Iterable[TransferSnapshot]) -> None:
        """A batch (the journal at launch: months of transfers): new rows are inserted at once and the
        totals announced once. One by one, 2000 rows froze the window for 4.7 s (each insert recounted
        the totals of every row)."""
        new: dict[str, TransferSnapshot] = {}
        for snapshot in snapshots:
            if snapshot.archived or snapshot.id in self._index:
                new.pop(snapshot.id, None)
                self.upsert(snapshot, announce=False)
            else:
                new[snapshot.id] = snapshot
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            now = self._clock()
            for snapshot in new.values():
                self._index[snapshot.id] = len(self._rows)
                self._rows.append(snapshot)
                self._updated[snapshot.id] = now
            self.endInsertRows()
        self.totals_changed.emit()

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
            self.upsert(snapshot, announce=False)
            applied.append(snapshot)
        if applied:
            self.totals_changed.emit()
        return applied

    def add_missing(self, snapshots: Iterable[TransferSnapshot]) -> None:
        """Initial load: rows already known came from newer events and are kept."""
        self.upsert_many(s for s in snapshots if s.id not in self._index and s.id not in self._archived)

    def remove_soon(self, local_id: str) -> None:
        """A discarded transfer's row goes with the others removed in this turn of the event loop."""
        self._archived.pop(local_id, None)
        self._take_off_soon(local_id)

    def _take_off_soon(self, local_id: str) -> None:
        if local_id in self._index:
            if not self._leaving:
                QTimer.singleShot(0, self, self._take_off_leaving)
            self._leaving.add(local_id)

    def _take_off_leaving(self) -> None:
        """The rows cleared or removed in one turn, in one pass: one removal per run of adjacent rows,
        one recount of the totals (2000 rows one by one froze the window for 2 s)."""
        rows = sorted((self._index[i] for i in self._leaving if i in self._index), reverse=True)
        self._leaving.clear()
        if not rows:
            return
        runs: list[list[int]] = []
        for row in rows:  # bottom up: removing a run leaves the rows above it where they were
            if runs and runs[-1][0] == row + 1:
                runs[-1][0] = row
            else:
                runs.append([row, row])
        for first, last in runs:
            self.beginRemoveRows(QModelIndex(), first, last)
            for snapshot in self._rows[first:last + 1]:
                self._updated.pop(snapshot.id, None)
            del self._rows[first:last + 1]
            self._reindex()
            self.endRemoveRows()
        self.totals_changed.emit()

    def remove(self, local_id: str) -> None:
        self._archived.pop(local_id, None)
        self._leaving.discard(local_id)
        row = self._index.get(local_id)
        if row is None:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        self._updated.pop(local_id, None)
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
        """The queue's rows, in order."""
        return list(self._rows)

    def is_archived(self, local_id: str) -> bool:
        return local_id in self._archived

    def all_snapshots(self) -> list[TransferSnapshot]:
        """The rows and the finished transfers cleared off the queue (History shows both)."""
        return [*self._rows, *self._archived.values()]

    def totals(self) -> QueueTotals:
        totals = totals_of(self._rows, self.speed_of)
        rate = self._throughput.rate(moved_bytes(self._rows))
        if totals.active and rate > totals.speed_bps:
            totals = replace(totals, speed_bps=rate)
        return totals


def totals_of(
    rows: Sequence[TransferSnapshot], speed_of: Callable[[TransferSnapshot], float] = lambda _s: 0.0
) -> QueueTotals:
    active = [s for s in rows if s.state.is_active]
    waiting = [s for s in rows if s.state is TransferState.QUEUED]
    paused = [s for s in rows if s.state is TransferState.PAUSED]
    moving = active + waiting + paused
    return QueueTotals(
        count=len(rows),
        active=len(active),
        waiting=len(waiting),
        paused=len(paused),
        done=sum(s.state is TransferState.DONE for s in rows),
        failed=sum(s.state is TransferState.FAILED for s in rows),
        cancelled=sum(s.state is TransferState.CANCELLED for s in rows),
        bytes_done=sum(min(s.size, max(s.bytes_done, s.bytes_confirmed)) for s in moving),
        bytes_total=sum(s.size for s in moving),
        speed_bps=sum(speed_of(s) for s in active),
        unsized=sum(not s.size for s in moving),
    )
