"""The app's preferences in QSettings (org "SGraph", app "SGraph Send Desktop").

With the default data dir they live where the platform keeps an app's settings (e.g.
``~/.config/SGraph/SGraph Send Desktop.conf``); with another data dir (``SGSEND_DATA_DIR`` or
``--data-dir``) in ``DATA_DIR/preferences.ini``, so that each data dir is a separate setup (its own
server, token, folder and window). The access token is a secret and lives in the OS keyring (or the
0600 fallback file), never in QSettings. Tests point QSettings at a temp dir with ``use_settings_dir``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

from sgsend_desktop.core.secrets import SecretStore

ORGANIZATION = "SGraph"
APPLICATION = "SGraph Send Desktop"
TOKEN_SECRET_ID = "gui-access-token"
PREFERENCES_FILE = "preferences.ini"


def default_data_dir() -> Path:
    import platformdirs

    from sgsend_desktop.core.config import APP_NAME

    return Path(platformdirs.user_data_dir(APP_NAME))


def own_preferences_file(data_dir: Path) -> Path | None:
    """Where a data dir other than the default keeps its preferences (None: the platform's place)."""
    try:
        if data_dir.resolve() == default_data_dir().resolve():
            return None
    except OSError:
        pass
    return data_dir / PREFERENCES_FILE


def use_settings_dir(directory: Path) -> None:
    """Store every QSettings of this process as INI files under ``directory`` (tests, self-test)."""
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(directory))


def default_download_dir() -> Path:
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DownloadLocation)
    return Path(location) if location else Path.home() / "Downloads"


@dataclass
class Preferences:
    server_url: str = ""  # empty: the embedded local server
    share_on_lan: bool = False  # the local server binds the LAN address: links open on the local network
    workers: int = 4
    upload_limit_kbps: int = 0  # KB/s, 0 = unlimited
    download_limit_kbps: int = 0
    download_dir: str = ""
    close_to_tray: bool = True
    resume_automatically: bool = False

    @property
    def uses_local_server(self) -> bool:
        return not self.server_url.strip()

    @property
    def upload_limit_bps(self) -> int | None:
        return self.upload_limit_kbps * 1024 or None

    @property
    def download_limit_bps(self) -> int | None:
        return self.download_limit_kbps * 1024 or None

    def download_path(self) -> Path:
        return Path(self.download_dir) if self.download_dir else default_download_dir()


class AppSettings:
    """Typed access to QSettings plus the token in the secret store."""

    def __init__(self, data_dir: Path) -> None:
        own = own_preferences_file(data_dir)
        if own is not None:
            self._qs = QSettings(str(own), QSettings.Format.IniFormat)
        else:
            self._qs = QSettings(
                QSettings.defaultFormat(), QSettings.Scope.UserScope, ORGANIZATION, APPLICATION
            )
        self._data_dir = data_dir

    @property
    def qsettings(self) -> QSettings:
        return self._qs

    def load(self) -> Preferences:
        d = Preferences()
        return Preferences(
            server_url=str(self._qs.value("server/url", d.server_url)),
            share_on_lan=self._bool("server/share_lan", d.share_on_lan),
            workers=self._int("transfers/workers", d.workers),
            upload_limit_kbps=self._int("transfers/upload_limit_kbps", d.upload_limit_kbps),
            download_limit_kbps=self._int("transfers/download_limit_kbps", d.download_limit_kbps),
            download_dir=str(self._qs.value("transfers/download_dir", d.download_dir)),
            close_to_tray=self._bool("window/close_to_tray", d.close_to_tray),
            resume_automatically=self._bool("transfers/resume_automatically", d.resume_automatically),
        )

    def save(self, prefs: Preferences) -> None:
        self._qs.setValue("server/url", prefs.server_url.strip().rstrip("/"))
        self._qs.setValue("server/share_lan", prefs.share_on_lan)
        self._qs.setValue("transfers/workers", prefs.workers)
        self._qs.setValue("transfers/upload_limit_kbps", prefs.upload_limit_kbps)
        self._qs.setValue("transfers/download_limit_kbps", prefs.download_limit_kbps)
        self._qs.setValue("transfers/download_dir", prefs.download_dir)
        self._qs.setValue("window/close_to_tray", prefs.close_to_tray)
        self._qs.setValue("transfers/resume_automatically", prefs.resume_automatically)
        self._qs.sync()

    # --- secrets (call off the GUI thread: the keyring may block) ------------------------------
    def load_token(self) -> str | None:
        return SecretStore(self._data_dir).get(TOKEN_SECRET_ID)

    def save_token(self, token: str | None) -> None:
        store = SecretStore(self._data_dir)
        if token:
            store.set(TOKEN_SECRET_ID, token)
        else:
            store.delete(TOKEN_SECRET_ID)

    # --- window state and one-time notices -----------------------------------------------------
    def geometry(self) -> QByteArray | None:
        value = self._qs.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def window_state(self) -> QByteArray | None:
        value = self._qs.value("window/state")
        return value if isinstance(value, QByteArray) else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self._qs.setValue("window/geometry", geometry)
        self._qs.setValue("window/state", state)
        self._qs.sync()

    def last_send_dir(self) -> str:
        """Where the Add files / Add folder dialogs open: the folder of the last pick, while it exists;
        else the home folder (not the process's working directory)."""
        value = self._qs.value("dialogs/last_send_dir")
        if isinstance(value, str) and value and Path(value).is_dir():
            return value
        return str(Path.home())

    def set_last_send_dir(self, folder: Path) -> None:
        self._qs.setValue("dialogs/last_send_dir", str(folder))

    def flag(self, name: str) -> bool:
        return self._bool(f"notices/{name}", False)

    def set_flag(self, name: str) -> None:
        self._qs.setValue(f"notices/{name}", True)

    def _int(self, key: str, default: int) -> int:
        try:
            return int(str(self._qs.value(key, default)))
        except (TypeError, ValueError):
            return default

    def _bool(self, key: str, default: bool) -> bool:
        value = self._qs.value(key, default)
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes")
        return bool(value)
