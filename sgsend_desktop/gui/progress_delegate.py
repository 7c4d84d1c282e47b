"""How queue cells are drawn: the Progress column as a native progress bar (following the platform
style and palette), the State column with its icon (a failed row keeps a readable red badge even when
selected), and the row's own buttons under the mouse."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionButton,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
)

from sgsend_desktop.core.model import TransferSnapshot, TransferState
from sgsend_desktop.gui.icons import line_icon
from sgsend_desktop.gui.queue_model import PROGRESS_ROLE, PROGRESS_TEXT_ROLE, SNAPSHOT_ROLE
from sgsend_desktop.gui.rules import hover_actions

Index = QModelIndex | QPersistentModelIndex
BADGE = QColor(176, 32, 28)  # white text on it: 6.4:1, on light and dark rows alike

HOVER_ICONS = {
    "pause": ("pause", "Pause"),
    "resume": ("play", "Resume"),
    "retry": ("retry", "Retry"),
    "cancel": ("cancel", "Cancel"),
    "discard": ("remove", "Remove from the list"),
    "copy_link": ("copy", "Copy link"),
    "show_in_folder": ("folder", "Show in folder"),
}
BUTTON = 26  # px, square


def _style(option: QStyleOptionViewItem) -> QStyle:
    return option.widget.style() if option.widget else QApplication.style()


class ProgressDelegate(QStyledItemDelegate):
    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        permille = index.data(PROGRESS_ROLE)
        if permille is None:
            super().paint(painter, option, index)
            return
        snap = index.data(SNAPSHOT_ROLE)
        style = _style(option)
        background = QStyleOptionViewItem(option)
        self.initStyleOption(background, index)
        background.text = ""
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, background, painter, option.widget)
        if isinstance(snap, TransferSnapshot) and snap.state is TransferState.DONE:
            return  # calm: a finished row needs no bar (its state says Sent / Received)
        bar = QStyleOptionProgressBar()
        bar.rect = option.rect.adjusted(4, 5, -4, -5)
        bar.minimum = 0
        bar.maximum = 1000
        stopped = isinstance(snap, TransferSnapshot) and snap.state in (
            TransferState.FAILED,
            TransferState.CANCELLED,
        )
        # a failed or cancelled row: an empty grey bar that says so, never a full "100 %" one (how far
        # it got is in the details panel)
        bar.progress = 0 if stopped else int(permille)
        bar.text = str(index.data(PROGRESS_TEXT_ROLE) or "")
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = QStyle.StateFlag.State_Horizontal
        if not stopped:
            bar.state |= QStyle.StateFlag.State_Enabled
        bar.palette = QPalette(option.palette)
        if stopped:  # greyed bar, but the text keeps full contrast
            bar.palette.setCurrentColorGroup(QPalette.ColorGroup.Disabled)
            for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText):
                bar.palette.setColor(
                    QPalette.ColorGroup.Disabled,
                    role,
                    option.palette.color(QPalette.ColorGroup.Active, QPalette.ColorRole.Text),
                )
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter)

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(max(hint.width(), 120), max(hint.height(), 26))


class StateDelegate(QStyledItemDelegate):
    """Icon + label; "Failed" is a red badge with white text, readable on any row background."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        snap = index.data(SNAPSHOT_ROLE)
        if not (isinstance(snap, TransferSnapshot) and snap.state is TransferState.FAILED):
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = opt.text
        opt.text = ""
        style = _style(option)
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, option.widget)
        icon_rect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemDecoration, opt, option.widget)
        painter.save()
        font = QFont(opt.font)
        font.setBold(True)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        left = icon_rect.right() + 6 if icon_rect.isValid() else opt.rect.left() + 4
        width = min(metrics.horizontalAdvance(text) + 14, opt.rect.right() - left - 2)
        badge = QRect(
            left, opt.rect.center().y() - metrics.height() // 2 - 2, max(0, width), metrics.height() + 4
        )
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(BADGE)
        painter.drawRoundedRect(badge, badge.height() / 2, badge.height() / 2)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(
            badge,
            Qt.AlignmentFlag.AlignCenter,
            metrics.elidedText(text, Qt.TextElideMode.ElideRight, badge.width() - 10),
        )
        painter.restore()


class RowActionsDelegate(QStyledItemDelegate):
    """The last column: the row's most useful commands as small buttons while the mouse is over the row
    (or it is the only selected row). Mouse only: the same commands are in the toolbar, the menus and
    the context menu, with their keys."""

    triggered = Signal(str, str)  # action key (a WindowActions attribute), local id

    def __init__(self, view: QAbstractItemView) -> None:
        super().__init__(view)
        self.view = view
        self.hover_row = -1
        self.selected_id = ""  # the one selected transfer (the window keeps it current); "": none or several
        view.setMouseTracking(True)
        view.viewport().installEventFilter(self)

    def eventFilter(self, watched: object, event: QEvent) -> bool:
        if event.type() == QEvent.Type.MouseMove and isinstance(event, QMouseEvent):
            row = self.view.indexAt(event.position().toPoint()).row()
            self._set_hover(row)
        elif event.type() == QEvent.Type.Leave:
            self._set_hover(-1)
        return False

    def _set_hover(self, row: int) -> None:
        if row != self.hover_row:
            self.hover_row = row
            self.view.viewport().update()

    def buttons(self, option_rect: QRect, snap: TransferSnapshot) -> list[tuple[str, QRect]]:
        keys = hover_actions(snap)
        size = min(BUTTON, option_rect.height() - 2)
        right = option_rect.right() - 4
        top = option_rect.center().y() - size // 2 + 1
        placed = []
        for key in reversed(keys):
            rect = QRect(right - size + 1, top, size, size)
            placed.append((key, rect))
            right -= size + 2
        return list(reversed(placed))

    def _shows(self, index: Index, snap: TransferSnapshot) -> bool:
        return index.row() == self.hover_row or snap.id == self.selected_id

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        super().paint(painter, option, index)
        snap = index.data(SNAPSHOT_ROLE)
        if not isinstance(snap, TransferSnapshot) or not self._shows(index, snap):
            return
        style = _style(option)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        palette = QPalette(option.palette)
        if selected:
            text = option.palette.color(QPalette.ColorRole.HighlightedText)
            palette.setColor(QPalette.ColorRole.WindowText, text)
        for key, rect in self.buttons(option.rect, snap):
            icon_name, _tip = HOVER_ICONS[key]
            button = QStyleOptionButton()
            button.rect = rect
            button.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_AutoRaise
            button.icon = line_icon(icon_name, palette)
            button.iconSize = QSize(16, 16)
            button.palette = option.palette
            style.drawControl(QStyle.ControlElement.CE_PushButtonLabel, button, painter, option.widget)

    def key_at(self, index: Index, option_rect: QRect, pos: object) -> str | None:
        snap = index.data(SNAPSHOT_ROLE)
        if not isinstance(snap, TransferSnapshot):
            return None
        for key, rect in self.buttons(option_rect, snap):
            if rect.contains(pos):  # type: ignore[call-overload]
                return key
        return None

    def editorEvent(self, event: QEvent, model: object, option: QStyleOptionViewItem, index: Index) -> bool:
        if event.type() in (QEvent.Type.MouseButtonRelease, QEvent.Type.MouseButtonPress) and isinstance(
            event, QMouseEvent
        ):
            key = self.key_at(index, option.rect, event.position().toPoint())
            if key is None:
                return False
            if event.type() == QEvent.Type.MouseButtonRelease:
                snap = index.data(SNAPSHOT_ROLE)
                assert isinstance(snap, TransferSnapshot)
                self.triggered.emit(key, snap.id)
            return True
        if event.type() == QEvent.Type.ToolTip:
            return False
        return False

    def helpEvent(
        self, event: object, view: QAbstractItemView, option: QStyleOptionViewItem, index: Index
    ) -> bool:
        from PySide6.QtGui import QHelpEvent
        from PySide6.QtWidgets import QToolTip

        if isinstance(event, QHelpEvent):
            key = self.key_at(index, option.rect, event.pos())
            if key is not None:
                QToolTip.showText(event.globalPos(), HOVER_ICONS[key][1], view)
                return True
        return bool(super().helpEvent(event, view, option, index))  # type: ignore[arg-type]

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return QSize(2 * (BUTTON + 2) + 8, BUTTON + 4)
