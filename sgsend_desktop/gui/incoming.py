"""What the app is handed from outside — `sgsend-desktop ARG…`, a second launch, a file dropped on the
app's icon (a `%U` in the .desktop entry, a macOS FileOpen event): share links to download, and local
files or folders to send. Qt-free, so the launcher sorts its arguments before any window exists.

Files travel as ``file://`` URLs, absolute, so that a second launch in another working directory hands
the first instance paths it can use, through the same single-instance message as links.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

FILE_SCHEME = "file:"
PATH_PREFIXES = ("/", "./", "../", "~")


def as_incoming(arg: str, cwd: Path) -> str:
    """``arg`` as the app takes it: a link unchanged; a file URL unchanged; a path — one that exists, or
    one written as a path (``/…``, ``./…``, ``~…``, with a separator) — as an absolute ``file://`` URL."""
    text = arg.strip()
    lowered = text.lower()
    if not text or lowered.startswith((FILE_SCHEME, "sgsend:")) or "://" in text:
        return text
    path = Path(os.path.normpath(cwd / Path(text).expanduser()))
    if path.exists() or text.startswith(PATH_PREFIXES) or os.sep in text:
        return path.as_uri()
    return text  # e.g. a friendly word-word-1234 link


def split_incoming(items: Iterable[str]) -> tuple[list[Path], list[str]]:
    """(local paths to send, links to download), each in the order given."""
    paths: list[Path] = []
    links: list[str] = []
    for item in items:
        text = item.strip()
        if not text:
            continue
        if text.lower().startswith(FILE_SCHEME):
            paths.append(Path(url2pathname(unquote(urlparse(text).path))))
        else:
            links.append(text)
    return paths, links


def missing_text(missing: Sequence[Path]) -> str:
    """The status bar's sentence for paths that are not there ("" when none)."""
    if not missing:
        return ""
    more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
    return f"Cannot send {missing[0]}: there is no such file or folder{more}."
