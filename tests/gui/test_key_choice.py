"""The send options' "Key" choice (issue 9 item 1): random by default; a word key shows its risk."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from tests.gui.test_window_unit import make_window


def test_random_is_the_default_and_word_keys_warn(qtbot: QtBot, data_dir: Path) -> None:
    window, _engine = make_window(qtbot, data_dir)
    options = window.current_options()
    assert (options.friendly_key, options.strong_friendly) == (False, False)
    assert window.send_options.key_warning.isHidden()

    window.send_options.key_combo.setCurrentIndex(1)  # word-word-1234, the web UI's form
    assert window.send_options.key_warning.isVisible() and "minutes" in window.send_options.key_warning.text()
    assert "guess" in window.send_options.key_combo.toolTip()
    assert (window.current_options().friendly_key, window.current_options().strong_friendly) == (True, False)

    window.send_options.key_combo.setCurrentIndex(2)  # five words: resists guessing, this app only
    assert window.send_options.key_warning.isHidden()
    assert (window.current_options().friendly_key, window.current_options().strong_friendly) == (True, True)
