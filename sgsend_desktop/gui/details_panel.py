"""What the selected transfer is: its link with Copy buttons and QR code, its limits and expiry, its
error, its file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QUrl, Signal, SignalInstance
from PySide6.QtGui import QDesktopServices, QFont, QGuiApplication, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
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
from sgsend_desktop.gui.colors import ToneLabel
from sgsend_desktop.gui.elided_label import ElidedLabel
from sgsend_desktop.gui.formatting import (
    bytes_progress,
    direction_label,
    display_name,
    downloads_text,
    expiry_text,
    file_size_text,
    format_eta,
    format_size,
    format_speed,
    progress_fraction,
    reconnect_text,
    state_label,
)
from sgsend_desktop.gui.icons import refresh_line_icons, set_line_icon
from sgsend_desktop.gui.qr import qr_image
from sgsend_desktop.gui.rules import is_received, is_received_zip, is_shared

LIVE_TEXT = "Live progress from the server"
POLLING_TEXT = "Polling (server has no events)"
EVENTS_DOWN_TEXT = "Live progress paused: the server's event stream is reconnecting (parts still upload)"
REACH_TEXT = {
    LOCAL_COMPUTER: "This link works only on this computer (local server). To share with others, turn on "
    "local-network sharing or set a server in Settings.",
    LOCAL_NETWORK: "This link works on your local network, while SGraph Send runs on this computer.",
}
DELETED_TEXT = "Deleted from the server: its link no longer works, and nobody can download it."
EMPTY_TITLE = "Select a transfer to see its details"


class DetailsScroll(QScrollArea):
    """Holds the panel below the queue. A short window (a laptop at 150 %) cannot give the panel all it
    needs: it scrolls rather than clipping its last lines. ``resized`` tells the window to fit the pane
    again once the splitter has its real size (it is laid out after the panel's first fit)."""

    resized = Signal()

    def __init__(self, panel: QWidget) -> None:
        super().__init__()
        self.setWidget(panel)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def minimumSizeHint(self) -> QSize:
        # a scroll area asks for room for its scroll bars (~70 px), which the splitter then gave even to
        # the one-line "Select a transfer" panel, leaving a gap under it; two lines are enough
        return QSize(super().minimumSizeHint().width(), 2 * self.fontMetrics().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.resized.emit()


class DetailsPanel(QFrame):
    delete_remote_requested = Signal(str)
    retry_requested = Signal(str)
    unpack_requested = Signal(str)
    copied = Signal(str)  # what was copied, for the status bar
    resized = Signal()  # a section appeared or went (the window fits the pane to it)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName("Transfer details")
        self.open_url: Callable[[QUrl], object] = QDesktopServices.openUrl
        self._snapshot: TransferSnapshot | None = None
        self._qr_for: str | None = None

        self.title = ElidedLabel(EMPTY_TITLE)
        font = QFont(self.title.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.title.setFont(font)
        self.title.setAccessibleName("Transfer name")
        self.subtitle = ToneLabel("")
        self.subtitle.setAccessibleName("Transfer summary")
        self.facts_label = ToneLabel("")
        self.facts_label.setWordWrap(True)
        self.facts_label.setAccessibleName("Downloads and expiry")
        self.facts_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.live_label = ToneLabel("")
        self.live_label.setAccessibleName("Progress source")
        self.reconnect_label = QLabel("")
        self.reconnect_label.setWordWrap(True)
        self.reconnect_label.setAccessibleName("Connection status")
        self.error_label = ToneLabel("", "error")
        self.error_label.setWordWrap(True)
        self.error_label.setAccessibleName("Failure reason")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.retry_button = QPushButton("Retry")
        set_line_icon(self.retry_button, "retry")
        self.retry_button.setAccessibleName("Retry the transfer")
        self.retry_button.clicked.connect(lambda: self._emit_for(self.retry_requested))
        self.deleted_label = ToneLabel(DELETED_TEXT)
        self.deleted_label.setWordWrap(True)
        self.deleted_label.setAccessibleName("Deleted from the server")

        # --- share section (sends that are done) ---
        self.link_field = self._readonly("Share link (with key)")
        self.link_only_field = self._readonly("Link without key")
        self.key_field = self._readonly("Key")
        self.copy_link_button = self._copy_button(
            "Copy link", "Copy the share link with its key", self.link_field, "link"
        )
        self.copy_link_button.setDefault(False)
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
        self.reach_label = ToneLabel("")
        self.reach_label.setWordWrap(True)
        self.reach_label.setAccessibleName("Where the link works")
        self.reach_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.delete_button = QPushButton("Delete from server…")
        set_line_icon(self.delete_button, "cloud-off")
        self.delete_button.setAccessibleName("Delete this transfer from the server")
        self.delete_button.clicked.connect(lambda: self._emit_for(self.delete_remote_requested))

        self.share_box = QWidget()
        grid = QGridLayout(self.share_box)
        grid.setContentsMargins(0, 2, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(4)
        link_caption = QLabel("&Link")
        link_caption.setBuddy(self.link_field)
        grid.addWidget(link_caption, 0, 0)
        grid.addWidget(self.link_field, 0, 1, 1, 4)
        grid.addWidget(self.copy_link_button, 0, 5)
        only_caption = QLabel("Link &only")
        only_caption.setBuddy(self.link_only_field)
        key_caption = QLabel("Ke&y")
        key_caption.setBuddy(self.key_field)
        grid.addWidget(only_caption, 1, 0)
        grid.addWidget(self.link_only_field, 1, 1)
        grid.addWidget(self.copy_link_only_button, 1, 2)
        grid.addWidget(key_caption, 1, 3)
        grid.addWidget(self.key_field, 1, 4)
        grid.addWidget(self.copy_key_button, 1, 5)
        grid.addWidget(self.reach_label, 2, 0, 1, 6)
        extras = QHBoxLayout()
        extras.addWidget(self.qr_toggle)
        extras.addStretch(1)
        extras.addWidget(self.delete_button)
        grid.addLayout(extras, 3, 0, 1, 6)
        grid.setColumnStretch(1, 3)
        grid.setColumnStretch(4, 2)

        # --- received file section ---
        self.saved_field = self._readonly("Saved to")
        self.open_button = QPushButton("Open")
        set_line_icon(self.open_button, "open")
        self.open_button.setAccessibleName("Open the received file")
        self.open_button.clicked.connect(self.open_file)
        self.show_folder_button = QPushButton("Show in folder")
        set_line_icon(self.show_folder_button, "folder")
        self.show_folder_button.setAccessibleName("Show the received file in its folder")
        self.show_folder_button.clicked.connect(self.show_in_folder)
        self.unpack_button = QPushButton("Unpack…")
        set_line_icon(self.unpack_button, "unpack")
        self.unpack_button.setAccessibleName("Unpack the received zip into a folder")
        self.unpack_button.clicked.connect(lambda: self._emit_for(self.unpack_requested))
        self.unpack_progress = QProgressBar()
        self.unpack_progress.setAccessibleName("Unpacking progress")
        self.unpack_progress.setMaximumHeight(16)
        self.unpack_progress.hide()
        self.unpack_label = QLabel("")
        self.unpack_label.setWordWrap(True)
        self.unpack_label.setAccessibleName("Unpacking result")
        self.unpack_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.unpack_label.hide()
        self.file_box = QWidget()
        file_column = QVBoxLayout(self.file_box)
        file_column.setContentsMargins(0, 2, 0, 0)
        file_column.setSpacing(4)
        file_row = QHBoxLayout()
        saved_caption = QLabel("&Saved to")
        saved_caption.setBuddy(self.saved_field)
        file_row.addWidget(saved_caption)
        file_row.addWidget(self.saved_field, 1)
        file_row.addWidget(self.open_button)
        file_row.addWidget(self.show_folder_button)
        file_row.addWidget(self.unpack_button)
        file_column.addLayout(file_row)
        file_column.addWidget(self.unpack_progress)
        file_column.addWidget(self.unpack_label)

        info = QWidget()
        info.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        text_column = QVBoxLayout(info)
        text_column.setContentsMargins(0, 0, 0, 0)
        text_column.setSpacing(3)
        text_column.addWidget(self.title)
        text_column.addWidget(self.subtitle)
        text_column.addWidget(self.facts_label)
        text_column.addWidget(self.live_label)
        error_row = QHBoxLayout()  # why it stopped (failed) or waits (reconnecting), and Retry / Try now
        error_row.addWidget(self.error_label, 1)
        error_row.addWidget(self.reconnect_label, 1)
        error_row.addWidget(self.retry_button, 0, Qt.AlignmentFlag.AlignTop)
        text_column.addLayout(error_row)
        text_column.addWidget(self.deleted_label)
        text_column.addWidget(self.share_box)
        text_column.addWidget(self.file_box)
        text_column.addStretch(1)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addWidget(info, 1)
        layout.addWidget(self.qr_label, 0, Qt.AlignmentFlag.AlignTop)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Maximum)
        self.show_snapshot(None)

    # --- building blocks -------------------------------------------------------------------------
    def _readonly(self, name: str) -> QLineEdit:
        field = QLineEdit()
        field.setReadOnly(True)
        field.setAccessibleName(name)
        field.setMinimumWidth(80)
        return field

    def _copy_button(self, text: str, name: str, field: QLineEdit, what: str) -> QPushButton:
        button = QPushButton(text)
        set_line_icon(button, "copy")
        button.setAccessibleName(name)
        button.setAutoDefault(False)
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

    def focus_chain(self) -> list[QWidget]:
        """The panel's controls in Tab order."""
        return [
            self.retry_button,
            self.link_field,
            self.copy_link_button,
            self.link_only_field,
            self.copy_link_only_button,
            self.key_field,
            self.copy_key_button,
            self.qr_toggle,
            self.delete_button,
            self.saved_field,
            self.open_button,
            self.show_folder_button,
            self.unpack_button,
        ]

    def shape(self) -> tuple[int, ...]:
        """Which sections show, and how long the wrapping texts are (what the panel's height depends on)."""
        shown = tuple(
            int(w.isVisibleTo(self))
            for w in (
                self.subtitle,
                self.facts_label,
                self.live_label,
                self.reconnect_label,
                self.error_label,
                self.deleted_label,
                self.share_box,
                self.reach_label,
                self.file_box,
                self.unpack_progress,
                self.unpack_label,
                self.qr_label,
            )
        )
        return (*shown, len(self.error_label.text()) // 60, len(self.facts_label.text()) // 60)

    def refresh_icons(self) -> None:
        refresh_line_icons(self)

    def copy_link(self) -> None:
        self._copy(self.link_field.text(), "link")

    def copy_link_only(self) -> None:
        self._copy(self.link_only_field.text(), "link without key")

    def copy_key(self) -> None:
        self._copy(self.key_field.text(), "key")

    def show_snapshot(self, snap: TransferSnapshot | None) -> None:
        changed_row = (self._snapshot.id if self._snapshot else None) != (snap.id if snap else None)
        self._snapshot = snap
        if changed_row:
            self.unpack_progress.hide()
            self.unpack_label.hide()
        if snap is None:
            self.title.setText(EMPTY_TITLE)
            for widget in (
                self.subtitle,
                self.facts_label,
                self.live_label,
                self.reconnect_label,
                self.error_label,
                self.retry_button,
                self.deleted_label,
                self.share_box,
                self.file_box,
                self.qr_label,
            ):
                widget.hide()
            return
        self.title.setText(display_name(snap))
        self.subtitle.setText(self.summary(snap))
        self.subtitle.show()
        facts = self.facts(snap)
        self.facts_label.setText(facts)
        self.facts_label.setVisible(bool(facts))
        self.live_label.setText(self.progress_source_text(snap))
        self.live_label.setVisible(bool(self.live_label.text()))
        self.reconnect_label.setText(reconnect_text(snap))  # the server is away: why, and the next try
        self.reconnect_label.setVisible(snap.reconnecting)
        failed = snap.state is TransferState.FAILED
        cancelled = snap.state is TransferState.CANCELLED
        self.error_label.setText(self.problem_text(snap))
        self.error_label.setVisible(failed or cancelled)
        self.retry_button.setText("Start again" if cancelled else "Try now" if snap.reconnecting else "Retry")
        self.retry_button.setAccessibleName(
            "Start the cancelled transfer again from the beginning"
            if cancelled
            else "Try to reach the server now"
            if snap.reconnecting
            else "Retry the failed transfer"
        )
        self.retry_button.setVisible(failed or cancelled or snap.reconnecting)
        self.deleted_label.setVisible(snap.deleted_remote and snap.state is TransferState.DONE)

        shared = is_shared(snap)
        self.share_box.setVisible(shared)
        self._set_field(self.link_field, snap.share_link if shared else None)
        self._set_field(self.link_only_field, snap.link_only if shared else None)
        self._set_field(self.key_field, snap.key_text if shared else None)
        reach = REACH_TEXT.get(snap.local_scope, "") if shared else ""
        self.reach_label.setText(reach)
        self.reach_label.setVisible(bool(reach))
        self.delete_button.setEnabled(shared)
        self._refresh_qr()

        received = is_received(snap)
        self.file_box.setVisible(received)
        self._set_field(self.saved_field, snap.saved_path if received else None)
        self.unpack_button.setVisible(is_received_zip(snap))

    @staticmethod
    def summary(snap: TransferSnapshot) -> str:
        moving = snap.state in (TransferState.UPLOADING, TransferState.DOWNLOADING, TransferState.DONE)
        # "Uploading" and "Sent" say the direction; "Paused" or "Failed" need it
        parts = (
            [state_label(snap)]
            if moving and not snap.reconnecting
            else [direction_label(snap.direction), state_label(snap)]
        )
        if snap.size and (snap.state.is_active or snap.state is TransferState.PAUSED):
            parts.append(bytes_progress(snap))
        elif file_size_text(snap):
            parts.append(file_size_text(snap))
        if snap.item_count > 1:
            parts.append(f"{snap.item_count} items in one zip")
        if snap.state.is_active or snap.state is TransferState.PAUSED:
            parts.append(f"{round(progress_fraction(snap) * 100)} % done")
        finishing = snap.state is TransferState.COMPLETING  # every byte moved: no speed, no time left
        if snap.state.is_active and snap.speed_bps > 0 and not snap.reconnecting and not finishing:
            parts.append(format_speed(snap.speed_bps))
            if snap.eta_seconds is not None:
                parts.append(f"{format_eta(snap.eta_seconds)} left")
        return " · ".join(parts)

    @staticmethod
    def facts(snap: TransferSnapshot) -> str:
        """A send's limits: downloads so far and left, and its expiry (before and after it is done)."""
        if snap.direction is not Direction.SEND or snap.deleted_remote:
            return ""
        if snap.state is TransferState.DONE:
            return f"{downloads_text(snap)} · {expiry_text(snap.expires_at)}"
        if snap.state is TransferState.CANCELLED:
            return ""
        limit = f"up to {snap.max_downloads} downloads" if snap.max_downloads else "no download limit"
        expiry = expiry_text(snap.expires_at)
        return f"Once sent: {limit} · {expiry[:1].lower()}{expiry[1:]}"

    @staticmethod
    def problem_text(snap: TransferSnapshot) -> str:
        if snap.state is TransferState.CANCELLED:
            again = "sends it" if snap.direction is Direction.SEND else "downloads it"
            gone = (
                "what was transferred is gone"
                if snap.direction is Direction.SEND
                else ("the partial file was removed")
            )
            return f"Cancelled: {gone}. “Start again” {again} again from the beginning."
        if snap.state is not TransferState.FAILED:
            return ""
        reason = f"Failed: {snap.error}" if snap.error else "Failed."
        done = progress_fraction(snap)
        if 0 < done < 1:
            reason += f" Retry continues from {round(done * 100)} %."
        return reason

    @staticmethod
    def progress_source_text(snap: TransferSnapshot) -> str:
        if snap.direction is not Direction.SEND or not snap.state.is_active or snap.transfer_id is None:
            return ""
        if snap.reconnecting:  # neither live nor polled while the server is away (reconnect_text says so)
            return ""
        if snap.events_down:
            return EVENTS_DOWN_TEXT
        return LIVE_TEXT if snap.live_events else POLLING_TEXT

    @staticmethod
    def _set_field(field: QLineEdit, text: str | None) -> None:
        if field.text() != (text or ""):
            field.setText(text or "")
            field.setCursorPosition(0)

    def _refresh_qr(self) -> None:
        link = self.link_field.text() if is_shared(self._snapshot) else ""
        if not (self.qr_toggle.isChecked() and link):
            if self.qr_label.isVisibleTo(self):
                self.qr_label.hide()
                self.resized.emit()
            return
        if self._qr_for != link:
            self.qr_label.setPixmap(QPixmap.fromImage(qr_image(link, module_px=3)))
            self._qr_for = link
        self.qr_label.show()
        self.resized.emit()

    # --- unpacking a received zip ----------------------------------------------------------------
    def show_unpack_progress(self, done: int, total: int) -> None:
        self.unpack_label.hide()
        self.unpack_progress.show()
        if total > 0:
            self.unpack_progress.setRange(0, 1000)
            self.unpack_progress.setValue(min(1000, round(done / total * 1000)))
        else:
            self.unpack_progress.setRange(0, 0)
        self.unpack_progress.setFormat(f"Unpacking… {format_size(done)}")
        self.unpack_button.setEnabled(False)
        self.resized.emit()

    def show_unpack_result(self, text: str, error: bool = False) -> None:
        """``text``: rich text (a link to the folder) after success; plain text (the error) otherwise."""
        from sgsend_desktop.gui.colors import error_color

        self.unpack_progress.hide()
        self.unpack_button.setEnabled(True)
        self.unpack_label.setTextFormat(Qt.TextFormat.PlainText if error else Qt.TextFormat.RichText)
        self.unpack_label.setText(text)
        self.unpack_label.setStyleSheet(f"color: {error_color(self.palette()).name()};" if error else "")
        self.unpack_label.show()
        self.resized.emit()

    # --- the received file -----------------------------------------------------------------------
    def open_file(self) -> None:
        if self._snapshot and self._snapshot.saved_path:
            self.open_url(QUrl.fromLocalFile(self._snapshot.saved_path))

    def show_in_folder(self) -> None:
        if self._snapshot and self._snapshot.saved_path:
            self.open_url(QUrl.fromLocalFile(str(Path(self._snapshot.saved_path).parent)))
