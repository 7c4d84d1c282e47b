"""What goes into the PyInstaller bundle and what stays out: read by sgsend.spec, build.sh and the tests.

Plain Python with no PyInstaller import, so `tests/gui/test_packaging.py` checks it without building.
Each exclusion below was measured on a trial build (issue 13); the frozen `--self-test` and
`packaging/pyinstaller/smoke.sh` prove that what is left still does the app's job.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APP = "sgsend-desktop"  # the windowed executable, and the name of the bundle folder
CLI = "sgsend"  # the console executable (CLI and `sgsend serve`)
BUNDLE_ID = "ai.sgraph.send.desktop"
URL_SCHEME = "sgsend"
BUDGET_MB = 150  # the built folder on disk (du), checked by build.sh and smoke.sh

# Data files read at run time (by path, or through importlib.resources): (source in the repo, bundle dir).
# They must match [tool.setuptools.package-data] in pyproject.toml; a test compares the two.
DATAS = [
    ("sgsend_desktop/gui/resources", "sgsend_desktop/gui/resources"),
    ("sgsend_desktop/server/static", "sgsend_desktop/server/static"),
]

# Modules PyInstaller cannot see by itself. The CLI's command modules are imported normally by
# sgsend_desktop/cli/__init__.py now; they stay listed here so a return to importlib cannot break a bundle.
HIDDEN_IMPORTS = [
    "sgsend_desktop.cli.payload",
    "sgsend_desktop.cli.serve",
    "sgsend_desktop.cli.transfers",
    # desktop-notifier picks its platform backend inside a function; the D-Bus one needs dbus_fast
    "desktop_notifier.backends.dbus",
    "dbus_fast",
]

# Data files of third-party packages, collected by the spec (collect_data_files): desktop-notifier's
# default icon, which it resolves at import.
PACKAGE_DATA = ["desktop_notifier"]

# Python packages neither executable uses (the CLI additionally leaves Qt out: it is Qt-free).
EXCLUDES = ["tkinter", "_tkinter", "unittest", "pydoc_data", "lib2to3", "PIL", "numpy", "setuptools", "pip"]
CLI_EXCLUDES = [*EXCLUDES, "PySide6", "shiboken6", "sgsend_desktop.gui"]

# botocore ships the models of ~450 AWS services (28 MB); `sgsend serve --storage s3` uses S3 only.
BOTOCORE_SERVICES = {"s3"}

# Qt plugins, by folder: what the app loads. Platforms: xcb and wayland (desktops), offscreen
# (`--self-test` without a display), minimal; cocoa and windows elsewhere. The SVG image format and icon
# engine draw the icon. Not kept: the GTK3 theme (it pulls in GTK, cairo, pango and atk), the
# framebuffer/EGLFS/VNC platforms, Wayland's OpenGL buffer integrations (widgets draw into shared
# memory), TLS backends and network-information plugins (Qt's network stack here only carries the
# single-instance channel; httpx does HTTP), and image formats nobody opens.
QT_PLUGIN_DIRS_KEPT = {
    "platforms",
    "platformthemes",
    "platforminputcontexts",
    "iconengines",
    "imageformats",
    "styles",
    "xcbglintegrations",
    "wayland-decoration-client",
    "wayland-shell-integration",
}
QT_PLUGINS_DROPPED = re.compile(
    r"^(lib)?q(gtk3|eglfs|linuxfb|minimalegl|vkkhrdisplay|vnc|directfb|pdf|gif|jpeg|tiff|webp|wbmp|tga)"
    r"d?\.(so|dll|dylib)$"
)

# Libraries a Linux bundle must take from the user's system, not from the build machine: the C++ runtime
# (the system's graphics drivers load into the process and need a C++ runtime at least as new as theirs),
# the font stack (a bundled fontconfig may not read the system's fonts.conf), the X11 client libraries
# (PyInstaller already leaves libxcb, libGL, libEGL and libwayland to the system), and GLib, D-Bus and
# Kerberos, which read the system's own configuration and modules. Every desktop has them;
# packaging/debian-runtime-packages.txt names their Debian packages.
# The libraries only these needed (libsystemd, libgcrypt, ...) then drop out as orphans.
SYSTEM_LIBS = re.compile(
    r"^lib(stdc\+\+|gcc_s|fontconfig|freetype|expat|X11|X11-xcb|Xau|Xdmcp|Xext|Xrender|dbus-1|glib-2\.0|"
    r"gthread-2\.0|gssapi_krb5)\.so[.\d]*$"
)
# Python extension modules and plugins are loaded by name at run time: never orphans.
_LOADED_BY_NAME = re.compile(r"(\.abi3\.so|\.cpython-[^/]*\.so|\.pyd)$")


def _parts(dest: str) -> list[str]:
    return dest.replace("\\", "/").split("/")


def keep_data(dest: str) -> bool:
    """False for data files the app never reads (``dest``: the file's path inside the bundle)."""
    parts = _parts(dest)
    if parts[:2] == ["botocore", "data"] and len(parts) > 3:
        return parts[2] in BOTOCORE_SERVICES  # data/<service>/<date>/...; top-level files are kept
    if parts[:1] == ["boto3"] and parts[1:2] == ["data"] and len(parts) > 3:
        return parts[2] in BOTOCORE_SERVICES
    if parts[:3] == ["PySide6", "Qt", "translations"]:
        return False  # the app is English only
    if "__pycache__" in parts:
        return False
    return not (parts[-1].endswith((".pyi", ".typed")) and parts[0] in ("PySide6", "shiboken6"))


def keep_binary(dest: str) -> bool:
    """False for binaries the app never loads or takes from the system (``dest``: path in the bundle)."""
    parts = _parts(dest)
    name = parts[-1]
    if "plugins" in parts[:-1]:
        kind = parts[parts.index("plugins") + 1]
        return kind in QT_PLUGIN_DIRS_KEPT and not QT_PLUGINS_DROPPED.match(name)
    return not SYSTEM_LIBS.match(name)


def orphaned_libraries(
    before: list[tuple[str, str]], after: list[tuple[str, str]], needs: Callable[[str], list[str]]
) -> set[str]:
    """The shared libraries (bundle paths) that only dropped binaries needed.

    ``before``/``after``: (bundle path, source path) of the binaries before and after ``keep_binary``;
    ``needs(source)``: the file names a binary links (DT_NEEDED and the like). The roots are what is
    loaded by name (extension modules, Qt plugins) and whatever no binary links (libpython, libraries
    loaded through ctypes); a library that something in ``before`` linked but that no root still reaches
    is orphaned.
    """
    by_name = {Path(dest).name: (dest, src) for dest, src in before}
    linked: dict[str, list[str]] = {}

    def links(src: str) -> list[str]:
        if src not in linked:
            linked[src] = [name for name in needs(src) if name in by_name]
        return linked[src]

    needed_before = {name for _dest, src in before for name in links(src)}
    kept = {Path(dest).name: (dest, src) for dest, src in after}
    roots = [
        src
        for name, (dest, src) in kept.items()
        if name not in needed_before or _LOADED_BY_NAME.search(name) or "plugins" in _parts(dest)[:-1]
    ]
    reached: set[str] = set()
    while roots:
        for name in links(roots.pop()):
            if name in kept and name not in reached:
                reached.add(name)
                roots.append(kept[name][1])
    return {dest for name, (dest, _src) in kept.items() if name in needed_before and name not in reached}


def version() -> str:
    text = (REPO / "sgsend_desktop" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    if match is None:
        raise ValueError("no __version__ in sgsend_desktop/__init__.py")
    return match.group(1)


def windows_version_tuple() -> tuple[int, int, int, int]:
    numbers = [int(n) for n in re.findall(r"\d+", version())[:4]]
    return (*numbers, 0, 0, 0, 0)[:4]  # type: ignore[return-value]
