"""A folder becomes one zip file (as the web UI does), written as a stream to a temp file."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path


def zip_folder(folder: Path, dest: Path) -> Path:
    """Write every regular file under ``folder`` into the zip ``dest`` (streamed, never in memory).

    Entry names are relative to the folder's parent, so the archive unpacks into one directory named like
    the folder. Symlinks are not followed out of the tree. Returns ``dest``.
    """
    folder = folder.resolve()
    partial = dest.with_name(dest.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for root, dirs, files in os.walk(folder, followlinks=False):
            dirs.sort()
            root_path = Path(root)
            relative_root = root_path.relative_to(folder.parent)
            if not files and not dirs:
                archive.writestr(f"{relative_root.as_posix()}/", b"")
            for name in sorted(files):
                path = root_path / name
                if path.is_symlink() or not path.is_file():
                    continue
                # ZipFile.write copies the file in chunks: constant memory whatever the size.
                archive.write(path, (relative_root / name).as_posix())
    os.replace(partial, dest)
    return dest


def zip_paths(paths: list[Path], dest: Path, folder_name: str) -> Path:
    """Several files and folders as one zip (streamed), as if they were one folder ``folder_name``:
    entries are ``folder_name/file`` and ``folder_name/folder/...``, so the archive unpacks into one
    directory, as a zipped folder does. Two items of the same name get " (2)", " (3)"... Returns ``dest``.
    """
    top = (folder_name.strip().strip("/\\") or "files").replace("/", "_").replace("\\", "_")
    partial = dest.with_name(dest.name + ".partial")
    taken: set[str] = set()

    def unique(name: str) -> str:
        stem, dot, ext = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
        candidate, n = name, 1
        while candidate.lower() in taken:
            n += 1
            candidate = f"{stem} ({n}){dot}{ext}"
        taken.add(candidate.lower())
        return candidate

    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for raw in paths:
            path = raw.resolve()
            name = unique(path.name or "folder")
            if path.is_file():
                archive.write(path, f"{top}/{name}")
                continue
            for root, dirs, files in os.walk(path, followlinks=False):
                dirs.sort()
                root_path = Path(root)
                relative = Path(top, name, root_path.relative_to(path)).as_posix()
                if not files and not dirs:
                    archive.writestr(f"{relative}/", b"")
                for file_name in sorted(files):
                    file_path = root_path / file_name
                    if file_path.is_symlink() or not file_path.is_file():
                        continue
                    archive.write(file_path, f"{relative}/{file_name}")
    os.replace(partial, dest)
    return dest
