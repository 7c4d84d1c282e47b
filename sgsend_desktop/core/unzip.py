"""Unpack a received zip (a sent folder, the web UI's browse/gallery delivery, an sgit share) into a new
folder, safely: whatever the archive says, nothing is written outside that folder and nothing unbounded.

What a hostile archive cannot do here:

* write outside the new folder: absolute names (``/x``, ``C:x``, ``\\\\server``), ``..`` components and NUL
  bytes refuse the whole archive; ``\\`` counts as a separator (zips made on Windows);
* create links or special files: symlink, device and FIFO entries are skipped (and listed), only regular
  files and folders are made, each file created exclusively and never through a link (``O_EXCL |
  O_NOFOLLOW``) inside a fresh owner-only temporary folder;
* fill the disk (zip bombs): limits on the number of entries, on each entry's and the total unpacked size,
  and on each entry's unpacked/packed ratio - checked against the sizes the archive declares before a byte
  is written, and again against the bytes actually written;
* leave half an archive: everything is unpacked into a hidden temporary folder next to the destination,
  renamed to its final name (``name``, else ``name (1)``, ...; nothing existing is replaced) only when every
  entry succeeded; on any refusal or error the temporary folder is removed;
* plant names the user's system mishandles: each path component is made portable (control and format
  characters and ``<>:"|?*`` become ``_``, trailing dots and spaces go, Windows device names get a ``_``).

The web UI's metadata folders (``_gallery/``, ``_gallery.HASH/``, ``__gallery__HASH/``, ``_preview/``:
thumbnails and manifests for its gallery page), sgit's share manifests (``__share__HASH/``, ``_share.*``) and
``__MACOSX/`` are skipped by default: they are not the sender's files. ``_page.json`` (a browse page's
layout, written by the sender) is kept. An archive whose entries all sit in one top folder (what
``zipper.zip_folder`` and most tools write) unpacks as that folder rather than a folder inside a folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sgsend_desktop.core.errors import LocalIOError, SendError
from sgsend_desktop.core.filenames import FILE_MODE, NAME_MAX

CHUNK = 1024 * 1024
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_UNSAFE_CHARS = re.compile(r'[<>:"|?*]')
_WINDOWS_RESERVED = re.compile(r"(con|prn|aux|nul|com\d|lpt\d)(\..*)?", re.IGNORECASE)
_DRIVE = re.compile(r"[A-Za-z]:")
WEB_METADATA = re.compile(r"(_gallery|_preview)(\..*)?|__gallery__.*|__share__.*|_share\..*|__MACOSX")
_UMASK = os.umask(0)
os.umask(_UMASK)
DIR_MODE = 0o777 & ~_UMASK


class UnsafeArchiveError(SendError):
    """The zip was refused as a whole (hostile or damaged); nothing of it was left on disk."""


@dataclass(frozen=True)
class UnzipLimits:
    max_entries: int = 100_000
    max_entry_bytes: int = 64 * 1024**3
    max_total_bytes: int = 256 * 1024**3
    max_ratio: int = 200                    # unpacked / packed bytes of one entry (deflate tops at ~1030)
    ratio_grace_bytes: int = 1024 * 1024    # entries smaller than this may compress as well as they like
    max_depth: int = 64                     # path components in one entry name


@dataclass(frozen=True)
class UnzipResult:
    folder: Path                            # the new folder, under its final name
    files: int
    bytes_written: int
    skipped: tuple[tuple[str, str], ...]    # (entry name as in the archive, why it was not unpacked)


@dataclass(frozen=True)
class _Entry:
    info: zipfile.ZipInfo
    parts: tuple[str, ...]
    is_dir: bool


def _portable(component: str) -> str | None:
    """One path component made safe on every common system; None when it cannot be (too long)."""
    name = unicodedata.normalize("NFC", component)
    name = "".join("_" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs") else c for c in name)
    name = _UNSAFE_CHARS.sub("_", name).rstrip(". ")
    if not name:
        name = "_"
    if _WINDOWS_RESERVED.fullmatch(name):
        name = "_" + name
    return name if len(name.encode("utf-8")) <= NAME_MAX else None


def _refuse(archive: Path, why: str) -> UnsafeArchiveError:
    return UnsafeArchiveError(f"{archive.name} was not unpacked: {why}. The zip file itself is unchanged.")


def _plan(archive: Path, infos: list[zipfile.ZipInfo], limits: UnzipLimits, skip_web_metadata: bool,
          ) -> tuple[list[_Entry], list[tuple[str, str]]]:
    if len(infos) > limits.max_entries:
        raise _refuse(archive, f"it holds {len(infos)} entries, more than the {limits.max_entries} allowed")
    entries: list[_Entry] = []
    skipped: list[tuple[str, str]] = []
    declared_total = 0
    for info in infos:
        raw = info.filename
        name = raw.replace("\\", "/")
        if "\x00" in name:
            raise _refuse(archive, f"the entry {raw!r} has a NUL byte in its name")
        if name.startswith("/") or _DRIVE.match(name):
            raise _refuse(archive, f"the entry {raw!r} names an absolute path")
        components = [c for c in name.split("/") if c not in ("", ".")]
        if ".." in components:
            raise _refuse(archive, f"the entry {raw!r} points outside the folder ('..')")
        if not components:
            skipped.append((raw, "no name"))
            continue
        if len(components) > limits.max_depth:
            raise _refuse(archive, f"the entry {raw!r} is nested more than {limits.max_depth} folders deep")
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            skipped.append((raw, "a symbolic link"))
            continue
        is_dir = info.is_dir() or kind == stat.S_IFDIR
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            skipped.append((raw, "a special file (device, pipe or socket)"))
            continue
        if skip_web_metadata and WEB_METADATA.fullmatch(components[0]):
            skipped.append((raw, "web page metadata (thumbnails, manifests)"))
            continue
        if info.flag_bits & 0x1:
            raise _refuse(archive, f"the entry {raw!r} is password-protected")
        parts = [_portable(c) for c in components]
        if any(p is None for p in parts):
            skipped.append((raw, "a name longer than 255 bytes"))
            continue
        if not is_dir:
            if info.file_size > limits.max_entry_bytes:
                raise _refuse(archive, f"the entry {raw!r} would unpack to {info.file_size} bytes, more than "
                                       f"the {limits.max_entry_bytes} allowed")
            if (info.file_size > limits.ratio_grace_bytes
                    and info.file_size > limits.max_ratio * max(1, info.compress_size)):
                raise _refuse(archive, f"the entry {raw!r} is compressed more than {limits.max_ratio}:1 "
                                       "(a zip bomb?)")
            declared_total += info.file_size
            if declared_total > limits.max_total_bytes:
                raise _refuse(archive, f"it would unpack to more than the {limits.max_total_bytes} bytes "
                                       "allowed")
        entries.append(_Entry(info, tuple(p for p in parts if p is not None), is_dir))
    return entries, skipped


def _top_folder(entries: list[_Entry]) -> str | None:
    """The one folder every entry sits in, if there is one (then the archive unpacks as that folder)."""
    tops = {e.parts[0] for e in entries}
    if len(tops) != 1:
        return None
    if any(len(e.parts) == 1 and not e.is_dir for e in entries):
        return None  # a file named like the would-be folder
    return next(iter(tops))


def _mkdirs(root: Path, parts: tuple[str, ...]) -> Path:
    """Make root/parts... as real folders (never through a link: lstat checks each existing one)."""
    path = root
    for part in parts:
        path = path / part
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            if not stat.S_ISDIR(os.lstat(path).st_mode):
                raise NotADirectoryError(str(path)) from None
    return path


def _dos_time(info: zipfile.ZipInfo) -> float | None:
    try:
        return time.mktime((*info.date_time, 0, 0, -1))
    except (OverflowError, ValueError):
        return None


class _Unpacker:
    def __init__(self, archive: Path, zf: zipfile.ZipFile, root: Path, limits: UnzipLimits,
                 progress: Callable[[int], None] | None) -> None:
        self.archive, self.zf, self.root, self.limits, self.progress = archive, zf, root, limits, progress
        self.total = 0
        self.files = 0
        self.dirs: list[tuple[Path, float | None]] = []

    def unpack(self, entry: _Entry, parts: tuple[str, ...], skipped: list[tuple[str, str]]) -> None:
        raw = entry.info.filename
        try:
            if entry.is_dir:
                self.dirs.append((_mkdirs(self.root, parts), _dos_time(entry.info)))
                return
            folder = _mkdirs(self.root, parts[:-1])
        except (NotADirectoryError, FileExistsError):
            skipped.append((raw, "its folder has the name of a file in the archive"))
            return
        target = folder / parts[-1]
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
                         | getattr(os, "O_CLOEXEC", 0), 0o600)
        except (FileExistsError, IsADirectoryError):
            skipped.append((raw, "a second entry with the same name"))
            return
        try:
            self._copy(entry, fd)
            os.fchmod(fd, FILE_MODE)
        finally:
            os.close(fd)
        stamp = _dos_time(entry.info)
        if stamp is not None:
            with contextlib.suppress(OSError):
                os.utime(target, (stamp, stamp))
        self.files += 1

    def _copy(self, entry: _Entry, fd: int) -> None:
        info, limits = entry.info, self.limits
        ratio_cap = max(limits.ratio_grace_bytes, limits.max_ratio * max(1, info.compress_size))
        written = 0
        try:
            with self.zf.open(info) as source:
                while chunk := source.read(CHUNK):
                    written += len(chunk)
                    self.total += len(chunk)
                    if written > limits.max_entry_bytes or written > ratio_cap:
                        raise _refuse(self.archive, f"the entry {info.filename!r} unpacks to more than it "
                                                    "may (a zip bomb?)")
                    if self.total > limits.max_total_bytes:
                        raise _refuse(self.archive, f"it unpacks to more than the {limits.max_total_bytes} "
                                                    "bytes allowed")
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view):]
                    if self.progress is not None:
                        self.progress(self.total)
        except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as error:
            raise _refuse(self.archive, f"it is damaged ({error})") from None
        except NotImplementedError as error:
            raise _refuse(self.archive, f"it uses a compression this app cannot read ({error})") from None


def unpack_zip(archive: Path, parent: Path, *, name: str | None = None, limits: UnzipLimits | None = None,
               skip_web_metadata: bool = True, progress: Callable[[int], None] | None = None) -> UnzipResult:
    """Unpack ``archive`` into a new folder in ``parent`` and return what was done.

    The folder is named after the archive's single top folder when it has one, else ``name`` or the
    archive's name without ``.zip``; ``name (1)`` etc. when taken. Raises ``UnsafeArchiveError`` (hostile
    or damaged: nothing is left behind) or ``LocalIOError`` (disk full, no permission). ``progress`` gets
    the bytes unpacked so far after each 1 MiB; an exception it raises stops the unpacking (cleanly).
    Slow for big archives: call it off the GUI thread."""
    limits = limits or UnzipLimits()
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, EOFError, ValueError) as error:
        raise _refuse(archive, f"it is not a readable zip file ({error})") from None
    except OSError as error:
        raise LocalIOError(f"cannot read {archive}: {error.strerror or error}") from None
    with zf:
        entries, skipped = _plan(archive, zf.infolist(), limits, skip_web_metadata)
        top = _top_folder(entries)
        stem = archive.name[:-4] if archive.name.lower().endswith(".zip") else archive.stem
        folder_name = top or _portable(name or stem) or "unpacked"
        strip = 1 if top else 0
        declared = sum(e.info.file_size for e in entries if not e.is_dir)
        try:
            parent.mkdir(parents=True, exist_ok=True)
            free = shutil.disk_usage(parent).free
        except OSError as error:
            raise LocalIOError(f"cannot write in {parent}: {error.strerror or error}") from None
        if declared > free:
            raise LocalIOError(f"{archive.name} unpacks to {declared} bytes but {parent} has only {free} "
                               "bytes free.")
        try:
            root = Path(tempfile.mkdtemp(dir=parent, prefix=".sgsend-unzip-"))
        except OSError as error:
            raise LocalIOError(f"cannot write in {parent}: {error.strerror or error}") from None
        try:
            unpacker = _Unpacker(archive, zf, root, limits, progress)
            for entry in entries:
                parts = entry.parts[strip:]
                if not parts:
                    continue  # the top folder's own entry
                unpacker.unpack(entry, parts, skipped)
            for dirpath, dirnames, _files in os.walk(root):  # made 0700 while unpacking: now the usual
                for dirname in dirnames:
                    os.chmod(os.path.join(dirpath, dirname), DIR_MODE)
            os.chmod(root, DIR_MODE)
            for path, stamp in unpacker.dirs:  # after every file: a new file changes its folder's mtime
                if stamp is not None:
                    with contextlib.suppress(OSError):
                        os.utime(path, (stamp, stamp))
            final = _claim_folder(root, parent, folder_name)
        except BaseException as error:
            shutil.rmtree(root, ignore_errors=True)
            if isinstance(error, OSError):
                raise LocalIOError(f"cannot unpack {archive.name} into {parent}: "
                                   f"{error.strerror or error}") from None
            raise
    return UnzipResult(final, unpacker.files, unpacker.total, tuple(skipped))


def _claim_folder(temp: Path, parent: Path, name: str) -> Path:
    """Rename the finished temp folder to ``name`` (or ``name (N)``) in ``parent``; replace nothing."""
    for attempt in range(10_000):
        candidate = parent / (name if attempt == 0 else f"{name} ({attempt})")
        try:
            os.mkdir(candidate, 0o700)  # reserve the name atomically
        except FileExistsError:
            continue
        try:
            os.replace(temp, candidate)  # POSIX: a directory may replace our own empty reservation
        except OSError:
            os.rmdir(candidate)
            os.rename(temp, candidate)
        return candidate
    raise LocalIOError(f"There are too many folders named like {name!r} in {parent}.")
