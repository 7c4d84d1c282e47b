"""GUI test fixtures: offscreen Qt (root conftest), temp QSettings and data dir per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sgsend_desktop.gui.rules import Question
from sgsend_desktop.gui.settings import use_settings_dir


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, qapp: object) -> Iterator[Path]:
    """Every test gets its own QSettings INI dir and SGSEND_DATA_DIR; nothing touches the user's."""
    settings_dir = tmp_path / "qsettings"
    use_settings_dir(settings_dir)
    monkeypatch.setenv("SGSEND_DATA_DIR", str(tmp_path / "data"))
    # native notifications only where a test asks for them (tests/gui/test_notifications.py)
    monkeypatch.setenv("SGSEND_NO_NATIVE_NOTIFICATIONS", "1")
    yield settings_dir


@pytest.fixture(autouse=True)
def no_unexpected_questions(monkeypatch: pytest.MonkeyPatch) -> None:
    """A modal question nobody answers would hang the test: one that a test did not expect fails it.
    Tests that expect questions set ``window.confirm`` (or use the real box deliberately)."""

    def unexpected(_parent: object, question: Question) -> bool:
        raise AssertionError(f"unexpected question: {question.title}")

    monkeypatch.setattr("sgsend_desktop.gui.main_window.ask", unexpected)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir(exist_ok=True)
    return path
