"""The PySide6 6.12.0 / CPython 3.11 refcount bug (issue 8): the installed versions must not have it.

The repro has no app code: a table model whose data() returns None for non-display roles, read
10 000 times through QModelIndex.data. On a broken combination the interpreter aborts (exit 134,
"none_dealloc"), so it runs in a child process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from sgsend_desktop.gui.qt_guard import READS, broken_pyside_message, none_references_lost

REPRO = textwrap.dedent("""
    import sys
    from PySide6.QtCore import QAbstractTableModel, QCoreApplication, QModelIndex, Qt

    class Model(QAbstractTableModel):
        def rowCount(self, parent=QModelIndex()):
            return 3
        def columnCount(self, parent=QModelIndex()):
            return 3
        def data(self, index, role=Qt.ItemDataRole.DisplayRole):
            return "x" if role == Qt.ItemDataRole.DisplayRole else None

    app = QCoreApplication([])
    model = Model()
    index = model.index(1, 1)
    before = sys.getrefcount(None)
    for _ in range(10_000):
        index.data(Qt.ItemDataRole.ToolTipRole)
    print(before - sys.getrefcount(None))
""")


def test_reading_none_from_data_10000_times_neither_aborts_nor_leaks() -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-c", REPRO], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, f"the repro aborted (exit {done.returncode}): {done.stderr[-500:]}"
    assert int(done.stdout.strip()) < 50, "C++ reads of a None data() lose references to None"


def test_the_startup_guard_sees_a_sound_pyside(qapp: object) -> None:
    assert none_references_lost() < READS // 2
    assert broken_pyside_message() is None
