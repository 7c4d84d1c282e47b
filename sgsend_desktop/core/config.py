"""Where the desktop client keeps its state, and which server it talks to.

* data dir: ``SGSEND_DATA_DIR`` or platformdirs' ``user_data_dir("sgsend-desktop")``;
* server: ``SGSEND_SERVER`` (none means: start the embedded local server);
* access token: ``SGSEND_TOKEN``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import platformdirs

APP_NAME = "sgsend-desktop"
JOURNAL_FILE = "journal.sqlite3"
SECRETS_FILE = "secrets.json"


def data_dir() -> Path:
    """The data dir, created with owner-only permissions if missing."""
    configured = os.environ.get("SGSEND_DATA_DIR")
    path = Path(configured) if configured else Path(platformdirs.user_data_dir(APP_NAME))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):  # a folder made earlier (or by hand) 0755: the journal is secret
        if path.stat().st_uid == os.geteuid():
            path.chmod(0o700)
    return path


def journal_path(base: Path) -> Path:
    return base / JOURNAL_FILE


def embedded_server_dir(base: Path) -> Path:
    return base / "server"


def temp_dir(base: Path) -> Path:
    """Scratch space for zipped folders (removed when their transfer ends)."""
    path = base / "tmp"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):  # a folder made earlier (or by hand) 0755: the journal is secret
        if path.stat().st_uid == os.geteuid():
            path.chmod(0o700)
    return path


def configured_server() -> str | None:
    value = os.environ.get("SGSEND_SERVER", "").strip()
    return value.rstrip("/") or None


def configured_token() -> str | None:
    value = os.environ.get("SGSEND_TOKEN", "").strip()
    return value or None
