"""Issue 9, item 12: a link opened by launching the app (e.g. an sgsend:// link from the browser) must not
keep its key in /proc/PID/cmdline, which every user of the computer can read, for the life of the app."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from sgsend_desktop.core import crypto
from sgsend_desktop.core.links import make_link
from tests.gui.real_app import REPO_ROOT


def _received_ids(journal: Path) -> list[str]:
    if not journal.exists():
        return []
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=1) as db:
            rows = db.execute("SELECT transfer_id FROM transfers WHERE direction='receive'")
            return [row[0] for row in rows]
    except sqlite3.Error:
        return []


def test_the_running_app_holds_the_links_key_in_a_pipe_not_in_its_command_line(tmp_path: Path) -> None:
    key = crypto.generate_key()
    link = make_link("http://127.0.0.1:9", "0123456789ab", key).combined()  # port 9: nobody answers
    env = {**os.environ, "SGSEND_DATA_DIR": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "QT_QPA_PLATFORM": "offscreen", "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
           "PYTHONPATH": str(REPO_ROOT)}
    env.pop("SGSEND_SERVER", None)
    app = subprocess.Popen([sys.executable, "-m", "sgsend_desktop.gui", link], env=env, cwd=str(REPO_ROOT),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cmdline = Path(f"/proc/{app.pid}/cmdline")
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _received_ids(tmp_path / "data" / "journal.sqlite3"):
            assert app.poll() is None, app.stderr.read().decode() if app.stderr else ""
            time.sleep(0.1)
        assert _received_ids(tmp_path / "data" / "journal.sqlite3") == ["0123456789ab"]  # the link arrived
        shown = cmdline.read_bytes()
        assert b"--links-fd" in shown
        assert crypto.encode_key(key).encode() not in shown and b"0123456789ab" not in shown
    finally:
        app.terminate()
        app.wait(30)
