"""Which process owns a running transfer: its pid, proven alive by a lock file the owner holds.

A bare pid is not enough: after a reboot (or simply over time) an unrelated process can get the same
pid, and a transfer left "uploading" by a crashed owner would look owned forever and never resume.
The OS drops an ``flock`` when its process dies (``kill -9`` and power loss included), so "the lock
file of that pid is locked" is the liveness test. Where ``fcntl`` does not exist (Windows) we fall
back to asking whether the pid exists.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_claims: dict[Path, tuple[int, int]] = {}  # lock path -> (fd, engines of this process using it)
_claims_lock = threading.Lock()


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class OwnerLock:
    """One per engine: ``claim()`` at start, ``release()`` at close; ``is_alive(pid)`` for others'."""

    def __init__(self, data_dir: Path) -> None:
        self._dir = Path(data_dir) / "owners"
        self._path = self._dir / f"{os.getpid()}.lock"
        self._claimed = False

    def claim(self) -> None:
        if self._claimed or fcntl is None:
            return
        with _claims_lock:
            held = _claims.get(self._path)
            if held is not None:  # another engine of this process already holds it
                _claims[self._path] = (held[0], held[1] + 1)
                self._claimed = True
                return
            self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            deadline = time.monotonic() + 5
            while True:  # a checker may hold a shared lock for an instant
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        os.close(fd)
                        raise
                    time.sleep(0.01)
            _claims[self._path] = (fd, 1)
            self._claimed = True

    def release(self) -> None:
        if not self._claimed:
            return
        self._claimed = False
        with _claims_lock:
            fd, users = _claims[self._path]
            if users > 1:
                _claims[self._path] = (fd, users - 1)
                return
            del _claims[self._path]
            with contextlib.suppress(FileNotFoundError):
                self._path.unlink()
            os.close(fd)  # closing drops the lock

    def is_alive(self, pid: int | None) -> bool:
        """Is the engine process ``pid`` still running (and still an engine of this data dir)?"""
        if not pid:
            return False
        if pid == os.getpid():
            return True
        if fcntl is None:  # pragma: no cover - Windows
            return _pid_exists(pid)
        try:
            fd = os.open(self._dir / f"{pid}.lock", os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True  # its owner holds it: alive
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False  # a stale file: that process died (or the pid was reused by another program)
        finally:
            os.close(fd)
