"""Every command of the window as a QAction (menus, toolbar buttons, context menu, tray share them)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence


def _action(
    parent: QObject,
    text: str,
    shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
    tip: str = "",
) -> QAction:
    action = QAction(text, parent)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.setToolTip(tip or text.replace("…", "").replace("&", ""))
    action.setStatusTip(action.toolTip())
    return action


class WindowActions:
    def __init__(self, parent: QObject) -> None:
        a = _action
        self.add_files = a(parent, "Add &files…", "Ctrl+O", "Choose files to send")
        self.add_folder = a(parent, "Add f&older…", "Ctrl+Shift+O", "Choose a folder to send (zipped)")
        self.open_link = a(parent, "Open &link…", "Ctrl+L", "Download from a share link")
        self.settings = a(parent, "&Settings…", "Ctrl+,")
        self.history = a(parent, "&History…", "Ctrl+H", "Sent and received transfers")
        self.quit = a(parent, "&Quit", "Ctrl+Q")
        self.quit.setMenuRole(QAction.MenuRole.QuitRole)

        self.pause = a(parent, "&Pause", None, "Pause the selected transfer")
        self.resume = a(parent, "&Resume", None, "Resume the selected transfer")
        self.toggle = a(parent, "Pause / resume", "Space", "Pause or resume the selected transfer")
        self.cancel = a(parent, "&Cancel", QKeySequence.StandardKey.Delete, "Cancel the selected transfer")
        self.retry = a(parent, "Re&try", "Ctrl+R", "Retry the failed transfer")
        self.discard = a(parent, "&Discard", "Shift+Del", "Remove the transfer from the list")
        self.move_up = a(parent, "Move &up", "Ctrl+Up", "Move the queued transfer up")
        self.move_down = a(parent, "Move do&wn", "Ctrl+Down", "Move the queued transfer down")
        self.pause_all = a(parent, "Pause &all", "Ctrl+Shift+P")
        self.resume_all = a(parent, "Resume a&ll", "Ctrl+Shift+R")

        self.copy_link = a(
            parent, "&Copy link", QKeySequence.StandardKey.Copy, "Copy the share link with its key"
        )
        self.copy_link_only = a(parent, "Copy link &only", None, "Copy the link without the key")
        self.copy_key = a(parent, "Copy &key", None, "Copy the key to send separately")
        self.show_qr = a(parent, "&QR code", None, "Show the share link as a QR code")
        self.show_qr.setCheckable(True)
        self.delete_remote = a(parent, "D&elete from server", None, "Delete the sent file from the server")
        self.open_file = a(parent, "&Open", "Ctrl+Return", "Open the received file")
        self.show_in_folder = a(parent, "Show in &folder", None, "Show the received file in its folder")

        # These act on the selected row; they fire only while the queue has focus, so that Space,
        # Delete and Ctrl+C keep their usual meaning in text fields.
        for action in (self.toggle, self.cancel, self.copy_link, self.discard, self.open_file):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

    def row_actions(self) -> list[QAction | None]:
        """The per-row context menu (None = separator)."""
        return [
            self.pause,
            self.resume,
            self.retry,
            self.cancel,
            None,
            self.copy_link,
            self.copy_link_only,
            self.copy_key,
            self.show_qr,
            self.delete_remote,
            None,
            self.open_file,
            self.show_in_folder,
            None,
            self.move_up,
            self.move_down,
            None,
            self.discard,
        ]
