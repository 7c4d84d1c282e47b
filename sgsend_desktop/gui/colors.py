"""Colours that keep their contrast on light and dark palettes (WCAG 2.1: text ≥ 4.5:1).

Secondary text used to be drawn with the *disabled* colour (1.6–1.9:1 on common palettes); these
helpers mix the palette's text colour towards its background only as far as the contrast allows.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QWidget

AA = 4.5  # WCAG AA for normal text
ERROR_BASE = QColor(214, 69, 65)
OK_BASE = QColor(46, 160, 67)


def _channel(value: float) -> float:
    value /= 255
    return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4


def luminance(color: QColor) -> float:
    return 0.2126 * _channel(color.red()) + 0.7152 * _channel(color.green()) + 0.0722 * _channel(color.blue())


def contrast(a: QColor, b: QColor) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def is_dark(palette: QPalette) -> bool:
    return luminance(palette.color(QPalette.ColorRole.Window)) < 0.3


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


def _backgrounds(palette: QPalette) -> list[QColor]:
    return [
        palette.color(QPalette.ColorRole.Window),
        palette.color(QPalette.ColorRole.Base),
        palette.color(QPalette.ColorRole.AlternateBase),
    ]


def secondary_text(palette: QPalette, minimum: float = AA + 0.2) -> QColor:
    """The text colour mixed towards the window colour as far as ``minimum`` contrast allows (on the
    window, base and alternate base colours alike)."""
    text = palette.color(QPalette.ColorRole.WindowText)
    window = palette.color(QPalette.ColorRole.Window)
    best = text
    for step in range(1, 11):
        candidate = _mix(text, window, step * 0.05)
        if all(contrast(candidate, bg) >= minimum for bg in _backgrounds(palette)):
            best = candidate
        else:
            break
    return best


def readable(base: QColor, palette: QPalette, minimum: float = AA + 0.2) -> QColor:
    """``base`` darkened (light palette) or lightened (dark palette) until it reads on the backgrounds."""
    toward = QColor(0, 0, 0) if not is_dark(palette) else QColor(255, 255, 255)
    for step in range(0, 21):
        candidate = _mix(base, toward, step * 0.05)
        if all(contrast(candidate, bg) >= minimum for bg in _backgrounds(palette)):
            return candidate
    return palette.color(QPalette.ColorRole.WindowText)


def error_color(palette: QPalette | None = None) -> QColor:
    return readable(ERROR_BASE, palette or QApplication.palette())


def ok_color(palette: QPalette | None = None) -> QColor:
    return readable(OK_BASE, palette or QApplication.palette())


TONES = ("secondary", "error")


class ToneLabel(QLabel):
    """A label in a tone ("secondary" or "error") whose colour follows the palette and keeps AA contrast."""

    def __init__(self, text: str = "", tone: str = "secondary", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        if tone not in TONES:
            raise ValueError(f"unknown tone {tone!r}")
        self.tone = tone
        self._applying = False
        self._apply()

    def _apply(self) -> None:
        self._applying = True
        try:
            source = QApplication.palette(self)
            color = secondary_text(source) if self.tone == "secondary" else error_color(source)
            palette = self.palette()
            palette.setColor(QPalette.ColorRole.WindowText, color)
            palette.setColor(QPalette.ColorRole.Text, color)
            self.setPalette(palette)
        finally:
            self._applying = False

    def text_color(self) -> QColor:
        return self.palette().color(QPalette.ColorRole.WindowText)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange) and not (
            self._applying
        ):
            self._apply()
