"""Icons: the app icon (an SVG drawn for this project, in gui/resources), the toolbar's command icons
(the desktop theme's when it has them, else our own line icons drawn in the palette's text colour), the
queue's state icons and file-type icons (drawn here, so that they look the same everywhere).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QAbstractButton, QApplication, QWidget

from sgsend_desktop.gui.colors import error_color, is_dark, ok_color, secondary_text

RESOURCES = Path(__file__).resolve().parent / "resources"
APP_ICON_FILE = RESOURCES / "sgsend-desktop.svg"
SIZES = (16, 20, 24, 32, 48)


@cache
def app_icon() -> QIcon:
    return QIcon(str(APP_ICON_FILE))


# 24×24 line icons, stroked in currentColor (the palette's text colour when drawn).
_LINE = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
    'stroke-width="2" stroke-linecap="round" stroke-linejoin="round">{}</svg>'
)
LINE_ICONS: dict[str, str] = {
    "add-file": '<path d="M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z"/><path d="M14 3v5h5"/>'
    '<path d="M12 11v6M9 14h6"/>',
    "add-folder": '<path d="M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z"/>'
    '<path d="M12 10v6M9 13h6"/>',
    "link": '<path d="M10 13a5 5 0 0 0 7.5.5l3-3a5 5 0 0 0-7-7l-1.7 1.7"/>'
    '<path d="M14 11a5 5 0 0 0-7.5-.5l-3 3a5 5 0 0 0 7 7l1.7-1.7"/>',
    "pause": '<path d="M9 5v14M15 5v14"/>',
    "play": '<path d="M7 4.5v15l12-7.5z"/>',
    "pause-all": '<circle cx="12" cy="12" r="9"/><path d="M10 8.5v7M14 8.5v7"/>',
    "play-all": '<circle cx="12" cy="12" r="9"/><path d="M10 8.3v7.4l6-3.7z"/>',
    "cancel": '<circle cx="12" cy="12" r="9"/><path d="M9 9l6 6M15 9l-6 6"/>',
    "retry": '<path d="M20 11a8 8 0 1 0-2.3 5.7"/><path d="M20 4v7h-7"/>',
    "remove": '<path d="M4 7h16M10 11v6M14 11v6M6 7l1 12a2 2 0 0 0 2 2h6a2 2 0 0 0 2-2l1-12"/>'
    '<path d="M9 7V4h6v3"/>',
    "up": '<path d="M12 19V5M6 11l6-6 6 6"/>',
    "down": '<path d="M12 5v14M6 13l6 6 6-6"/>',
    "copy": '<rect x="9" y="9" width="11" height="11" rx="2"/>'
    '<path d="M5 15H4a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1h10a1 1 0 0 1 1 1v1"/>',
    "qr": '<rect x="3" y="3" width="7" height="7"/><rect x="14" y="3" width="7" height="7"/>'
    '<rect x="3" y="14" width="7" height="7"/><path d="M14 14h3v3h-3zM20 14v.01M14 20h.01M17 20h4v-3"/>',
    "cloud-off": '<path d="M7 18a4.5 4.5 0 0 1-.6-9A6 6 0 0 1 18 9.5a4 4 0 0 1-.5 8H7z"/>'
    '<path d="M10 11l4 4M14 11l-4 4"/>',
    "open": '<path d="M14 4h6v6M20 4l-9 9"/>'
    '<path d="M18 14v5a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1h5"/>',
    "folder": '<path d="M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z"/>',
    "unpack": '<path d="M3 8l9-5 9 5v8l-9 5-9-5z"/><path d="M12 21v-9M3 8l9 4 9-4"/>',
    "history": '<path d="M3 12a9 9 0 1 0 3-6.7"/><path d="M3 4v5h5"/><path d="M12 8v4l3 2"/>',
    "settings": '<path d="M4 6h10M18 6h2M4 12h4M12 12h8M4 18h12M20 18h0"/><circle cx="16" cy="6" r="2"/>'
    '<circle cx="10" cy="12" r="2"/><circle cx="18" cy="18" r="2"/>',
    "send": '<path d="M12 19V6M6 11l6-6 6 6"/><path d="M5 21h14"/>',
    "clear-done": '<path d="M4 6h14M4 12h9M4 18h6"/><path d="M13 17.5l2.5 2.5L21 14.5"/>',  # list, ticked off
}

# Queue state icons: 16×16, in a colour of their own (see state_icon).
_STATE = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">{}</svg>'
_RING = '<circle cx="8" cy="8" r="6.6" fill="none" stroke="currentColor" stroke-width="1.6"/>'
_DISC = '<circle cx="8" cy="8" r="7.4" fill="currentColor"/>'
STATE_ICONS: dict[str, str] = {
    "uploading": _DISC + '<path d="M8 12V4.6M4.8 7.6L8 4.4l3.2 3.2" fill="none" stroke="#fff" '
    'stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/>',
    "downloading": _DISC + '<path d="M8 4v7.4M4.8 8.4L8 11.6l3.2-3.2" fill="none" stroke="#fff" '
    'stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round"/>',
    "queued-up": _RING + '<path d="M8 11V5.6M5.8 7.6L8 5.4l2.2 2.2" fill="none" stroke="currentColor" '
    'stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round"/>',
    "queued-down": _RING + '<path d="M8 5v5.4M5.8 8.4L8 10.6l2.2-2.2" fill="none" stroke="currentColor" '
    'stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round"/>',
    "paused": _RING + '<path d="M6.4 5.5v5M9.6 5.5v5" stroke="currentColor" stroke-width="1.6" '
    'stroke-linecap="round"/>',
    "done": _DISC + '<path d="M4.6 8.3l2.3 2.3 4.5-4.8" fill="none" stroke="#fff" stroke-width="1.8" '
    'stroke-linecap="round" stroke-linejoin="round"/>',
    "failed": _DISC + '<path d="M8 4.2v4.6" stroke="#fff" stroke-width="1.9" stroke-linecap="round"/>'
    '<circle cx="8" cy="11.5" r="1.1" fill="#fff"/>',
    "cancelled": _RING + '<path d="M3.6 12.4l8.8-8.8" stroke="currentColor" stroke-width="1.6"/>',
    "reconnecting": _RING + '<path d="M10.6 6.2A3.2 3.2 0 1 0 11.2 9" fill="none" stroke="currentColor" '
    'stroke-width="1.5" stroke-linecap="round"/><path d="M11.2 3.8v2.8H8.4" fill="none" '
    'stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round"/>',
    "deleted": _RING
    + '<path d="M5.6 5.6l4.8 4.8M10.4 5.6l-4.8 4.8" stroke="currentColor" stroke-width="1.6" '
    'stroke-linecap="round"/>',
}

# The freedesktop theme names of the toolbar's commands (the desktop's own look when it has them).
THEME_NAMES: dict[str, str] = {
    "add-file": "document-new",
    "add-folder": "folder-new",
    "link": "insert-link",
    "pause": "media-playback-pause",
    "play": "media-playback-start",
    "cancel": "process-stop",
    "retry": "view-refresh",
    "remove": "edit-delete",
    "up": "go-up",
    "down": "go-down",
    "copy": "edit-copy",
    "open": "document-open",
    "folder": "folder-open",
    "history": "document-open-recent",
    "settings": "preferences-system",
    "clear-done": "edit-clear-all",
}


def _render(svg: str, color: QColor, selected: QColor | None = None) -> QIcon:
    """The icon in ``color``; with ``selected``, its Selected mode (a selected row) in that colour
    instead of the style's tint, which washed thin orange lines out on the blue selection."""
    icon = QIcon()
    modes = [(QIcon.Mode.Normal, color)] + ([(QIcon.Mode.Selected, selected)] if selected else [])
    for mode, paint in modes:
        renderer = QSvgRenderer(QByteArray(svg.replace("currentColor", paint.name()).encode("utf-8")))

        def draw(painter: QPainter, _pixels: int, renderer: QSvgRenderer = renderer) -> None:
            renderer.render(painter)

        _add_pixmaps(icon, draw, mode)
    return icon


def _add_pixmaps(icon: QIcon, paint: Callable[[QPainter, int], None],
                 mode: QIcon.Mode = QIcon.Mode.Normal) -> None:
    """``paint(painter, pixels)`` once per size of SIZES, at 1x and 2x, into ``icon``'s ``mode``."""
    for size in SIZES:
        for ratio in (1, 2):
            pixmap = QPixmap(size * ratio, size * ratio)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
            paint(painter, size * ratio)
            painter.end()
            pixmap.setDevicePixelRatio(ratio)
            icon.addPixmap(pixmap, mode)


_cache: dict[tuple[str, str, str], QIcon] = {}


def line_icon(name: str, palette: QPalette | None = None) -> QIcon:
    """One of LINE_ICONS drawn in the palette's text colour (cached per colour)."""
    color = (palette or QApplication.palette()).color(QPalette.ColorRole.WindowText)
    key = ("line", name, color.name())
    if key not in _cache:
        _cache[key] = _render(_LINE.format(LINE_ICONS[name]), color)
    return _cache[key]


def command_icon(name: str, palette: QPalette | None = None) -> QIcon:
    """The desktop theme's icon for a command, else ours."""
    theme = THEME_NAMES.get(name)
    if theme and QIcon.hasThemeIcon(theme):
        return QIcon.fromTheme(theme)
    return line_icon(name, palette)


def state_color(kind: str, palette: QPalette | None = None) -> QColor:
    palette = palette or QApplication.palette()
    if kind == "failed":
        return error_color(palette)
    if kind == "done":
        return ok_color(palette)
    if kind in ("uploading", "downloading"):
        highlight = palette.color(QPalette.ColorRole.Highlight)
        return highlight if not is_dark(palette) else highlight.lighter(130)
    if kind == "reconnecting":
        return QColor(176, 110, 0) if not is_dark(palette) else QColor(240, 180, 70)
    return secondary_text(palette)


def state_icon(kind: str, palette: QPalette | None = None) -> QIcon:
    """A state's icon. On a selected row a filled disc keeps its colour (its white glyph reads on any
    selection); an outline (queued, paused, reconnecting…) takes the selection's text colour."""
    color = state_color(kind, palette)
    filled = STATE_ICONS[kind].startswith(_DISC)
    selected = color if filled else (palette or QApplication.palette()).color(
        QPalette.ColorRole.HighlightedText)
    key = ("state", kind, f"{color.name()}/{selected.name()}")
    if key not in _cache:
        _cache[key] = _render(_STATE.format(STATE_ICONS[kind]), color, selected)
    return _cache[key]


# --- file types ----------------------------------------------------------------------------------
FILE_KINDS: dict[str, tuple[str, ...]] = {
    "pdf": ("pdf",),
    "image": ("jpg", "jpeg", "png", "gif", "webp", "heic", "heif", "bmp", "tif", "tiff", "svg", "raw", "cr2"),
    "video": ("mp4", "mov", "mkv", "avi", "webm", "m4v", "wmv", "mpg", "mpeg"),
    "audio": ("mp3", "wav", "flac", "m4a", "ogg", "aac", "opus", "aiff"),
    "archive": ("zip", "7z", "rar", "tar", "gz", "tgz", "bz2", "xz", "zst", "dmg", "iso"),
    "document": ("doc", "docx", "odt", "rtf", "pages", "md", "txt", "tex", "epub"),
    "sheet": ("xls", "xlsx", "ods", "csv", "numbers", "tsv"),
    "slides": ("ppt", "pptx", "odp", "key"),
    "code": (
        "py",
        "js",
        "ts",
        "json",
        "html",
        "css",
        "c",
        "h",
        "cpp",
        "rs",
        "go",
        "java",
        "sh",
        "yaml",
        "yml",
        "xml",
        "toml",
        "sql",
    ),
}
KIND_COLORS: dict[str, QColor] = {
    "pdf": QColor(200, 48, 40),
    "image": QColor(126, 70, 196),
    "video": QColor(214, 96, 20),
    "audio": QColor(196, 50, 120),
    "archive": QColor(150, 104, 30),
    "document": QColor(40, 100, 200),
    "sheet": QColor(30, 130, 70),
    "slides": QColor(206, 80, 40),
    "code": QColor(20, 124, 134),
    "file": QColor(110, 116, 124),
    "folder": QColor(60, 120, 200),
}


def file_kind(name: str) -> tuple[str, str]:
    """(kind, label) for a file name: ("pdf", "PDF"), ("image", "JPG"), ("file", "") ..."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name.strip(".") else ""
    for kind, extensions in FILE_KINDS.items():
        if ext in extensions:
            return kind, ext.upper()[:4]
    return "file", ext.upper()[:4]


def _paint_file(painter: QPainter, size: float, kind: str, label: str, palette: QPalette) -> None:
    dark = is_dark(palette)
    paper = QColor(250, 250, 250) if not dark else QColor(70, 74, 80)
    edge = QColor(150, 154, 160) if not dark else QColor(150, 156, 164)
    accent = KIND_COLORS[kind]
    s = size
    if kind == "folder":
        body = QPainterPath()
        body.addRoundedRect(QRectF(s * 0.08, s * 0.28, s * 0.84, s * 0.58), s * 0.08, s * 0.08)
        tab = QPainterPath()
        tab.addRoundedRect(QRectF(s * 0.08, s * 0.18, s * 0.38, s * 0.2), s * 0.06, s * 0.06)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(accent.darker(115))
        painter.drawPath(tab)
        painter.setBrush(accent)
        painter.drawPath(body)
        if label:
            _paint_label(painter, QRectF(s * 0.12, s * 0.44, s * 0.76, s * 0.3), label, QColor(255, 255, 255))
        return
    page = QPainterPath()
    left, top, right, bottom, fold = s * 0.18, s * 0.06, s * 0.82, s * 0.94, s * 0.2
    page.moveTo(left, top)
    page.lineTo(right - fold, top)
    page.lineTo(right, top + fold)
    page.lineTo(right, bottom)
    page.lineTo(left, bottom)
    page.closeSubpath()
    painter.setPen(QPen(edge, max(1.0, s / 32)))
    painter.setBrush(paper)
    painter.drawPath(page)
    corner = QPainterPath()
    corner.moveTo(right - fold, top)
    corner.lineTo(right - fold, top + fold)
    corner.lineTo(right, top + fold)
    painter.drawPath(corner)
    band = QRectF(s * 0.06, s * 0.5, s * 0.7, s * 0.3)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(accent)
    painter.drawRoundedRect(band, s * 0.05, s * 0.05)
    _paint_label(painter, band, label, QColor(255, 255, 255))


def _paint_label(painter: QPainter, rect: QRectF, label: str, color: QColor) -> None:
    if not label:
        return
    font = QFont(QApplication.font())
    font.setBold(True)
    font.setPixelSize(max(5, round(rect.height() * (0.78 if len(label) <= 3 else 0.62))))
    painter.setFont(font)
    painter.setPen(color)
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)


def file_icon(name: str, folder: bool = False, palette: QPalette | None = None) -> QIcon:
    """A page with a coloured band naming the file's type (PDF, JPG, ZIP...), or a folder."""
    palette = palette or QApplication.palette()
    kind, label = ("folder", "") if folder else file_kind(name)
    key = ("file", f"{kind}:{label}", palette.color(QPalette.ColorRole.Window).name())
    if key not in _cache:
        icon = QIcon()
        # the same picture on a selected row: the style's tint turned the type's band a muddy olive
        def paint(painter: QPainter, pixels: int) -> None:
            _paint_file(painter, pixels, kind, label, palette)

        for mode in (QIcon.Mode.Normal, QIcon.Mode.Selected):
            _add_pixmaps(icon, paint, mode)
        _cache[key] = icon
    return _cache[key]


def clear_cache() -> None:
    """After a palette change: icons are drawn again in the new colours."""
    _cache.clear()


def set_line_icon(button: QAbstractButton, name: str) -> None:
    """Give ``button`` one of our line icons, remembered so that refresh_line_icons redraws it."""
    button.setProperty("line_icon", name)
    button.setIcon(line_icon(name, button.palette()))


def refresh_line_icons(root: QWidget) -> None:
    """After a palette change: the buttons under ``root`` get their line icons in the new colours."""
    for button in root.findChildren(QAbstractButton):
        name = button.property("line_icon")
        if isinstance(name, str) and name in LINE_ICONS:
            button.setIcon(line_icon(name, button.palette()))
