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
