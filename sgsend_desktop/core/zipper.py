"""A folder (or several files) becomes one zip file (as the web UI does), written as a stream to a temp
file: chunk by chunk, so that it shows its progress and stops at once when the transfer is paused or
cancelled. Files that are compressed already (photos, videos, archives…) are stored, not deflated: zlib
gains nothing on them and ran at a fraction of the disk's speed."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from sgsend_desktop.core.filenames import portable_name

CHUNK = 1 << 20
# extensions of formats that are compressed already: deflating them costs time and saves ~nothing
STORED_EXTENSIONS = frozenset(
    "jpg jpeg png gif webp heic heif avif mp4 m4v mov mkv webm avi wmv mpg mpeg mp3 m4a aac ogg opus flac "
    "zip 7z rar gz tgz bz2 xz zst lz4 br jar apk ipa docx xlsx pptx odt ods odp epub pdf dmg iso".split()
)

OnBytes = Callable[[int], None]
Check = Callable[[], None]


def compress_type_for(name: str) -> int:
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return zipfile.ZIP_STORED if extension in STORED_EXTENSIONS else zipfile.ZIP_DEFLATED


def _regular(path: Path) -> bool:
    return not path.is_symlink() and path.is_file()


def _walk(top: Path) -> Iterator[tuple[Path, list[str], list[str]]]:
    for root, dirs, files in os.walk(top, followlinks=False):
        dirs.sort()
        yield Path(root), dirs, sorted(files)


def source_bytes(paths: list[Path]) -> int:
    """What zipping ``paths`` (files and folders) reads: the sizes of their regular files."""
    total = 0
    for raw in paths:
        path = raw.resolve()
        if _regular(path):
            total += path.stat().st_size
            continue
        for root, _dirs, files in _walk(path):
            total += sum((root / name).stat().st_size for name in files if _regular(root / name))
    return total


class _Writer:
    def __init__(self, archive: zipfile.ZipFile, on_bytes: OnBytes | None, check: Check | None) -> None:
        self._archive = archive
        self._on_bytes = on_bytes
        self._check = check

    def file(self, path: Path, name: str) -> None:
        name = portable_name(name)
        info = zipfile.ZipInfo.from_file(path, name, strict_timestamps=False)  # 1970 files: 1980 in zip
        info.compress_type = compress_type_for(name)
        with open(path, "rb") as source, self._archive.open(info, "w") as target:
            while chunk := source.read(CHUNK):
                if self._check is not None:
                    self._check()
                target.write(chunk)
                if self._on_bytes is not None:
                    self._on_bytes(len(chunk))

    def folder(self, top: Path, prefix: Path) -> None:
        """Every regular file under ``top`` as ``prefix/...``; an empty folder as its own entry."""
        for root, dirs, files in _walk(top):
            relative = prefix / root.relative_to(top)
            if not files and not dirs:
                self._archive.writestr(f"{portable_name(relative.as_posix())}/", b"")
            for name in files:
                if _regular(root / name):  # symlinks are not followed out of the tree
                    self.file(root / name, (relative / name).as_posix())


def _write_zip(dest: Path, fill: Callable[[_Writer], None], on_bytes: OnBytes | None,
               check: Check | None) -> Path:
    partial = dest.with_name(dest.name + ".partial")
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            fill(_Writer(archive, on_bytes, check))
    except BaseException:
        partial.unlink(missing_ok=True)  # stopped or failed: no half zip left in the temp folder
        raise
    os.replace(partial, dest)
    return dest


def zip_folder(folder: Path, dest: Path, on_bytes: OnBytes | None = None, check: Check | None = None) -> Path:
    """Write every regular file under ``folder`` into the zip ``dest`` (streamed, never in memory).

    Entry names are relative to the folder's parent, so the archive unpacks into one directory named like
    the folder. Symlinks are not followed out of the tree. ``on_bytes(n)`` after each chunk read;
    ``check()`` before each, raising to stop. Returns ``dest``.
    """
    folder = folder.resolve()
    return _write_zip(dest, lambda writer: writer.folder(folder, Path(folder.name)), on_bytes, check)


def zip_paths(paths: list[Path], dest: Path, folder_name: str, on_bytes: OnBytes | None = None,
              check: Check | None = None) -> Path:
    """Several files and folders as one zip (streamed), as if they were one folder ``folder_name``:
    entries are ``folder_name/file`` and ``folder_name/folder/...``, so the archive unpacks into one
    directory, as a zipped folder does. Two items of the same name get " (2)", " (3)"... Returns ``dest``.
    """
    top = (folder_name.strip().strip("/\\") or "files").replace("/", "_").replace("\\", "_")
    taken: set[str] = set()

    def unique(name: str) -> str:
        stem, dot, ext = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
        candidate, n = name, 1
        while candidate.lower() in taken:
            n += 1
            candidate = f"{stem} ({n}){dot}{ext}"
        taken.add(candidate.lower())
        return candidate

    def fill(writer: _Writer) -> None:
        for raw in paths:
            path = raw.resolve()
            name = unique(path.name or "folder")
            if path.is_file():
                writer.file(path, f"{top}/{name}")
            else:
                writer.folder(path, Path(top, name))

    return _write_zip(dest, fill, on_bytes, check)

