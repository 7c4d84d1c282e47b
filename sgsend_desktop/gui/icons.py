"""The app icon (an SVG drawn for this project, shipped in gui/resources)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QIcon

RESOURCES = Path(__file__).resolve().parent / "resources"
APP_ICON_FILE = RESOURCES / "sgsend-desktop.svg"


@cache
def app_icon() -> QIcon:
    return QIcon(str(APP_ICON_FILE))
