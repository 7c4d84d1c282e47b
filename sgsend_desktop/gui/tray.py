"""The system tray icon: Show, Pause all, Resume all, Quit; and the notifications."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from sgsend_desktop.gui.icons import app_icon
from sgsend_desktop.gui.main_window import MainWindow

CLOSED_TO_TRAY_FLAG = "closed_to_tray_shown"


def tray_available() -> bool:
    return QSystemTrayIcon.isSystemTrayAvailable()


class TrayController(QObject):
    """Owns the tray icon and its menu; its actions act on the window's real queue."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.menu = QMenu()
        self.menu.setAccessibleName("SGraph Send tray menu")
        self.show_action = QAction("Show SGraph Send", self.menu)
        self.pause_all_action = QAction("Pause all", self.menu)
        self.resume_all_action = QAction("Resume all", self.menu)
        self.quit_action = QAction("Quit", self.menu)
        for action in (
            self.show_action,
            None,
            self.pause_all_action,
            self.resume_all_action,
            None,
            self.quit_action,
        ):
            self.menu.addSeparator() if action is None else self.menu.addAction(action)
        self.show_action.triggered.connect(window.bring_to_front)
        self.pause_all_action.triggered.connect(window.pause_all)
        self.resume_all_action.triggered.connect(window.resume_all)
        self.quit_action.triggered.connect(window.request_quit)

        self.icon = QSystemTrayIcon(app_icon(), self)
        self.icon.setToolTip("SGraph Send Desktop")
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.messages: list[tuple[str, str]] = []  # what was notified (also kept for tests/logs)
        window.notification.connect(self.notify)
        window.hidden_to_tray.connect(self._hidden_to_tray)
        if window.tray_available:
            self.icon.show()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            if self.window.isVisible():
                self.window.hide()
            else:
                self.window.bring_to_front()

    def notify(self, title: str, message: str, is_error: bool = False) -> None:
        self.messages.append((title, message))
        if self.icon.isVisible() and QSystemTrayIcon.supportsMessages():
            kind = (
                QSystemTrayIcon.MessageIcon.Warning if is_error else QSystemTrayIcon.MessageIcon.Information
            )
            self.icon.showMessage(title, message, kind, 6000)
        else:  # no tray (or no balloon support): the status bar says it instead
            self.window.statusBar().showMessage(f"{title}: {message}", 10000)

    def _hidden_to_tray(self) -> None:
        settings = self.window.settings
        if not settings.flag(CLOSED_TO_TRAY_FLAG):
            settings.set_flag(CLOSED_TO_TRAY_FLAG)
            self.notify(
                "SGraph Send is still running",
                "Transfers keep going in the background. Use the tray icon to show the window or quit.",
            )

    def hide(self) -> None:
        self.icon.hide()
