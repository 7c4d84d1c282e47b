"""The SQLite journal: the only code that writes SQL.

One file (WAL mode) in the data dir; a ``schema_version`` table and forward migrations; one connection
shared by the engine's threads behind a lock; every state change is one short transaction. Keys are
never stored here (see ``secrets.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sgsend_desktop.core.errors import UnknownTransferError
from sgsend_desktop.core.model import Direction, TransferState, check_transition

MIGRATIONS: tuple[str, ...] = (
    # v1: transfers, their parts (uploads) and byte ranges (downloads)
    """
    CREATE TABLE transfers (
        id TEXT PRIMARY KEY,
        direction TEXT NOT NULL,
        state TEXT NOT NULL,
        position INTEGER NOT NULL,
        server_url TEXT NOT NULL,
        transfer_id TEXT,
        upload_id TEXT,
        name TEXT NOT NULL DEFAULT '',
        source_path TEXT,
        source_size INTEGER,
        source_mtime_ns INTEGER,
        payload_size INTEGER,
        part_size INTEGER,
        iv TEXT,
        options TEXT NOT NULL DEFAULT '{}',
        link TEXT,
        dest_dir TEXT,
        saved_path TEXT,
        error TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE parts (
        transfer TEXT NOT NULL REFERENCES transfers(id) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        "offset" INTEGER NOT NULL,
        size INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        etag TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (transfer, number)
    );
    CREATE TABLE ranges (
        transfer TEXT NOT NULL REFERENCES transfers(id) ON DELETE CASCADE,
        start INTEGER NOT NULL,
        "end" INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (transfer, start)
    );
    """,
    # v2: cross-process control (pause/cancel requests, owning process) and the reusable download URL
    """
    ALTER TABLE transfers ADD COLUMN requested TEXT;
    ALTER TABLE transfers ADD COLUMN owner_pid INTEGER;
    ALTER TABLE transfers ADD COLUMN bytes_done INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE transfers ADD COLUMN download_url TEXT;
    ALTER TABLE transfers ADD COLUMN download_url_expires REAL;
    """,
    # v3: the download ticket of a receive (download_refresh extension: fresh URLs without a new count)
    """
    ALTER TABLE transfers ADD COLUMN download_ticket TEXT;
    """,
    # v4: a receive's resume point. The partial file holds plaintext only (one write per byte): the payload
    # is decrypted in order up to ``decrypted_to`` and ``content_written`` bytes of the file are written
    # (valid while ``resume_boot`` is this boot of the computer: the page cache survives a killed process,
    # not a crash), ``synced_to`` / ``synced_content`` the same once fdatasync'ed (valid after a crash too);
    # the envelope header's ciphertext (and the IV, in ``iv``) rebuild the decryptor there; ``payload_tag``
    # once every byte is in. ``ranges`` rows are no longer written (older journals' are cleared on resume).
    """
    ALTER TABLE transfers ADD COLUMN decrypted_to INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE transfers ADD COLUMN content_written INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE transfers ADD COLUMN synced_to INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE transfers ADD COLUMN synced_content INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE transfers ADD COLUMN resume_boot TEXT;
    ALTER TABLE transfers ADD COLUMN envelope_head TEXT;
    ALTER TABLE transfers ADD COLUMN payload_tag TEXT;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class TransferRow:
    id: str
    direction: Direction
    state: TransferState
    position: int
    server_url: str
    transfer_id: str | None
    upload_id: str | None
    name: str
    source_path: str | None
    source_size: int | None
    source_mtime_ns: int | None
    payload_size: int | None
    part_size: int | None
    iv: str | None
    options: dict[str, Any]
    link: str | None
    dest_dir: str | None
    saved_path: str | None
    error: str | None
    attempts: int
    created_at: float
    updated_at: float
    requested: str | None
    owner_pid: int | None
    bytes_done: int
    download_url: str | None
    download_url_expires: float | None
    download_ticket: str | None = field(default=None, repr=False)  # a bearer credential: not in reprs
    # receives (schema v4): the resume point of the decryptor (see MIGRATIONS[3] and docs/journal.md)
    decrypted_to: int = 0
    content_written: int = 0
    synced_to: int = 0
    synced_content: int = 0
    resume_boot: str | None = None
    envelope_head: str | None = field(default=None, repr=False)
    payload_tag: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class PartRow:
    number: int
    offset: int
    size: int
    state: str          # pending | done
    etag: str | None
    attempts: int


@dataclass(frozen=True)
class RangeRow:
    start: int
    end: int            # exclusive
    state: str          # pending | done
    attempts: int


_COLUMNS = tuple(f.name for f in fields(TransferRow))
_UPDATABLE = frozenset(_COLUMNS) - {"id", "direction", "state", "created_at"}


_PATH_COLUMNS = ("source_path", "dest_dir", "saved_path")


def _stored(values: dict[str, Any]) -> dict[str, Any]:
    """Column values as SQLite takes them: ``options`` as JSON; a path that is not valid UTF-8 (a Linux
    file name in a legacy encoding, which Python keeps as lone surrogates and SQLite refuses) as its
    raw bytes, which ``_to_row`` turns back into the same path."""
    stored = dict(values)
    if "options" in stored:
        stored["options"] = json.dumps(stored["options"])
    for column in _PATH_COLUMNS:
        value = stored.get(column)
        if isinstance(value, str) and not is_utf8(value):
            stored[column] = os.fsencode(value)
    return stored


def is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _to_row(record: sqlite3.Row) -> TransferRow:
    values = dict(record)
    for column in _PATH_COLUMNS:
        if isinstance(values[column], bytes):
            values[column] = os.fsdecode(values[column])
    values["direction"] = Direction(values["direction"])
    values["state"] = TransferState(values["state"])
    values["options"] = json.loads(values["options"] or "{}")
    return TransferRow(**{name: values[name] for name in _COLUMNS})


LOCKED_PATIENCE = 30.0  # seconds a journal being created by another process is waited for


def _while_locked(step: Callable[[], object]) -> None:
    deadline = time.monotonic() + LOCKED_PATIENCE
    delay = 0.01
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(0.25, delay * 2)


class Journal:
    """Thread-safe access to the journal database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        _make_private(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.row_factory = sqlite3.Row
        # Two processes opening a new journal at once (the window and a CLI command, two commands) race to
        # switch it to WAL and create its tables; SQLite answers the loser "database is locked" at once,
        # without waiting out its busy timeout, for these lock changes. The loser tries again.
        _while_locked(lambda: self._db.execute("PRAGMA journal_mode=WAL"))
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA synchronous=NORMAL")
        _while_locked(self._migrate)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._tx() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            found = db.execute("SELECT version FROM schema_version").fetchone()
            version = int(found[0]) if found else 0
            if found is None:
                db.execute("INSERT INTO schema_version (version) VALUES (0)")
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"journal {self.path} is from a newer version (schema {version})")
            for number in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        db.execute(statement)
            db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT version FROM schema_version").fetchone()[0])

    # transfers -----------------------------------------------------------------------------------
    def add_transfer(self, local_id: str, direction: Direction, server_url: str, name: str,
                     **values: Any) -> TransferRow:
        now = time.time()
        bad = set(values) - _UPDATABLE
        if bad:
            raise ValueError(f"unknown journal columns {sorted(bad)}")
        values = _stored(values)
        with self._tx() as db:
            position = db.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM transfers").fetchone()[0]
            columns = {"id": local_id, "direction": direction.value, "state": TransferState.QUEUED.value,
                       "position": position, "server_url": server_url, "name": name,
                       "created_at": now, "updated_at": now, **values}
            names = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join("?" for _ in columns)
            db.execute(f"INSERT INTO transfers ({names}) VALUES ({marks})", tuple(columns.values()))
        return self.get(local_id)

    def get(self, local_id: str) -> TransferRow:
        with self._lock:
            record = self._db.execute("SELECT * FROM transfers WHERE id = ?", (local_id,)).fetchone()
        if record is None:
            raise UnknownTransferError(f"No transfer with id {local_id} in the journal.")
        return _to_row(record)

    def find(self, local_id_prefix: str) -> TransferRow:
        """A transfer by its local id or an unambiguous prefix of it (for the CLI)."""
        with self._lock:
            records = self._db.execute("SELECT * FROM transfers WHERE id LIKE ? || '%'",
                                       (local_id_prefix,)).fetchall()
        if len(records) != 1:
            which = "several transfers match" if records else "no transfer has"
            raise UnknownTransferError(
                f"In the journal, {which} the id {local_id_prefix!r}. See `sgsend list`.")
        return _to_row(records[0])

    def all(self) -> list[TransferRow]:
        return self._select("")

    def queued(self, owner_pid: int) -> list[TransferRow]:
        """The transfers waiting for a slot in process ``owner_pid``, in queue order."""
        return self._select("WHERE state = ? AND owner_pid = ?", TransferState.QUEUED.value, owner_pid)

    def requested(self) -> list[TransferRow]:
        """The transfers another process asked to pause or cancel."""
        return self._select("WHERE requested IS NOT NULL")

    def _select(self, where: str, *args: object) -> list[TransferRow]:
        # the scheduler asks several times a second: after months of use a whole-table read (2000 rows,
        # 60 ms) each time kept an idle app at 50 % of a core
        with self._lock:
            records = self._db.execute(f"SELECT * FROM transfers {where} ORDER BY position", args).fetchall()
        return [_to_row(r) for r in records]

    def update(self, local_id: str, **values: Any) -> None:
        bad = set(values) - _UPDATABLE
        if bad:
            raise ValueError(f"unknown journal columns {sorted(bad)}")
        values = {**_stored(values), "updated_at": time.time()}
        assignments = ", ".join(f'"{c}" = ?' for c in values)
        with self._tx() as db:
            db.execute(f"UPDATE transfers SET {assignments} WHERE id = ?", (*values.values(), local_id))

    def update_many(self, changes: dict[str, dict[str, Any]]) -> None:
        """``update`` of several transfers in one transaction (one commit, not one per row)."""
        now = time.time()
        with self._tx() as db:
            for local_id, values in changes.items():
                bad = set(values) - _UPDATABLE
                if bad:
                    raise ValueError(f"unknown journal columns {sorted(bad)}")
                values = {**_stored(values), "updated_at": now}
                assignments = ", ".join(f'"{c}" = ?' for c in values)
                db.execute(f"UPDATE transfers SET {assignments} WHERE id = ?", (*values.values(), local_id))

    def set_state(self, local_id: str, state: TransferState, **values: Any) -> TransferRow:
        """Move to ``state`` (checked against the transition table) and update other columns atomically."""
        bad = set(values) - _UPDATABLE
        if bad:
            raise ValueError(f"unknown journal columns {sorted(bad)}")
        values = {**_stored(values), "updated_at": time.time()}
        with self._tx() as db:
            record = db.execute("SELECT state FROM transfers WHERE id = ?", (local_id,)).fetchone()
            if record is None:
                raise UnknownTransferError(f"No transfer with id {local_id} in the journal.")
            check_transition(TransferState(record[0]), state)
            assignments = ", ".join(f'"{c}" = ?' for c in values)
            db.execute(f'UPDATE transfers SET state = ?, {assignments} WHERE id = ?',
                       (state.value, *values.values(), local_id))
        return self.get(local_id)

    def request(self, local_id: str, what: str | None) -> None:
        """Record a pause/cancel request for the process that runs the transfer."""
        self.update(local_id, requested=what)

    def move(self, local_id: str, new_index: int) -> None:
        with self._tx() as db:
            ids = [r[0] for r in db.execute("SELECT id FROM transfers ORDER BY position")]
            if local_id not in ids:
                raise UnknownTransferError(f"No transfer with id {local_id} in the journal.")
            ids.remove(local_id)
            ids.insert(max(0, min(new_index, len(ids))), local_id)
            db.executemany("UPDATE transfers SET position = ? WHERE id = ?",
                           [(i, x) for i, x in enumerate(ids)])

    def remove(self, local_id: str) -> None:
        self.remove_many([local_id])

    def remove_many(self, local_ids: Iterable[str]) -> None:
        """Forget these transfers, in one transaction."""
        with self._tx() as db:
            for local_id in local_ids:
                db.execute("DELETE FROM parts WHERE transfer = ?", (local_id,))
                db.execute("DELETE FROM ranges WHERE transfer = ?", (local_id,))
                db.execute("DELETE FROM transfers WHERE id = ?", (local_id,))

    # parts (uploads) -----------------------------------------------------------------------------
    def set_parts(self, local_id: str, parts: list[tuple[int, int, int]]) -> None:
        """Replace the part plan with (number, offset, size) rows, all pending."""
        with self._tx() as db:
            db.execute("DELETE FROM parts WHERE transfer = ?", (local_id,))
            db.executemany('INSERT INTO parts (transfer, number, "offset", size) VALUES (?, ?, ?, ?)',
                           [(local_id, n, o, s) for n, o, s in parts])

    def parts(self, local_id: str) -> list[PartRow]:
        with self._lock:
            records = self._db.execute(
                'SELECT number, "offset", size, state, etag, attempts FROM parts WHERE transfer = ? '
                "ORDER BY number", (local_id,)).fetchall()
        return [PartRow(*r) for r in records]

    def part_done(self, local_id: str, number: int, etag: str) -> None:
        with self._tx() as db:
            db.execute("UPDATE parts SET state = 'done', etag = ? WHERE transfer = ? AND number = ?",
                       (etag, local_id, number))

    def part_pending(self, local_id: str, number: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE parts SET state = 'pending', etag = NULL WHERE transfer = ? AND number = ?",
                       (local_id, number))

    def part_attempt(self, local_id: str, number: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE parts SET attempts = attempts + 1 WHERE transfer = ? AND number = ?",
                       (local_id, number))
            db.execute("UPDATE transfers SET attempts = attempts + 1 WHERE id = ?", (local_id,))

    # ranges (downloads) --------------------------------------------------------------------------
    def set_ranges(self, local_id: str, spans: list[tuple[int, int]]) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM ranges WHERE transfer = ?", (local_id,))
            db.executemany('INSERT INTO ranges (transfer, start, "end") VALUES (?, ?, ?)',
                           [(local_id, a, b) for a, b in spans])

    def ranges(self, local_id: str) -> list[RangeRow]:
        with self._lock:
            records = self._db.execute(
                'SELECT start, "end", state, attempts FROM ranges WHERE transfer = ? ORDER BY start',
                (local_id,)).fetchall()
        return [RangeRow(*r) for r in records]

    def range_done(self, local_id: str, start: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE ranges SET state = 'done' WHERE transfer = ? AND start = ?", (local_id, start))

    def range_attempt(self, local_id: str, start: int) -> None:
        with self._tx() as db:
            db.execute("UPDATE ranges SET attempts = attempts + 1 WHERE transfer = ? AND start = ?",
                       (local_id, start))
            db.execute("UPDATE transfers SET attempts = attempts + 1 WHERE id = ?", (local_id,))


def _make_private(path: Path) -> None:
    """The journal holds presigned URLs and download tickets: owner-only, whatever the folder's mode or
    the umask. SQLite gives its -wal and -shm files the database file's permissions."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for extra in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(extra, 0o600)

