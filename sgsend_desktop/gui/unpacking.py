"""Unpacking a received zip off the GUI thread (``core/unzip.unpack_zip``), with progress and a summary."""

from __future__ import annotations

import html
import zipfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QUrl, Signal

from sgsend_desktop.core.unzip import UnzipResult, unpack_zip
from sgsend_desktop.gui.background import BackgroundRunner
from sgsend_desktop.gui.formatting import format_size, plural

SHOWN_SKIPPED = 8


class ZipUnpacker(QObject):
    """``progress`` comes from the worker thread (queued to the GUI thread); the callbacks run on it."""

    progress = Signal(str, object, object)  # local id, bytes unpacked so far, bytes in all (0: unknown)

    def __init__(self, runner: BackgroundRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner

    def start(
        self,
        local_id: str,
        archive: Path,
        folder: Path,
        on_done: Callable[[UnzipResult], None],
        on_error: Callable[[BaseException], None],
    ) -> None:
        def work() -> UnzipResult:
            try:
                with zipfile.ZipFile(archive) as zf:
                    total = sum(info.file_size for info in zf.infolist())
            except Exception:  # unpack_zip says why, in its own words
                total = 0
            self.progress.emit(local_id, 0, total)
            return unpack_zip(
                archive, folder, progress=lambda done: self.progress.emit(local_id, done, total)
            )

        self.runner.run(work, on_result=on_done, on_error=on_error)


def result_html(result: UnzipResult) -> str:
    """Where it went (with a link that opens the folder), and what was skipped and why."""
    text = (
        f"Unpacked {plural(result.files, 'file')} ({format_size(result.bytes_written)}) into "
        f"{html.escape(str(result.folder))}. "
        f'<a href="{QUrl.fromLocalFile(str(result.folder)).toString()}">Open the folder</a>'
    )
    if result.skipped:
        shown = "; ".join(
            f"{html.escape(name)} ({html.escape(why)})" for name, why in result.skipped[:SHOWN_SKIPPED]
        )
        more = (
            f"; and {len(result.skipped) - SHOWN_SKIPPED} more" if len(result.skipped) > SHOWN_SKIPPED else ""
        )
        text += f"<br>Not unpacked ({len(result.skipped)}): {shown}{more}."
    return text
