"""GUI test fixtures: offscreen Qt (root conftest), temp QSettings and data dir per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sgsend_desktop.gui.settings import use_settings_dir


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qapp: object) -> Iterator[Path]:
    """Every test gets its own QSettings INI dir and SGSEND_DATA_DIR; nothing touches the user's."""
    settings_dir = tmp_path / "qsettings"
    use_settings_dir(settings_dir)
    monkeypatch.setenv("SGSEND_DATA_DIR", str(tmp_path / "data"))
    yield settings_dir


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir(exist_ok=True)
    return path
