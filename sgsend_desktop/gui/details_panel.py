"""What the selected transfer is: its link with Copy buttons and QR code, its error, its file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal, SignalInstance
from PySide6.QtGui import QDesktopServices, QFont, QGuiApplication, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from sgsend_desktop.core.model import (
    LOCAL_COMPUTER,
    LOCAL_NETWORK,
    Direction,
    TransferSnapshot,
    TransferState,
)
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
from sgsend_desktop.gui.qr import qr_image

LIVE_TEXT = "Live progress from the server"
POLLING_TEXT = "Polling (server has no events)"
REACH_TEXT = {
    LOCAL_COMPUTER: "This link works only on this computer (local server). To share with others, turn on "
    "local-network sharing or set a server in Settings.",
    LOCAL_NETWORK: "This link works on your local network, while SGraph Send runs on this computer.",
}


class DetailsPanel(QFrame):
    delete_remote_requested = Signal(str)
    retry_requested = Signal(str)
    copied = Signal(str)  # what was copied, for the status bar

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName("Transfer details")
        self.open_url: Callable[[QUrl], object] = QDesktopServices.openUrl
        self._snapshot: TransferSnapshot | None = None
        self._qr_for: str | None = None

        self.title = QLabel("Select a transfer to see its details")
        font = QFont(self.title.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title.setFont(font)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setAccessibleName("Transfer name")
        self.subtitle = QLabel("")
        self.subtitle.setAccessibleName("Transfer summary")
        self.live_label = QLabel("")
        self.live_label.setAccessibleName("Progress source")
        self.live_label.setEnabled(False)
        self.reconnect_label = QLabel("")
        self.reconnect_label.setWordWrap(True)
        self.reconnect_label.setAccessibleName("Connection status")
        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setAccessibleName("Failure reason")
        self.error_label.setStyleSheet("color: rgb(214, 69, 65);")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry_button = QPushButton("Retry")
        self.retry_button.setAccessibleName("Retry the failed transfer")
        self.retry_button.clicked.connect(lambda: self._emit_for(self.retry_requested))

        # --- share section (sends that are done) ---
        self.link_field = self._readonly("Share link (with key)")
        self.link_only_field = self._readonly("Link without key")
        self.key_field = self._readonly("Key")
        self.copy_link_button = self._copy_button(
            "Copy link", "Copy the share link with its key", self.link_field, "link"
        )
        self.copy_link_only_button = self._copy_button(
            "Copy", "Copy the link without the key", self.link_only_field, "link without key"
        )
        self.copy_key_button = self._copy_button("Copy", "Copy the key", self.key_field, "key")
        self.qr_toggle = QCheckBox("Show QR code")
        self.qr_toggle.setAccessibleName("Show QR code of the share link")
        self.qr_toggle.toggled.connect(self._refresh_qr)
        self.qr_label = QLabel()
        self.qr_label.setAccessibleName("QR code of the share link")
        self.qr_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr_label.hide()
        self.reach_label = QLabel("")
        self.reach_label.setWordWrap(True)
        self.reach_label.setAccessibleName("Where the link works")
        self.reach_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.delete_button = QPushButton("Delete from server")
        self.delete_button.setAccessibleName("Delete this transfer from the server")
        self.delete_button.clicked.connect(lambda: self._emit_for(self.delete_remote_requested))

        self.share_box = QWidget()
        grid = QGridLayout(self.share_box)
        grid.setContentsMargins(0, 4, 0, 0)
        grid.setHorizontalSpacing(8)
        rows = [
            ("Link", self.link_field, self.copy_link_button),
            ("Link only", self.link_only_field, self.copy_link_only_button),
            ("Key", self.key_field, self.copy_key_button),
        ]
        for row, (caption, field, button) in enumerate(rows):
            label = QLabel(caption)
            label.setBuddy(field)
            grid.addWidget(label, row, 0)
            grid.addWidget(field, row, 1)
            grid.addWidget(button, row, 2)
        grid.addWidget(self.reach_label, len(rows), 0, 1, 3)
        extras = QHBoxLayout()
        extras.addWidget(self.qr_toggle)
        extras.addStretch(1)
        extras.addWidget(self.delete_button)
        grid.addLayout(extras, len(rows) + 1, 0, 1, 3)
        grid.setColumnStretch(1, 1)

        # --- received file section ---
        self.saved_field = self._readonly("Saved to")
        self.open_button = QPushButton("Open")
        self.open_button.setAccessibleName("Open the received file")
        self.open_button.clicked.connect(self.open_file)
        self.show_folder_button = QPushButton("Show in folder")
        self.show_folder_button.setAccessibleName("Show the received file in its folder")
        self.show_folder_button.clicked.connect(self.show_in_folder)
        self.file_box = QWidget()
        file_row = QHBoxLayout(self.file_box)
        file_row.setContentsMargins(0, 4, 0, 0)
        file_row.addWidget(QLabel("Saved to"))
        file_row.addWidget(self.saved_field, 1)
        file_row.addWidget(self.open_button)
        file_row.addWidget(self.show_folder_button)

        info = QWidget()
        info.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        text_column = QVBoxLayout(info)
        text_column.setContentsMargins(0, 0, 0, 0)
        text_column.setSpacing(4)
        text_column.addWidget(self.title, 0, Qt.AlignmentFlag.AlignLeft)
        text_column.addWidget(self.subtitle, 0, Qt.AlignmentFlag.AlignLeft)
        text_column.addWidget(self.live_label, 0, Qt.AlignmentFlag.AlignLeft)
        text_column.addWidget(self.reconnect_label)
        error_row = QHBoxLayout()
        error_row.addWidget(self.error_label, 1)
        error_row.addWidget(self.retry_button, 0, Qt.AlignmentFlag.AlignTop)
        text_column.addLayout(error_row)
        text_column.addWidget(self.share_box)
        text_column.addWidget(self.file_box)
        text_column.addStretch(1)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(info, 1)
        layout.addWidget(self.qr_label, 0, Qt.AlignmentFlag.AlignTop)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.show_snapshot(None)

    # --- building blocks -------------------------------------------------------------------------
    def _readonly(self, name: str) -> QLineEdit:
        field = QLineEdit()
        field.setReadOnly(True)
        field.setAccessibleName(name)
        return field

    def _copy_button(self, text: str, name: str, field: QLineEdit, what: str) -> QPushButton:
        button = QPushButton(text)
        button.setAccessibleName(name)
        button.clicked.connect(lambda: self._copy(field.text(), what))
        return button

    def _copy(self, text: str, what: str) -> None:
        if text:
            QGuiApplication.clipboard().setText(text)
            self.copied.emit(what)

    def _emit_for(self, signal: SignalInstance) -> None:
        if self._snapshot is not None:
            signal.emit(self._snapshot.id)

    # --- public ----------------------------------------------------------------------------------
    @property
    def snapshot(self) -> TransferSnapshot | None:
        return self._snapshot

    def copy_link(self) -> None:
        self._copy(self.link_field.text(), "link")

    def copy_link_only(self) -> None:
        self._copy(self.link_only_field.text(), "link without key")

    def copy_key(self) -> None:
        self._copy(self.key_field.text(), "key")

    def show_snapshot(self, snap: TransferSnapshot | None) -> None:
        self._snapshot = snap
        if snap is None:
            self.title.setText("Select a transfer to see its details")
            for widget in (
                self.subtitle,
                self.live_label,
                self.reconnect_label,
                self.error_label,
                self.retry_button,
                self.share_box,
                self.file_box,
                self.qr_label,
            ):
                widget.hide()
            return
        self.title.setText(display_name(snap))
        self.subtitle.setText(self.summary(snap))
        self.subtitle.show()
        self.live_label.setText(self.progress_source_text(snap))
        self.live_label.setVisible(bool(self.live_label.text()))
        self.reconnect_label.setText(reconnect_text(snap))  # the server is away: why, and the next try
        self.reconnect_label.setVisible(snap.reconnecting)
        failed = snap.state is TransferState.FAILED
        self.error_label.setText(
            f"Failed: {snap.error}" if failed and snap.error else "Failed." if failed else ""
        )
        self.error_label.setVisible(failed)
        self.retry_button.setVisible(failed)

        shared = (
            snap.direction is Direction.SEND and snap.state is TransferState.DONE and bool(snap.share_link)
        )
        self.share_box.setVisible(shared)
        self._set_field(self.link_field, snap.share_link if shared else None)
        self._set_field(self.link_only_field, snap.link_only if shared else None)
        self._set_field(self.key_field, snap.key_text if shared else None)
        reach = REACH_TEXT.get(snap.local_scope, "") if shared else ""
        self.reach_label.setText(reach)
        self.reach_label.setVisible(bool(reach))
        self.delete_button.setEnabled(shared)
        self._refresh_qr()

        received = snap.direction is Direction.RECEIVE and snap.state is TransferState.DONE
        self.file_box.setVisible(received and bool(snap.saved_path))
        self._set_field(self.saved_field, snap.saved_path if received else None)

    @staticmethod
    def summary(snap: TransferSnapshot) -> str:
        parts = [direction_label(snap.direction), state_label(snap)]
        if snap.size:
            parts.append(format_size(snap.size))
        if snap.state.is_active or snap.state is TransferState.PAUSED:
            parts.append(f"{round(progress_fraction(snap) * 100)} % done")
        if snap.state.is_active and snap.speed_bps > 0 and not snap.reconnecting:
            parts.append(format_speed(snap.speed_bps))
            if snap.eta_seconds is not None:
                parts.append(f"{format_eta(snap.eta_seconds)} left")
        return " · ".join(parts)

    @staticmethod
    def progress_source_text(snap: TransferSnapshot) -> str:
        if snap.direction is not Direction.SEND or not snap.state.is_active or snap.transfer_id is None:
            return ""
        return LIVE_TEXT if snap.live_events else POLLING_TEXT

    @staticmethod
    def _set_field(field: QLineEdit, text: str | None) -> None:
        if field.text() != (text or ""):
            field.setText(text or "")
            field.setCursorPosition(0)

    def _refresh_qr(self) -> None:
        link = self.link_field.text() if self._snapshot_shared() else ""
        if not (self.qr_toggle.isChecked() and link):
            self.qr_label.hide()
            return
        if self._qr_for != link:
            self.qr_label.setPixmap(QPixmap.fromImage(qr_image(link, module_px=3)))
            self._qr_for = link
        self.qr_label.show()

    def _snapshot_shared(self) -> bool:
        snap = self._snapshot
        return bool(
            snap and snap.direction is Direction.SEND and snap.state is TransferState.DONE and snap.share_link
        )

    def open_file(self) -> None:
        if self._snapshot and self._snapshot.saved_path:
            self.open_url(QUrl.fromLocalFile(self._snapshot.saved_path))

    def show_in_folder(self) -> None:
        if self._snapshot and self._snapshot.saved_path:
            self.open_url(QUrl.fromLocalFile(str(Path(self._snapshot.saved_path).parent)))
