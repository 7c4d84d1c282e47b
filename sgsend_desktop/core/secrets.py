"""Keys needed to resume a transfer: in the OS keyring, or a 0600 file when there is no usable keyring.

Keyring entries use service ``sgsend-desktop`` and the transfer's local id as the user name. When the
keyring has no usable backend (headless Linux, CI with ``keyring.backends.fail.Keyring``) the keys go
to ``DATA_DIR/secrets.json``, created with mode 0600 (owner read/write only) and rewritten atomically.
The journal never holds a key.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import keyring
import keyring.errors

from sgsend_desktop.core.config import SECRETS_FILE

log = logging.getLogger(__name__)
SERVICE = "sgsend-desktop"


def keyring_usable() -> bool:
    """True when the active keyring backend can store secrets (not the 'fail' or 'null' backend)."""
    try:
        backend = keyring.get_keyring()
    except Exception:  # pragma: no cover - broken keyring configuration
        return False
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    if "fail" in name or "null" in name:
        return False
    try:
        return float(backend.priority) > 0
    except Exception:
        return False


class SecretStore:
    """get/set/delete the key text (base64url key or friendly token) of a transfer."""

    def __init__(self, data_dir: Path, use_keyring: bool | None = None) -> None:
        self._file = data_dir / SECRETS_FILE
        self._lock = threading.Lock()
        self._use_keyring = keyring_usable() if use_keyring is None else use_keyring
        log.info("secrets stored in %s", "the OS keyring" if self._use_keyring else self._file)

    @property
    def location(self) -> str:
        return "keyring" if self._use_keyring else str(self._file)

    def set(self, local_id: str, key_text: str) -> None:
        if self._use_keyring:
            try:
                keyring.set_password(SERVICE, local_id, key_text)
                return
            except keyring.errors.KeyringError:
                log.warning("keyring refused the secret; using the fallback file")
                self._use_keyring = False
        with self._locked():
            data = self._read()
            data[local_id] = key_text
            self._write(data)

    def get(self, local_id: str) -> str | None:
        if self._use_keyring:
            try:
                value = keyring.get_password(SERVICE, local_id)
                if value is not None:
                    return value
            except keyring.errors.KeyringError:
                pass
        with self._lock:
            return self._read().get(local_id)

    def get_many(self, local_ids: Iterable[str]) -> dict[str, str]:
        """The stored key texts of these transfers, reading the fallback file once for all of them (one
        read per transfer made a launch with 2000 finished sends quadratic: 1.5 s)."""
        found: dict[str, str] = {}
        wanted = list(local_ids)
        if self._use_keyring:
            for local_id in wanted:
                with contextlib.suppress(keyring.errors.KeyringError):
                    value = keyring.get_password(SERVICE, local_id)
                    if value is not None:
                        found[local_id] = value
        missing = [local_id for local_id in wanted if local_id not in found]
        if missing:
            with self._lock:
                stored = self._read()
            found.update((local_id, stored[local_id]) for local_id in missing if local_id in stored)
        return found

    def delete(self, local_id: str) -> None:
        self.delete_many([local_id])

    def delete_many(self, local_ids: Iterable[str]) -> None:
        """Forget these keys, with one rewrite of the fallback file."""
        doomed = list(local_ids)
        if self._use_keyring:
            for local_id in doomed:
                with contextlib.suppress(keyring.errors.KeyringError):
                    keyring.delete_password(SERVICE, local_id)
        with self._locked():
            data = self._read()
            dropped = [data.pop(local_id, None) for local_id in doomed]
            if any(value is not None for value in dropped):
                self._write(data)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Read-modify-write under a lock shared with other processes (the GUI and a CLI command use
        the same file): without it, one process's write drops the key the other just added."""
        with self._lock:
            fd = os.open(self._file.with_name(self._file.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)  # releases the lock

    def _read(self) -> dict[str, str]:
        try:
            with open(self._file, encoding="utf-8") as handle:
                loaded = json.load(handle)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            log.warning("secrets file %s unreadable; treating it as empty", self._file)
            return {}
        return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}

    def _write(self, data: dict[str, str]) -> None:
        temp = self._file.with_name(self._file.name + f".{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(data))  # dumps is C; dump to a file encodes token by token in Python
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        os.replace(temp, self._file)
