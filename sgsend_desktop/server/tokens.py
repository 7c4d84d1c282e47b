"""Access tokens with usage limits: `--access-token` and `--tokens FILE`, and their durable use counts.

Upstream hands out tokens through its admin service: each token has a usage limit, a count and a status
(`active`, `exhausted`, `revoked`); `check-token` answers `{valid, status, remaining}` and every
`complete` of an upload uses one (the "send" event). A team running its own server does the same here
with a token file, read at start-up and again whenever it changes (an edit takes effect within a second):

    # name   token            uses (a number, "unlimited", or "revoked")
    alice    alice-7f3k2q     50
    ci       ci-runner-token  unlimited
    bob      bob-old-token    revoked

or JSON: ``{"tokens": [{"name": "alice", "token": "alice-7f3k2q", "uses": 50}, ...]}`` (``uses`` 0 or
null = unlimited, as upstream's ``usage_limit`` 0; ``"revoked": true``). ``--access-token`` adds one
unlimited token that behaves exactly as before (no counting; `check-token` without ``remaining``).

Use counts live in the store, keyed by the SHA-256 of the token (the token itself is never written
there): on disk ``DATA_DIR/token-usage/<key>.json`` (atomic replace under a lock), on S3
``{prefix}server/token-usage/<key>.json`` (compare-and-swap writes, as ``meta.json``), so every process
on a bucket counts against the same total and counts survive restarts. Raising a token's ``uses`` in the
file gives an exhausted token new uses; its count is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sgsend_desktop.server.storage.base import StoreError, TransferStore

log = logging.getLogger("sgsend.server")
MAX_TOKEN_CHARS = 256
MAX_TOKENS = 100_000
MAX_FILE_BYTES = 16 * 1024 * 1024
RECENT_TRANSFERS = 200  # transfer ids a token's record remembers: a retried complete never counts twice
RELOAD_EVERY = 1.0  # seconds between checks of the token file's modification time
TOKEN_TEXT = re.compile(r"[\x21-\x7e]{1,256}")  # what an HTTP header value carries as is
NAME_TEXT = re.compile(r"[A-Za-z0-9._@+-]{1,64}")
UNLIMITED_WORDS = ("unlimited", "*", "-", "0")


class TokenFileError(RuntimeError):
    """The token file cannot be read or understood (one sentence, with the line)."""


@dataclass(frozen=True)
class AccessToken:
    name: str
    token: str
    uses: int | None  # None = unlimited
    revoked: bool = False
    counted: bool = True  # False for --access-token: no usage record at all (as before)

    @property
    def key(self) -> str:
        return usage_key(self.token)

    def __repr__(self) -> str:  # never the token itself
        return f"AccessToken(name={self.name!r}, uses={self.uses!r}, revoked={self.revoked!r})"


def usage_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:40]


def _uses(text: object, where: str) -> tuple[int | None, bool]:
    """(uses, revoked) from a file's uses column / field."""
    if text is None:
        return None, False
    if isinstance(text, bool):
        raise TokenFileError(f"{where}: uses must be a number, 'unlimited' or 'revoked'")
    if isinstance(text, int):
        if text < 0:
            raise TokenFileError(f"{where}: uses must not be negative")
        return (text or None), False
    word = str(text).strip().lower()
    if word == "revoked":
        return None, True
    if word in UNLIMITED_WORDS:
        return None, False
    if word.isdigit():
        return (int(word) or None), False
    raise TokenFileError(f"{where}: uses must be a number, 'unlimited' or 'revoked', not {str(text)[:32]!r}")


def _entry(name: object, token: object, uses: object, revoked: object, where: str) -> AccessToken:
    if not isinstance(name, str) or not NAME_TEXT.fullmatch(name):
        raise TokenFileError(f"{where}: a name is 1-64 letters, digits or . _ @ + -")
    if not isinstance(token, str) or not TOKEN_TEXT.fullmatch(token):
        raise TokenFileError(f"{where}: a token is 1-{MAX_TOKEN_CHARS} printable ASCII characters, no spaces")
    count, is_revoked = _uses(uses, where)
    return AccessToken(name, token, count, is_revoked or revoked is True)


def parse_tokens(text: str, source: str = "the token file") -> list[AccessToken]:
    """Parse a token file: JSON (``{"tokens": [...]}`` or a list) or lines ``name token uses``."""
    stripped = text.lstrip()
    entries: list[AccessToken] = []
    if stripped.startswith(("{", "[")):
        try:
            data: Any = json.loads(text)
        except ValueError as error:
            raise TokenFileError(f"{source} is not valid JSON: {error}") from None
        items = data.get("tokens") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise TokenFileError(f'{source}: expected {{"tokens": [...]}} or a list of tokens')
        for index, item in enumerate(items, 1):
            where = f"{source}, token {index}"
            if not isinstance(item, dict):
                raise TokenFileError(f"{where}: expected an object with name, token and uses")
            entries.append(_entry(item.get("name"), item.get("token"), item.get("uses"),
                                  item.get("revoked"), where))
    else:
        for number, line in enumerate(text.splitlines(), 1):
            words = line.split("#", 1)[0].split()
            if not words:
                continue
            where = f"{source}, line {number}"
            if len(words) not in (2, 3):
                raise TokenFileError(f"{where}: expected 'name token uses' (uses may be left out: unlimited)")
            entries.append(_entry(words[0], words[1], words[2] if len(words) == 3 else None, None, where))
    if len(entries) > MAX_TOKENS:
        raise TokenFileError(f"{source} holds more than {MAX_TOKENS} tokens")
    seen: set[str] = set()
    for entry in entries:
        if entry.token in seen:
            raise TokenFileError(f"{source}: the token of {entry.name!r} appears twice")
        seen.add(entry.token)
    return entries


def read_token_file(path: Path) -> list[AccessToken]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise TokenFileError(f"the token file {path} is larger than {MAX_FILE_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise TokenFileError(f"cannot read the token file {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise TokenFileError(f"the token file {path} is not UTF-8 text") from None
    return parse_tokens(text, f"the token file {path}")


class TokenBook:
    """The tokens this server accepts. Thread-safe; the file is re-read when it changes."""

    def __init__(self, access_token: str | None = None, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fixed = [AccessToken("access-token", access_token, None, counted=False)] if access_token else []
        self._by_hash: dict[bytes, AccessToken] = {}
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._install(read_token_file(path) if path is not None else [])
        if path is not None:
            self._stamp = self._file_stamp()

    @property
    def configured(self) -> bool:
        """False: no token at all, every write route is open."""
        return bool(self._fixed) or self.path is not None

    @property
    def has_file(self) -> bool:
        return self.path is not None

    def tokens(self) -> list[AccessToken]:
        self._maybe_reload()
        with self._lock:
            return list(self._by_hash.values())

    def find(self, given: str) -> AccessToken | None:
        """The token ``given`` is, or None (looked up by its SHA-256, so timing says nothing useful)."""
        if not given or len(given) > MAX_TOKEN_CHARS:
            return None
        self._maybe_reload()
        digest = hashlib.sha256(given.encode()).digest()
        with self._lock:
            found = self._by_hash.get(digest)
        if found is not None and hmac.compare_digest(found.token.encode(), given.encode()):
            return found
        return None

    # --- the file -----------------------------------------------------------------------------------------
    def _install(self, entries: list[AccessToken]) -> None:
        table = {hashlib.sha256(e.token.encode()).digest(): e for e in entries}
        for fixed in self._fixed:  # --access-token wins over a file entry with the same token
            table[hashlib.sha256(fixed.token.encode()).digest()] = fixed
        with self._lock:
            self._by_hash = table

    def _file_stamp(self) -> tuple[int, int] | None:
        assert self.path is not None
        try:
            stat = self.path.stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _maybe_reload(self) -> None:
        if self.path is None:
            return
        now = time.monotonic()
        if now - self._checked < RELOAD_EVERY:
            return
        self._checked = now
        stamp = self._file_stamp()
        if stamp is None or stamp == self._stamp:
            return
        try:
            entries = read_token_file(self.path)
        except TokenFileError as error:  # a half-saved edit: keep what we had, say why once per change
            log.warning("%s; keeping the %d token(s) read before", error, len(self._by_hash))
            self._stamp = stamp
            return
        self._stamp = stamp
        self._install(entries)
        log.info("token file %s reloaded: %d token(s)", self.path, len(entries))


# --- use counts -------------------------------------------------------------------------------------------
RECORD_PREFIX = "token-usage/"


def record_name(token: AccessToken) -> str:
    return RECORD_PREFIX + token.key


def used_of(record: dict[str, Any] | None) -> int:
    value = (record or {}).get("used", 0)
    return value if isinstance(value, int) and value >= 0 else 0


def remaining_of(token: AccessToken, used: int) -> int | None:
    """Uses left; None = unlimited."""
    return None if token.uses is None else max(0, token.uses - used)


def status_of(token: AccessToken, used: int) -> str:
    if token.revoked:
        return "revoked"
    remaining = remaining_of(token, used)
    return "exhausted" if remaining == 0 else "active"


class TokenUsage:
    """Counts the uses of limited tokens in the store (blocking: call from a worker thread)."""

    def __init__(self, store: TransferStore) -> None:
        self.store = store

    def used(self, token: AccessToken) -> int:
        if not token.counted or token.uses is None:
            return 0
        return used_of(self.store.load_record(record_name(token)))

    def use(self, token: AccessToken, transfer_id: str) -> int | None:
        """Count one use for ``transfer_id`` (once: a retried complete is not counted again); return the
        uses left. StoreError(401) when the token has none left."""
        if not token.counted or token.uses is None:
            return None
        limit = token.uses

        def change(record: dict[str, Any]) -> int:
            used = used_of(record)
            recent = [str(t) for t in record.get("recent", []) if isinstance(t, str)]
            if transfer_id in recent:
                return max(0, limit - used)
            if used >= limit:
                raise StoreError(401, "Access token exhausted")
            used += 1
            recent.append(transfer_id)
            record.update(name=token.name, used=used, recent=recent[-RECENT_TRANSFERS:],
                          updated_at=time.time())
            return max(0, limit - used)

        _, left = self.store.update_record(record_name(token), change)
        if left == 0:
            log.info("access token %r used up (%d uses)", token.name, limit)
        return left


def check_record_name(name: str) -> str:
    """Store record names are ``token-usage/<hex>``: nothing a request could steer elsewhere."""
    prefix, _, key = name.partition("/")
    if prefix + "/" != RECORD_PREFIX or not re.fullmatch(r"[0-9a-f]{16,64}", key):
        raise ValueError(f"bad record name {name!r}")
    return name
