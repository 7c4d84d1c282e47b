"""Names and files a download creates in a folder the user chose (perhaps shared with others).

* ``safe_filename``: the sender's name made safe to create: one path component, no control, format
  (bidi, zero-width) or reserved characters, no leading dot (a sender must not plant ``.bash_profile``),
  at most 255 UTF-8 bytes — room for the " (N)" a name clash adds included.
* ``open_private``: temp and partial files are created exclusively (``O_EXCL``), never through a
  symlink (``O_NOFOLLOW``), owner-only; a file already there is reused only when it is ours, a plain
  file with one link — so a neighbour can neither read the plaintext nor redirect it.
* ``claim_final_name``: link the verified temp file under its name without replacing anything.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from pathlib import Path

from sgsend_desktop.core.errors import LocalIOError

NAME_MAX = 255                      # bytes, on every common file system
CLASH_ROOM = len(" (10000)")        # what claim_final_name may add
_UNSAFE_CHARS = re.compile(r'[<>:"|?*]')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK          # the final file gets the user's usual permissions


_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_EDGES = re.compile(r"^[\s.]+|[\s.]+$")  # leading dots hide a file; trailing ones vanish on Windows


def portable_name(name: str) -> str:
    """A local file's name as text any receiver can take. A name that is not valid UTF-8 (a Linux file
    name in a legacy encoding, e.g. from an old USB stick; Python keeps its bytes as lone surrogates,
    which neither the envelope's JSON nor a zip can hold) is read as Windows-1252, the usual culprit:
    ``caf\udce9.txt`` becomes ``café.txt``."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(name).decode("cp1252", errors="replace")
    return name


def _visible(char: str) -> str:
    """Control (Cc), format (Cf: bidi overrides, zero-width), lone surrogates (Cs: not encodable) and
    line/paragraph separators become '_'."""
    return "_" if unicodedata.category(char) in _INVISIBLE else char


def clean_text(text: str, limit: int = 500) -> str:
    """Text from a server or a sender made safe to print on a terminal or show in a label: no escape
    sequences, no bidi tricks, one line, at most ``limit`` characters."""
    text = text[: limit * 2]
    cleaned = "".join(" " if c in "\r\n\t" else _visible(c) for c in text)
    return cleaned[:limit] + ("…" if len(cleaned) > limit else "")


def truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 form fits ``max_bytes`` (no split character)."""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


def safe_filename(name: str | None, fallback: str) -> str:
    """A name from SGMETA made safe to create in a chosen folder (see the module docstring).

    Idempotent: a name it returns comes back unchanged (each pass only removes or shortens, so the
    loop ends within a few passes)."""
    if not name:
        return fallback
    name = name.replace("\\", "/").rpartition("/")[2]
    if len(name) > 4 * NAME_MAX:  # a huge name costs nothing more than this (the suffix is kept)
        head, dot, tail = name.rpartition(".")
        name = head[: 4 * NAME_MAX] + dot + tail if dot and len(tail) <= 32 else name[: 4 * NAME_MAX]
    name = "".join(_visible(c) for c in unicodedata.normalize("NFC", name))
    for _ in range(8):
        cleaned = _clean_once(name)
        if cleaned == name:
            break
        name = cleaned
    return name or fallback


def _clean_once(name: str) -> str:
    name = _EDGES.sub("", _UNSAFE_CHARS.sub("_", name))
    if not name:
        return ""
    if _WINDOWS_RESERVED.match(name):
        name = f"_{name}"
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem or len(suffix.encode()) > 32:
        stem, suffix = name, ""
    suffix = f".{suffix}" if suffix else ""
    budget = NAME_MAX - CLASH_ROOM - len(suffix.encode("utf-8"))
    stem = _EDGES.sub("", truncate_utf8(stem, budget))
    return stem + suffix if stem else ""


def split_suffix(name: str) -> tuple[str, str]:
    stem, dot, suffix = name.rpartition(".")
    return (stem, f".{suffix}") if dot and stem else (name, "")


def claim_final_name(temp_path: Path, out_dir: Path, name: str) -> Path:
    """Give the verified ``temp_path`` the name ``name`` in ``out_dir``, or "name (N).ext" when taken;
    never replaces an existing file."""
    stem, suffix = split_suffix(name)
    for attempt in range(10_000):
        candidate = out_dir / (name if attempt == 0 else f"{stem} ({attempt}){suffix}")
        try:
            os.link(temp_path, candidate)  # atomic, never replaces, never follows a planted symlink
        except FileExistsError:
            continue
        except OSError:  # file systems without hard links: best effort no-overwrite rename
            if os.path.lexists(candidate):
                continue
            os.replace(temp_path, candidate)
        return candidate
    raise LocalIOError(f"There are too many files named like {name!r} in {out_dir}.")


def open_private(path: Path, *, reuse: bool, truncate: bool = False) -> int:
    """Open ``path`` read-write for our own temp data and return the fd (mode 0600).

    A new file is created exclusively and never through a symlink. An existing one is reused (when
    ``reuse``, e.g. a partial download being resumed) only if it is a regular file that we own with a
    single link; a stale one of ours is otherwise replaced. Anything else is refused with LocalIOError:
    someone else put it there.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    for _ in range(3):
        try:
            return os.open(path, flags, 0o600)
        except FileExistsError:
            pass
        try:
            fd = os.open(path, os.O_RDWR | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            continue  # gone in between: create it
        except OSError as error:  # ELOOP: a symlink planted under our temp name
            raise _planted(path) from error
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or (
                hasattr(os, "geteuid") and info.st_uid != os.geteuid()):
            os.close(fd)
            raise _planted(path)
        if reuse:
            os.fchmod(fd, 0o600)
            if truncate:
                os.ftruncate(fd, 0)
            return fd
        os.close(fd)
        os.unlink(path)  # our own stale file: start afresh, exclusively
    raise LocalIOError(f"Cannot create {path}: it keeps reappearing.")


def _planted(path: Path) -> LocalIOError:
    return LocalIOError(f"{path} is not a file this app made (a link or someone else's file); "
                        f"it was left untouched and nothing was written to it. Remove it or choose "
                        f"another download folder.")
