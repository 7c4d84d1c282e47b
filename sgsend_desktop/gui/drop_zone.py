"""The big, friendly target for dropping files and folders, with "Add files…" / "Add folder…"."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QFont
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from sgsend_desktop.gui.icons import app_icon


def local_paths(mime: QMimeData) -> list[Path]:
    """The local files/folders in a drag, or [] if it carries anything else."""
    if not mime.hasUrls():
        return []
    urls = mime.urls()
    if not urls or not all(url.isLocalFile() for url in urls):
        return []
    return [Path(url.toLocalFile()) for url in urls]


class DropZone(QFrame):
    paths_dropped = Signal(list)  # list[Path]
    add_files_requested = Signal()
    add_folder_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dropZone")
        self.setAcceptDrops(True)
        self.setAccessibleName("Drop zone: drop files or folders here to send them")
        self.setMinimumHeight(150)
        self._set_hover(False)

        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(48, 48))
        icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        icon.setAccessibleName("SGraph Send icon")

        title = QLabel("Drop files or folders to send")
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title.setAccessibleName("Drop files or folders to send")

        hint = QLabel("Encrypted on this computer before upload — the key never leaves it.")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setEnabled(False)
        hint.setWordWrap(True)

        self.add_files_button = QPushButton("Add files…")
        self.add_files_button.setAccessibleName("Add files")
        self.add_files_button.clicked.connect(self.add_files_requested)
        self.add_folder_button = QPushButton("Add folder…")
        self.add_folder_button.setAccessibleName("Add folder")
        self.add_folder_button.clicked.connect(self.add_folder_requested)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.add_files_button)
        buttons.addWidget(self.add_folder_button)
        buttons.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 14, 16, 14)
        layout.setSpacing(6)
        layout.addWidget(icon)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addSpacing(4)
        layout.addLayout(buttons)

    def _set_hover(self, hover: bool) -> None:
        # palette() references keep the zone right in light and dark themes.
        border = "palette(highlight)" if hover else "palette(mid)"
        self.setStyleSheet(
            f"#dropZone {{ border: 2px dashed {border}; border-radius: 10px;"
            f" background: palette({'alternate-base' if hover else 'base'}); }}"
        )

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()
            self._set_hover(True)
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if local_paths(event.mimeData()):
            event.acceptProposedAction()

    def dragLeaveEvent(self, event: object) -> None:
        self._set_hover(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self._set_hover(False)
        paths = local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.paths_dropped.emit(paths)


def deliver_drop(target: QWidget, paths: list[Path]) -> bool:
    """Send a real drag-enter + drop of ``paths`` (file URLs) to ``target``, as a file manager would.

    Used by the self-test and the screenshot script to drive the real window. True if accepted.
    """
    from PySide6.QtCore import QUrl
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    centre = QPointF(target.rect().center())
    action = Qt.DropAction.CopyAction
    buttons = Qt.MouseButton.LeftButton
    modifiers = Qt.KeyboardModifier.NoModifier
    enter = drag_enter_event(target.rect().center(), mime)
    QApplication.sendEvent(target, enter)
    if not enter.isAccepted():
        return False
    drop = QDropEvent(centre, action, mime, buttons, modifiers)
    QApplication.sendEvent(target, drop)
    return drop.isAccepted()


def drag_enter_event(pos: QPoint, mime: QMimeData) -> QDragEnterEvent:
    """A copy-drag entering at ``pos``: PySide6 ≥ 6.12 takes a QPointF (QPoint deprecated), older a QPoint."""
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    try:
        return QDragEnterEvent(QPointF(pos), *args)  # type: ignore[call-overload,no-any-return,unused-ignore]
    except TypeError:
        return QDragEnterEvent(pos, *args)

