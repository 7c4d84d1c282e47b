"""A check for the PySide6 bug that once aborted the app mid-transfer.

PySide6 6.12.0 on CPython < 3.12 drops one reference to ``None`` every time C++ reads a Python
``data()`` that returns ``None``; the queue view does that hundreds of times a second, and after ~40 s
the interpreter aborts with ``Fatal Python error: none_dealloc``. The project's dependency markers keep
that combination out of a normal install; this check catches it anyway (an old venv, a distro package)
at startup and in ``--self-test``, after a few hundred reads — far from the abort.
"""

from __future__ import annotations

import sys
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

READS = 300


class _NoneModel(QAbstractTableModel):
    """A 1×1 model whose data() returns None for every role but DisplayRole, like the queue model."""

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 1

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 1

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        return "x" if role == Qt.ItemDataRole.DisplayRole else None


def none_references_lost(reads: int = READS) -> int:
    """How many references to None C++ reads of a None-returning data() lose (0 on a sound PySide6)."""
    model = _NoneModel()
    index = model.index(0, 0)
    before = sys.getrefcount(None)
    for _ in range(reads):
        index.data(Qt.ItemDataRole.ToolTipRole)
    lost = before - sys.getrefcount(None)
    return max(0, lost)


def broken_pyside_message() -> str | None:
    """One sentence when the installed PySide6 has the None refcount bug, else None."""
    lost = none_references_lost()
    if lost < READS // 2:
        return None
    import PySide6

    return (f"PySide6 {PySide6.__version__} on Python {sys.version.split()[0]} has a known bug that "
            f"crashes the app during transfers; install another PySide6 version "
            f"(pip install 'PySide6-Essentials!=6.12.*') or use Python 3.12 or newer.")
