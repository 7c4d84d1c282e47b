"""Dropping files to send them: the friendly drop zone (large while the queue is empty, one compact line
once it has rows) and the overlay that covers the window while files are dragged over it.

The whole window accepts drops (MainWindow handles the drag events: they reach it from whichever widget
is under the pointer); the drop zone and the overlay only show what will happen. With several items
the overlay offers both groupings: one link per file, or one link for all (one zip).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QPointF, QRect, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QFont,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import QBoxLayout, QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from sgsend_desktop.gui.colors import ToneLabel
from sgsend_desktop.gui.formatting import plural
from sgsend_desktop.gui.icons import app_icon, refresh_line_icons, set_line_icon

HINT = "Encrypted on this computer before upload — the key never leaves it."


def local_paths(mime: QMimeData) -> list[Path]:
    """The local files/folders in a drag, or [] if it carries anything else."""
    if not mime.hasUrls():
        return []
    urls = mime.urls()
    if not urls or not all(url.isLocalFile() for url in urls):
        return []
    return [Path(url.toLocalFile()) for url in urls]


class DropZone(QFrame):
    """The drop target's face: large with a title and a hint while nothing is queued, then one line."""

    add_files_requested = Signal()
    add_folder_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dropZone")
        self.setAccessibleName("Drop zone: drop files or folders anywhere in the window to send them")
        self._compact = False
        self._hover = False

        self.icon = QLabel()
        self.icon.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.icon.setAccessibleName("SGraph Send icon")
        self.title = QLabel("Drop files or folders to send")
        self._title_font = QFont(self.title.font())
        self._title_font.setPointSizeF(self._title_font.pointSizeF() * 1.35)
        self._title_font.setBold(True)
        self.title.setAccessibleName("Drop files or folders to send")
        self.hint = ToneLabel(HINT)
        self.hint.setWordWrap(True)
        self.hint.setAccessibleName("The files are encrypted on this computer")

        self.add_files_button = QPushButton("Add files…")
        set_line_icon(self.add_files_button, "add-file")
        self.add_files_button.setAccessibleName("Add files")
        self.add_files_button.clicked.connect(self.add_files_requested)
        self.add_folder_button = QPushButton("Add folder…")
        set_line_icon(self.add_folder_button, "add-folder")
        self.add_folder_button.setAccessibleName("Add folder")
        self.add_folder_button.clicked.connect(self.add_folder_requested)

        self._buttons = QHBoxLayout()
        self._buttons.setSpacing(6)
        self._buttons.addStretch(1)
        self._buttons.addWidget(self.add_files_button)
        self._buttons.addWidget(self.add_folder_button)
        self._buttons.addStretch(1)
        self._box = QBoxLayout(QBoxLayout.Direction.TopToBottom, self)
        self._box.addWidget(self.icon)
        self._box.addWidget(self.title)
        self._box.addWidget(self.hint)
        self._box.addLayout(self._buttons)
        self._compact = True
        self.set_compact(False)

    @property
    def compact(self) -> bool:
        return self._compact

    def set_compact(self, compact: bool) -> None:
        """Large (a title, the hint, the buttons stacked) or one line once the queue has rows."""
        if compact == self._compact:
            return
        self._compact = compact
        box = self._box
        box.setDirection(QBoxLayout.Direction.LeftToRight if compact else QBoxLayout.Direction.TopToBottom)
        box.setStretchFactor(self.hint, 1 if compact else 0)
        font = QFont(self._title_font)
        if compact:
            font.setPointSizeF(self._title_font.pointSizeF() / 1.35)
        self.title.setFont(font)
        self.icon.setPixmap(app_icon().pixmap(22 if compact else 48, 22 if compact else 48))
        self.title.setText("Drop files anywhere to send" if compact else "Drop files or folders to send")
        self.hint.setText("— encrypted on this computer first" if compact else HINT)
        self.hint.setWordWrap(not compact)
        align = (
            (Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            if compact
            else (Qt.AlignmentFlag.AlignCenter)
        )
        self.title.setAlignment(align)
        self.hint.setAlignment(align)
        box.setContentsMargins(*((10, 4, 6, 4) if compact else (16, 14, 16, 14)))
        box.setSpacing(8 if compact else 6)
        self.setMinimumHeight(0 if compact else 150)
        # once the queue has rows the toolbar's Add files / Add folder are enough
        self.add_files_button.setVisible(not compact)
        self.add_folder_button.setVisible(not compact)
        self.setSizePolicy(
            QSizePolicy.Policy.Preferred,
            QSizePolicy.Policy.Fixed if compact else QSizePolicy.Policy.Preferred,
        )
        self._restyle()

    def refresh_icons(self) -> None:
        refresh_line_icons(self)

    def set_hover(self, hover: bool) -> None:
        self._hover = hover
        self._restyle()

    def _restyle(self) -> None:
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        """A dashed, rounded frame in the palette's colours (light and dark alike; no style sheet)."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        border = palette.color(QPalette.ColorRole.Highlight if self._hover else QPalette.ColorRole.Mid)
        fill = palette.color(QPalette.ColorRole.AlternateBase if self._hover else QPalette.ColorRole.Base)
        radius = 8 if self._compact else 10
        painter.setPen(QPen(border, 2, Qt.PenStyle.DashLine))
        painter.setBrush(fill)
        painter.drawRoundedRect(self.rect().adjusted(1, 1, -1, -1), radius, radius)
        painter.end()


class DropOverlay(QWidget):
    """Drawn over the window while files are dragged over it; invisible to the mouse (the drag events
    go to the widgets below and up to the window). Several items: the main area sends them the default
    way (the send options' "Several files"), a band at the bottom the other way."""

    BAND = 0.3  # of the height: the "other grouping" band

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAccessibleName("Drop here to send")
        self.count = 0
        self.default_together = False
        self.pointer: QPoint | None = None
        self.hide()

    def show_for(self, count: int, default_together: bool) -> None:
        self.count = count
        self.default_together = default_together
        self.pointer = None
        self.raise_()
        self.show()
        self.update()

    def set_pointer(self, pos: QPoint) -> None:
        self.pointer = pos
        self.update()

    def band_rect(self) -> QRect:
        height = round(self.height() * self.BAND)
        return QRect(0, self.height() - height, self.width(), height).adjusted(12, 0, -12, -12)

    def main_rect(self) -> QRect:
        if self.count <= 1:
            return self.rect().adjusted(12, 12, -12, -12)
        return QRect(0, 0, self.width(), self.height() - self.band_rect().height() - 12).adjusted(
            12, 12, -12, -6
        )

    def together_at(self, pos: QPoint) -> bool:
        """Whether a drop at ``pos`` sends the items as one (only with several items)."""
        if self.count <= 1:
            return False
        in_band = self.band_rect().contains(pos)
        return self.default_together != in_band

    def texts(self) -> tuple[str, str]:
        """(main area, band) captions."""
        if self.count <= 1:
            return "Drop to send", ""
        each = f"One link for each of the {self.count} items"
        together = f"One link for all {self.count} items (sent as one zip)"
        return (together, each) if self.default_together else (each, together)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        veil = QColor(palette.color(QPalette.ColorRole.Window))
        veil.setAlpha(225)
        painter.fillRect(self.rect(), veil)
        highlight = palette.color(QPalette.ColorRole.Highlight)
        main_text, band_text = self.texts()
        areas = [(self.main_rect(), main_text, "Drop here to send")]
        if band_text:
            areas.append((self.band_rect(), band_text, "or drop here"))
        pointer = self.pointer
        for rect, text, caption in areas:
            active = (pointer is not None and rect.contains(pointer)) or (
                pointer is None and rect == areas[0][0]
            )
            fill = QColor(highlight)
            fill.setAlpha(60 if active else 18)
            painter.setBrush(fill)
            painter.setPen(QPen(highlight, 3 if active else 2, Qt.PenStyle.DashLine))
            painter.drawRoundedRect(rect, 12, 12)
            font = QFont(self.font())
            font.setPointSizeF(font.pointSizeF() * (1.5 if rect == areas[0][0] else 1.2))
            font.setBold(True)
            painter.setFont(font)
            painter.setPen(palette.color(QPalette.ColorRole.WindowText))
            metrics = painter.fontMetrics()
            title_rect = QRect(
                rect.left(), rect.center().y() - metrics.height(), rect.width(), metrics.height()
            )
            painter.drawText(title_rect, Qt.AlignmentFlag.AlignCenter, caption)
            detail = QFont(self.font())
            detail.setPointSizeF(detail.pointSizeF() * 1.1)
            painter.setFont(detail)
            detail_rect = QRect(rect.left(), rect.center().y() + 4, rect.width(), metrics.height() + 4)
            painter.drawText(detail_rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.end()

    def describe(self) -> str:
        main_text, band_text = self.texts()
        return f"{main_text}; {band_text}" if band_text else f"Drop to send {plural(self.count, 'item')}"


def deliver_drop(target: QWidget, paths: list[Path], pos: QPoint | None = None) -> bool:
    """Send a real drag-enter + drag-move + drop of ``paths`` (file URLs) to ``target`` at ``pos`` (its
    centre by default), as a file manager would; Qt hands them up to the widget that accepts drops.

    Used by the self-test, the screenshot script and the tests to drive the real window. True if accepted.
    """
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    from PySide6.QtCore import QUrl

    mime.setUrls([QUrl.fromLocalFile(str(path)) for path in paths])
    point = pos if pos is not None else target.rect().center()
    action = Qt.DropAction.CopyAction
    buttons = Qt.MouseButton.LeftButton
    modifiers = Qt.KeyboardModifier.NoModifier
    enter = drag_enter_event(point, mime)
    QApplication.sendEvent(target, enter)
    if not enter.isAccepted():
        return False
    QApplication.sendEvent(target, drag_move_event(point, mime))
    drop = QDropEvent(QPointF(point), action, mime, buttons, modifiers)
    QApplication.sendEvent(target, drop)
    return drop.isAccepted()


def _takes_pointf() -> bool:
    """PySide6 ≥ 6.12 builds drag events from a QPointF (QPoint deprecated), older ones from a QPoint. Asked
    by version, not by trying: a refused overload costs shiboken ~0.1 s to explain the first time."""
    import PySide6

    return tuple(PySide6.__version_info__[:2]) >= (6, 12)


def drag_enter_event(pos: QPoint, mime: QMimeData) -> QDragEnterEvent:
    """A copy-drag entering at ``pos``."""
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    if _takes_pointf():
        return QDragEnterEvent(QPointF(pos), *args)  # type: ignore[call-overload,no-any-return,unused-ignore]
    return QDragEnterEvent(pos, *args)


def drag_move_event(pos: QPoint, mime: QMimeData) -> QDragMoveEvent:
    """A copy-drag moving over ``pos``."""
    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    if _takes_pointf():
        return QDragMoveEvent(QPointF(pos), *args)  # type: ignore[call-overload,no-any-return,unused-ignore]
    return QDragMoveEvent(pos, *args)
