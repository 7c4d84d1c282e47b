"""Where and how big the window opens: a comfortable size that still fits the screen it is on.

A 1366×768 laptop at 150 % scaling gives a window 910×512 device-independent pixels at most, less the
panel; a fixed 1000×720 there opened with its status bar and right edge off the screen."""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

COMFORTABLE = QSize(1000, 720)
SMALLEST = QSize(640, 480)
SCREEN_SHARE = 0.9  # leaves room for the window frame and shows it is a window, not the desktop


def room_for(widget: QWidget) -> QRect | None:
    """The part of the widget's screen (or the primary one) that windows may use."""
    screen = widget.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else None


def _share_of(room: QRect) -> QSize:
    return QSize(int(room.width() * SCREEN_SHARE), int(room.height() * SCREEN_SHARE))


def smallest_size(room: QRect) -> QSize:
    """The window's minimum size: never more than fits the screen."""
    return SMALLEST.boundedTo(_share_of(room))


def first_geometry(room: QRect) -> QRect:
    """A first launch: the comfortable size, or what fits the screen, centred on it."""
    size = COMFORTABLE.boundedTo(_share_of(room))
    rect = QRect(room.topLeft(), size)
    rect.moveCenter(room.center())
    return rect
