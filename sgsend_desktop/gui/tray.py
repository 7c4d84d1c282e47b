"""The system tray icon (the window's own actions, and live totals in its tooltip and menu) and the
notifications: native where the platform has them, else the tray balloon, else the status bar. A click
on a notification opens the window on the transfer it is about."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from sgsend_desktop.gui.icons import APP_ICON_FILE, app_icon
from sgsend_desktop.gui.main_window import MainWindow
from sgsend_desktop.gui.notifications import NativeNotifier, native_possible

CLOSED_TO_TRAY_FLAG = "closed_to_tray_shown"


def tray_available() -> bool:
    return QSystemTrayIcon.isSystemTrayAvailable()


class TrayController(QObject):
    """Owns the tray icon, its menu (the window's actions: one command, one behaviour) and the
    notifications."""

    def __init__(self, window: MainWindow, native: NativeNotifier | bool | None = None) -> None:
        """``native``: a NativeNotifier, False for none, None to use one where the platform has it."""
        super().__init__(window)
        self.window = window
        a = window.actions_
        self.menu = QMenu()
        self.menu.setAccessibleName("SGraph Send tray menu")
        self.status_action = QAction("No transfers", self.menu)
        self.status_action.setEnabled(False)  # a live heading, not a command
        self.show_action = QAction("Show SGraph Send", self.menu)
        self.send_files_action = QAction("Send files…", self.menu)
        self.open_link_action = QAction("Open link…", self.menu)
        # the window's own actions: their enabling, confirmations and shortcuts are the same here
        self.pause_all_action = a.pause_all
        self.resume_all_action = a.resume_all
        self.quit_action = a.quit
        for action in (
            self.status_action,
            None,
            self.show_action,
            self.send_files_action,
            self.open_link_action,
            None,
            self.pause_all_action,
            self.resume_all_action,
            None,
            self.quit_action,
        ):
            self.menu.addSeparator() if action is None else self.menu.addAction(action)
        self.show_action.triggered.connect(window.bring_to_front)
        for action, command in ((self.send_files_action, a.add_files), (self.open_link_action, a.open_link)):
            action.triggered.connect(lambda _c=False, command=command: self._show_then(command))

        self.icon = QSystemTrayIcon(app_icon(), self)
        self.icon.setToolTip("SGraph Send Desktop")
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.icon.messageClicked.connect(self._balloon_clicked)
        self.messages: list[tuple[str, str]] = []  # what was notified (also kept for tests/logs)
        self.routes: list[str] = []  # how each was shown: "native", "balloon" or "status bar"
        self._balloon_for = ""  # the transfer of the last balloon (its click carries no id)

        if native is None:
            native = NativeNotifier(APP_ICON_FILE, self) if native_possible() else False
        self.native: NativeNotifier | None = native if isinstance(native, NativeNotifier) else None
        if self.native is not None:
            self.native.clicked.connect(self.open_transfer)
            self.native.undelivered.connect(self._fallback)
        window.notification.connect(self.notify)
        window.hidden_to_tray.connect(self._hidden_to_tray)
        window.totals_text_changed.connect(self._totals_changed)
        self._totals_changed(window.totals_text())
        if window.tray_available:
            self.icon.show()

    def _show_then(self, command: QAction) -> None:
        self.window.bring_to_front()
        command.trigger()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            if self.window.isVisible():
                self.window.hide()
            else:
                self.window.bring_to_front()

    def _totals_changed(self, text: str) -> None:
        self.status_action.setText(text or "No transfers")
        self.icon.setToolTip("SGraph Send Desktop" + (f"\n{text}" if text else ""))

    # --- notifications ---------------------------------------------------------------------------
    def notify(self, title: str, message: str, is_error: bool = False, local_id: str = "") -> None:
        self.messages.append((title, message))
        if self.native is not None:
            self.routes.append("native")
            self.native.notify(title, message, local_id, is_error)
        else:
            self._fallback(title, message, local_id, is_error)

    def _fallback(self, title: str, message: str, local_id: str = "", is_error: bool = False) -> None:
        """No native notification: the tray balloon, or (no tray, no balloons) the status bar."""
        if self.routes and self.routes[-1] == "native":
            self.routes[-1] = "native failed"
        if self.icon.isVisible() and QSystemTrayIcon.supportsMessages():
            kind = (
                QSystemTrayIcon.MessageIcon.Warning if is_error else QSystemTrayIcon.MessageIcon.Information
            )
            self._balloon_for = local_id
            self.routes.append("balloon")
            self.icon.showMessage(title, message, kind, 6000)
        else:
            self.routes.append("status bar")
            if is_error:
                self.window.show_error(f"{title}: {message}")
            else:
                self.window.show_note(f"{title}: {message}", 10000)

    def _balloon_clicked(self) -> None:
        self.open_transfer(self._balloon_for)

    def open_transfer(self, local_id: str) -> None:
        """A notification was clicked: the window comes to the front with that transfer selected."""
        self.window.bring_to_front()
        if local_id:
            self.window.select_transfer(local_id)

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
        if self.native is not None:
            self.native.close()
