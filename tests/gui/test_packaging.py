"""The .desktop entry registers the sgsend:// scheme and the app accepts what the OS hands it; the
PyInstaller bundle's definition, the self-test's bundle checks and the install scripts (no build needed)."""

from __future__ import annotations

import configparser
import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from sgsend_desktop.cli import COMMAND_MODULES
from sgsend_desktop.gui.app import build_parser
from sgsend_desktop.gui.icons import APP_ICON_FILE

REPO = Path(__file__).resolve().parents[2]


def test_desktop_entry_registers_the_sgsend_scheme() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(REPO / "resources" / "sgsend-desktop.desktop", encoding="utf-8")
    section = entry["Desktop Entry"]
    assert "x-scheme-handler/sgsend" in section["MimeType"].split(";")
    # the OS passes the sgsend://... URL, or the files dropped on the launcher (file:// URLs), as argv
    assert section["Exec"] == "sgsend-desktop %U"
    assert section["Type"] == "Application" and section["Icon"] == "sgsend-desktop"


def test_command_line_takes_scheme_and_https_links() -> None:
    args = build_parser().parse_args(["sgsend://open?url=https%3A%2F%2Fh%2Fen-gb%2Fdownload%2F%23abc"])
    assert args.links == ["sgsend://open?url=https%3A%2F%2Fh%2Fen-gb%2Fdownload%2F%23abc"]
    assert not args.self_test
    assert build_parser().parse_args(["--self-test"]).self_test


def test_app_icon_renders(qapp: object) -> None:
    image = QImage(str(APP_ICON_FILE))
    assert not image.isNull() and image.width() >= 64
    assert (REPO / "resources" / "icons" / "sgsend-desktop.svg").read_bytes() == APP_ICON_FILE.read_bytes()


def test_debian_package_list_names_the_xcb_runtime() -> None:
    packages = (REPO / "packaging" / "debian-runtime-packages.txt").read_text().split()
    assert {"libxcb-cursor0", "libxkbcommon-x11-0", "libegl1", "libfontconfig1", "libdbus-1-3"} <= set(
        packages
    )


# --- the PyInstaller bundle (packaging/pyinstaller): what can be checked without building it -----------
def _bundle() -> ModuleType:
    path = REPO / "packaging" / "pyinstaller" / "bundle.py"
    spec = importlib.util.spec_from_file_location("sgsend_bundle_layout", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_spec_declares_the_data_dirs_and_the_cli_modules() -> None:
    bundle = _bundle()
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    wanted = {"sgsend_desktop/" + glob.rsplit("/", 1)[0] for glob in package_data["sgsend_desktop"]}
    assert wanted == {"sgsend_desktop/server/static", "sgsend_desktop/gui/resources"}
    assert {src for src, _dest in bundle.DATAS} == wanted  # every data folder is declared...
    for src, dest in bundle.DATAS:
        assert src == dest  # ...where the code looks for it (icons.py, importlib.resources)
        assert any((REPO / src).iterdir())
    assert {f"sgsend_desktop.cli.{name}" for name in COMMAND_MODULES} <= set(bundle.HIDDEN_IMPORTS)
    spec = (REPO / "packaging" / "pyinstaller" / "sgsend.spec").read_text()
    for used in ("bundle.DATAS", "bundle.HIDDEN_IMPORTS", "bundle.keep_data", "bundle.keep_binary"):
        assert used in spec
    assert spec.count("EXE(") == 1 and "executable(gui, bundle.APP, console=False)" in spec
    assert "executable(cli, bundle.CLI, console=True)" in spec and "COLLECT(" in spec
    assert "CFBundleURLTypes" in spec and "bundle.URL_SCHEME" in spec and bundle.URL_SCHEME == "sgsend"


def test_bundle_keeps_what_the_app_loads_and_drops_the_rest() -> None:
    bundle = _bundle()
    keep, drop = bundle.keep_data, bundle.keep_binary
    assert keep("botocore/data/s3/2006-03-01/service-2.json.gz")
    assert keep("botocore/data/endpoints.json") and keep("botocore/data/partitions.json")
    assert not keep("botocore/data/ec2/2016-11-15/service-2.json.gz")
    assert not keep("PySide6/Qt/translations/qtbase_de.qm")
    assert keep("sgsend_desktop/server/static/download.html")
    assert keep("sgsend_desktop/gui/resources/sgsend-desktop.svg")
    plugins = "PySide6/Qt/plugins/"
    kept = [
        "platforms/libqxcb.so",
        "platforms/libqwayland.so",
        "platforms/libqoffscreen.so",
        "platforms/qwindows.dll",
        "platforms/libqcocoa.dylib",
        "imageformats/libqsvg.so",
        "iconengines/libqsvgicon.so",
        "platforminputcontexts/libcomposeplatforminputcontextplugin.so",
    ]
    dropped = [
        "platformthemes/libqgtk3.so",
        "platforms/libqvnc.so",
        "platforms/libqeglfs.so",
        "imageformats/libqjpeg.so",
        "tls/libqopensslbackend.so",
        "networkinformation/libqglib.so",
    ]
    assert all(drop(plugins + name) for name in kept)
    assert not any(drop(plugins + name) for name in dropped)
    assert not drop("libstdc++.so.6") and not drop("libfontconfig.so.1") and not drop("libX11.so.6")
    assert drop("libxcb-cursor.so.0") and drop("libpython3.11.so.1.0") and drop("libssl.so.3")


def test_orphaned_libraries_are_those_only_dropped_binaries_needed() -> None:
    bundle = _bundle()
    links = {
        "gtk3.so": ["libgtk.so", "libglib.so"],
        "libgtk.so": ["libcairo.so"],
        "libcairo.so": ["libpng.so"],
        "xcb.so": ["libglib.so", "libpng.so"],
        "libctypes.so": [],  # loaded through ctypes: nothing links it
    }
    before = [(f"plugins/x/{n}" if n.endswith(("gtk3.so", "xcb.so")) else n, n) for n in links]
    after = [entry for entry in before if entry[1] != "gtk3.so"]
    orphans = bundle.orphaned_libraries(before, after, lambda src: links.get(src, []))
    assert orphans == {"libgtk.so", "libcairo.so"}  # libpng and libglib: xcb.so still needs them


def test_icons_for_installers_decode(qapp: object) -> None:
    from PySide6.QtGui import QImageReader

    icons = REPO / "resources" / "icons"
    for name, count in (("sgsend-desktop.ico", 7), ("sgsend-desktop.icns", 7), ("sgsend-desktop.png", 1)):
        reader = QImageReader(str(icons / name))
        assert reader.imageCount() == count, name
        assert not reader.read().isNull(), name


def test_the_self_tests_bundle_checks_pass_here(qapp: object, tmp_path: Path) -> None:
    from sgsend_desktop.gui import self_test
    from sgsend_desktop.server.embedded import start_embedded_server

    assert "icon renders" in self_test.check_icon()
    assert "payload, serve, transfers" in self_test.check_cli()
    assert "S3" in self_test.check_s3_model()
    with start_embedded_server(tmp_path) as server:
        assert "answer 200" in self_test.check_pages(server.url)


def test_the_self_tests_bundle_checks_catch_what_a_bundle_loses(
    qapp: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trial bundle's two faults: the icon file missing, the server's static files missing (500s)."""
    from sgsend_desktop.gui import icons, self_test
    from sgsend_desktop.server import routes_pages
    from sgsend_desktop.server.embedded import start_embedded_server

    monkeypatch.setattr(icons, "APP_ICON_FILE", tmp_path / "missing.svg")
    with pytest.raises(self_test.StepFailed, match="icon"):
        self_test.check_icon()

    def lost(name: str) -> bytes:
        raise FileNotFoundError(name)

    monkeypatch.setattr(routes_pages, "static_text", lost)
    with start_embedded_server(tmp_path) as server, pytest.raises(self_test.StepFailed, match="500"):
        self_test.check_pages(server.url)


LINK = "sgsend://open?url=https%3A%2F%2Fsend.example%2Fen-gb%2Fdownload%2F%23abc123def456%2F-vv8_f7_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBk"


def test_a_file_open_event_hands_its_link_over(qtbot: QtBot) -> None:
    """macOS delivers sgsend:// links as an Apple Event: Qt's FileOpen event on the application."""
    from PySide6.QtCore import QCoreApplication, QUrl
    from PySide6.QtGui import QFileOpenEvent

    from sgsend_desktop.core.links import parse_link
    from sgsend_desktop.gui.app import FileOpenLinks

    app = QCoreApplication.instance()
    assert app is not None
    links = FileOpenLinks()
    app.installEventFilter(links)
    try:
        with qtbot.waitSignal(links.opened, timeout=2000) as opened:
            QCoreApplication.postEvent(app, QFileOpenEvent(QUrl(LINK)))
        assert opened.args is not None
        [[handed]] = opened.args
        assert parse_link(handed) == parse_link(LINK)
        seen: list[list[str]] = []
        links.opened.connect(seen.append)
        QCoreApplication.sendEvent(app, QFileOpenEvent(str(REPO / "README.md")))  # a file: to send
        assert seen == [[(REPO / "README.md").as_uri()]]  # (tests/gui/test_incoming.py)
    finally:
        app.removeEventFilter(links)


def test_the_app_downloads_links_from_file_open_events(
    qtbot: QtBot, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtCore import QCoreApplication, QUrl
    from PySide6.QtGui import QFileOpenEvent

    from sgsend_desktop.gui.app import DesktopApp

    desktop = DesktopApp(data_dir, tray=False)
    handled: list[str] = []
    monkeypatch.setattr(desktop.window, "handle_incoming", handled.extend)
    app = QCoreApplication.instance()
    assert app is not None
    try:
        QCoreApplication.sendEvent(app, QFileOpenEvent(QUrl(LINK)))
        assert handled == [LINK]  # the same path as argv links and a second launch's
    finally:
        desktop.close_now()
    QCoreApplication.sendEvent(app, QFileOpenEvent(QUrl(LINK)))
    assert handled == [LINK]  # a closed app stops listening


def test_the_embedded_server_starts_with_no_console(tmp_path: Path) -> None:
    """A windowed build (Windows) has sys.stdout and sys.stderr set to None: the server must still run."""
    code = """
import sys, traceback, urllib.request
from pathlib import Path
out = Path(sys.argv[2])
sys.stdout = sys.stderr = None
try:
    from sgsend_desktop.server.embedded import start_embedded_server
    with start_embedded_server(Path(sys.argv[1])) as server:
        page = urllib.request.urlopen(server.url + "/en-gb/download/", timeout=10).read()
        script = urllib.request.urlopen(server.url + "/_static/download.js", timeout=10).read()
    out.write_bytes(page + b"\\n---\\n" + script)
except BaseException:
    out.write_text("FAILED\\n" + traceback.format_exc())
    raise SystemExit(1)
"""
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "data"), str(out)],
        cwd=str(REPO), timeout=60, check=False, capture_output=True,
    )
    assert done.returncode == 0, out.read_text() if out.exists() else done
    assert b"/_static/download.js" in out.read_bytes() and b"FAILED" not in out.read_bytes()


def test_closed_std_streams_are_pointed_at_the_null_device(tmp_path: Path) -> None:
    """`sgsend-desktop >&- 2>&-`: files the app opens must not get descriptors 1 and 2."""
    code = """
import os, sys
os.close(1); os.close(2)
sys.stdout = sys.stderr = None
from sgsend_desktop.gui.app import ensure_std_streams
ensure_std_streams()
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT)
print("to the null device")
os.write(fd, b"fd=%d stdout=%s" % (fd, type(sys.stdout).__name__.encode()))
"""
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-c", code, str(out)], cwd=str(REPO), timeout=60, check=False)
    assert done.returncode == 0
    fd, stream = out.read_text().split()
    assert int(fd.split("=")[1]) > 2 and stream == "stdout=TextIOWrapper"


def _fake_bundle(folder: Path) -> Path:
    bundle = folder / "sgsend-desktop"
    (bundle / "_internal").mkdir(parents=True)
    for name in ("sgsend-desktop", "sgsend"):
        (bundle / name).write_text(f"#!/bin/sh\necho {name} 0.1.0\n")
        (bundle / name).chmod(0o755)
    shutil.copy(REPO / "resources" / "sgsend-desktop.desktop", bundle)
    shutil.copy(REPO / "resources" / "icons" / "sgsend-desktop.svg", bundle)
    shutil.copy(REPO / "resources" / "icons" / "sgsend-desktop.png", bundle)
    (bundle / "VERSION").write_text("SGraph Send Desktop 0.1.0\n")
    for script in ("install.sh", "uninstall.sh"):
        shutil.copy(REPO / "packaging" / "linux" / script, bundle)
    return bundle


def test_linux_install_and_uninstall(tmp_path: Path) -> None:
    bundle = _fake_bundle(tmp_path / "unpacked")
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_DIRS": "/usr/share"}
    subprocess.run(["bash", str(bundle / "install.sh")], env=env, check=True, capture_output=True, timeout=60)
    opt = home / ".local" / "opt" / "sgsend-desktop"
    assert (opt / "_internal").is_dir()
    for name in ("sgsend-desktop", "sgsend"):
        link = home / ".local" / "bin" / name
        assert link.is_symlink() and link.resolve() == (opt / name).resolve()
    entry = (home / ".local/share/applications/sgsend-desktop.desktop").read_text()
    assert f'Exec="{opt}/sgsend-desktop" %U' in entry and "x-scheme-handler/sgsend" in entry
    assert (home / ".local/share/icons/hicolor/scalable/apps/sgsend-desktop.svg").is_file()
    assert (home / ".local/share/icons/hicolor/256x256/apps/sgsend-desktop.png").is_file()
    subprocess.run(["bash", str(bundle / "install.sh")], env=env, check=True, capture_output=True, timeout=60)
    subprocess.run(["bash", str(opt / "uninstall.sh")], env=env, check=True, capture_output=True, timeout=60)
    left = [p for p in home.rglob("*") if not p.is_dir() and "mimeapps.list" not in p.name
            and not p.name.endswith(".cache")]
    assert left == []
    mimeapps = home / ".config" / "mimeapps.list"
    assert not mimeapps.exists() or "sgsend" not in mimeapps.read_text()
