"""The transfer queue's table view."""

from __future__ import annotations

from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QTableView


class QueueView(QTableView):
    """A table that keeps its current row in view when it gets shorter.

    The details panel below it grows and shrinks with what the selected transfer shows (a finished
    receive adds its "Saved to" line), which took height from the table and left the selected row at the
    bottom half hidden (seen using the window). A row the user had scrolled away from is left alone."""

    def resizeEvent(self, event: QResizeEvent) -> None:
        current = self.currentIndex()
        old_height = event.oldSize().height()
        was_shown = False
        if current.isValid() and 0 <= event.size().height() < old_height:
            rect = self.visualRect(current)
            was_shown = rect.isValid() and rect.bottom() > 0 and rect.top() < old_height
        super().resizeEvent(event)
        if was_shown and not self.viewport().rect().contains(self.visualRect(current)):
            self.scrollTo(current, QAbstractItemView.ScrollHint.EnsureVisible)
