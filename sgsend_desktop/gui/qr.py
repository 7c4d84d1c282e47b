"""QR codes of share links as QImages (qrcode's matrix painted directly: no PIL needed)."""

from __future__ import annotations

import qrcode
import qrcode.constants
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage, QPainter


def qr_matrix(text: str) -> list[list[bool]]:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=4)
    code.add_data(text)
    code.make(fit=True)
    return [[bool(cell) for cell in row] for row in code.get_matrix()]


def qr_image(text: str, module_px: int = 4) -> QImage:
    """Black on white whatever the theme: scanners need the contrast."""
    matrix = qr_matrix(text)
    side = len(matrix) * module_px
    image = QImage(side, side, QImage.Format.Format_RGB32)
    image.fill(QColor(Qt.GlobalColor.white))
    painter = QPainter(image)
    try:
        black = QColor(Qt.GlobalColor.black)
        for y, row in enumerate(matrix):
            x = 0
            while x < len(row):  # paint runs of dark modules as one rectangle
                if not row[x]:
                    x += 1
                    continue
                start = x
                while x < len(row) and row[x]:
                    x += 1
                painter.fillRect(start * module_px, y * module_px, (x - start) * module_px, module_px, black)
    finally:
        painter.end()
    return image
