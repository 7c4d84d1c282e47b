"""The .desktop entry registers the sgsend:// scheme and the app accepts what the OS hands it."""

from __future__ import annotations

import configparser
from pathlib import Path

from PySide6.QtGui import QImage

from sgsend_desktop.gui.app import build_parser
from sgsend_desktop.gui.icons import APP_ICON_FILE

REPO = Path(__file__).resolve().parents[2]


def test_desktop_entry_registers_the_sgsend_scheme() -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(REPO / "resources" / "sgsend-desktop.desktop", encoding="utf-8")
    section = entry["Desktop Entry"]
    assert "x-scheme-handler/sgsend" in section["MimeType"].split(";")
    assert section["Exec"] == "sgsend-desktop %u"  # the OS passes the sgsend://... URL as argv[1]
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
