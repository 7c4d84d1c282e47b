"""History: the sent and received transfers the engine's journal remembers, with their links."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sgsend_desktop.core.model import Direction, TransferSnapshot, TransferState
from sgsend_desktop.gui.formatting import format_size


def history_entries(snapshots: Sequence[TransferSnapshot]) -> list[TransferSnapshot]:
    done = [s for s in snapshots if s.state is TransferState.DONE]
    return sorted(done, key=lambda s: s.created_at, reverse=True)


class HistoryDialog(QDialog):
    HEADERS = ("When", "", "Name", "Size", "Link / saved to")

    def __init__(self, snapshots: Sequence[TransferSnapshot], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("History")
        self.setAccessibleName("Transfer history")
        self.resize(820, 420)
        self.entries = history_entries(snapshots)

        self.table = QTableWidget(len(self.entries), len(self.HEADERS))
        self.table.setAccessibleName("Sent and received transfers")
        self.table.setHorizontalHeaderLabels(self.HEADERS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        for row, snap in enumerate(self.entries):
            when = (
                datetime.fromtimestamp(snap.created_at).strftime("%Y-%m-%d %H:%M") if snap.created_at else ""
            )
            sent = snap.direction is Direction.SEND
            cells = (
                when,
                "Sent" if sent else "Received",
                snap.name,
                format_size(snap.size),
                (snap.share_link or snap.link_only or "") if sent else (snap.saved_path or ""),
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, column, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)

        self.copy_button = QPushButton("Copy link")
        self.copy_button.setAccessibleName("Copy the selected transfer's link")
        self.copy_button.clicked.connect(self.copy_selected)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row_buttons = QHBoxLayout()
        row_buttons.addWidget(self.copy_button)
        row_buttons.addStretch(1)
        row_buttons.addWidget(buttons)

        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(row_buttons)

    def copy_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        snap = self.entries[rows[0].row()]
        text = snap.share_link or snap.link_only
        if text:
            QGuiApplication.clipboard().setText(text)
