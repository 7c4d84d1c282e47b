"""The transfer queue's table view."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QTableView, QWidget


class QueueView(QTableView):
    """A table that keeps its current row in view when it gets shorter, and that drops its less needed
    columns when it gets too narrow for them.

    The details panel below it grows and shrinks with what the selected transfer shows (a finished
    receive adds its "Saved to" line), which took height from the table and left the selected row at the
    bottom half hidden (seen using the window). A row the user had scrolled away from is left alone.

    In a narrow window (640 px, or a laptop at 150 %) the columns' widths added up to more than the
    table and it scrolled sideways, the speed and time left off to the right; those columns now give way
    (their figures stay in the details panel and the totals line) and come back when there is room."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._give_way: list[int] = []
        self._stretch_room = 0
        self._stretch_column = -1
        self._hidden_widths: dict[int, int] = {}  # a hidden section's size reads 0

    def set_columns_that_give_way(
        self, columns: Sequence[int], stretch_column: int, stretch_room: int
    ) -> None:
        """``columns`` are hidden in this order while the others and ``stretch_room`` pixels for the
        stretching ``stretch_column`` do not fit the table's width."""
        self._give_way = list(columns)
        self._stretch_column = stretch_column
        self._stretch_room = stretch_room
        self.fit_columns()

    def fit_columns(self) -> None:
        header = self.horizontalHeader()
        room = self.viewport().width()
        if not self._give_way or room <= 0:
            return
        hidden: set[int] = set()
        for column in self._give_way:
            if self._needed(hidden) <= room:
                break
            hidden.add(column)
        for column in self._give_way:
            if header.isSectionHidden(column) == (column in hidden):
                continue
            if column in hidden:
                self._hidden_widths[column] = header.sectionSize(column)
            header.setSectionHidden(column, column in hidden)  # Qt gives it its width back when shown

    def _needed(self, hidden: set[int]) -> int:
        header = self.horizontalHeader()
        width = self._stretch_room
        for column in range(header.count()):
            if column == self._stretch_column or column in hidden:
                continue
            if header.isSectionHidden(column):
                width += self._hidden_widths.get(column, 0)  # 0: hidden for another reason
            else:
                width += header.sectionSize(column)
        return width

    def resizeEvent(self, event: QResizeEvent) -> None:
        current = self.currentIndex()
        old_height = event.oldSize().height()
        was_shown = False
        if current.isValid() and 0 <= event.size().height() < old_height:
            rect = self.visualRect(current)
            was_shown = rect.isValid() and rect.bottom() > 0 and rect.top() < old_height
        super().resizeEvent(event)
        self.fit_columns()
        if was_shown and not self.viewport().rect().contains(self.visualRect(current)):
            self.scrollTo(current, QAbstractItemView.ScrollHint.EnsureVisible)
