"""Every command of the window as a QAction: the menus, the toolbar, the context menu, the rows' hover
buttons and the tray all share these (one enabling rule, one confirmation, one shortcut each)."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence

from sgsend_desktop.gui.icons import command_icon


def _action(
    parent: QObject,
    text: str,
    shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
    tip: str = "",
) -> QAction:
    action = QAction(text, parent)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    plain = tip or text.replace("…", "").replace("&", "")
    keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    action.setToolTip(f"{plain} ({keys})" if keys else plain)
    action.setStatusTip(plain)
    return action


# action attribute → icon name (icons.LINE_ICONS / THEME_NAMES)
ICONS = {
    "add_files": "add-file",
    "add_folder": "add-folder",
    "open_link": "link",
    "history": "history",
    "settings": "settings",
    "pause": "pause",
    "resume": "play",
    "retry": "retry",
    "cancel": "cancel",
    "discard": "remove",
    "move_up": "up",
    "move_down": "down",
    "pause_all": "pause-all",
    "resume_all": "play-all",
    "clear_finished": "clear-done",
    "copy_link": "copy",
    "show_qr": "qr",
    "delete_remote": "cloud-off",
    "open_file": "open",
    "show_in_folder": "folder",
    "unpack": "unpack",
}


class WindowActions:
    def __init__(self, parent: QObject) -> None:
        a = _action
        self.add_files = a(parent, "Add &files…", "Ctrl+O", "Choose files to send")
        self.add_folder = a(parent, "Add f&older…", "Ctrl+Shift+O", "Choose a folder to send (zipped)")
        self.open_link = a(parent, "Open &link…", "Ctrl+L", "Download from a share link")
        self.settings = a(parent, "&Settings…", "Ctrl+,")
        self.history = a(parent, "&History…", "Ctrl+H", "Sent and received transfers")
        self.quit = a(parent, "&Quit", "Ctrl+Q", "Quit SGraph Send (asks if transfers are running)")
        self.quit.setMenuRole(QAction.MenuRole.QuitRole)
        self.about = a(parent, "&About SGraph Send Desktop")
        self.about.setMenuRole(QAction.MenuRole.AboutRole)

        self.pause = a(parent, "&Pause", None, "Pause the selected transfers")
        self.resume = a(parent, "&Resume", None, "Resume the selected transfers")
        self.toggle = a(parent, "Pause / resume", "Space", "Pause or resume the selected transfer")
        self.cancel = a(parent, "&Cancel…", QKeySequence.StandardKey.Delete, "Cancel the selected transfers")
        self.retry = a(
            parent,
            "Re&try",
            "Ctrl+R",
            "Retry: a failed transfer resumes, a cancelled one starts again, one waiting for the server "
            "tries it now",
        )
        self.discard = a(
            parent, "Re&move from list…", "Shift+Del", "Remove the selected transfers from the list"
        )
        self.move_up = a(parent, "Move &up", "Ctrl+Up", "Move the queued transfer up")
        self.move_down = a(parent, "Move do&wn", "Ctrl+Down", "Move the queued transfer down")
        self.pause_all = a(parent, "Pause &all", "Ctrl+Shift+P", "Pause every running transfer")
        self.resume_all = a(
            parent, "Resume a&ll", "Ctrl+Shift+R", "Resume every paused or failed transfer; retry the server"
        )
        self.clear_finished = a(
            parent, "Clear fi&nished", None,
            "Take the finished transfers off the list (History keeps them, with their links)",
        )

        self.copy_link = a(
            parent, "&Copy link", QKeySequence.StandardKey.Copy, "Copy the share link (with its key)"
        )
        self.copy_link_only = a(parent, "Copy link &only", None, "Copy the link without the key")
        self.copy_key = a(parent, "Copy &key", None, "Copy the key to send separately")
        self.show_qr = a(parent, "&QR code", None, "Show the share link as a QR code")
        self.show_qr.setCheckable(True)
        self.delete_remote = a(parent, "D&elete from server…", None, "Delete the sent file from the server")
        self.open_file = a(parent, "&Open", "Ctrl+Return", "Open the received file")
        self.show_in_folder = a(parent, "Show in &folder", None, "Show the received file in its folder")
        self.unpack = a(parent, "&Unpack…", None, "Unpack the received zip into a folder")

        # These act on the selected rows; they fire only while the queue has focus, so that Space,
        # Delete and Ctrl+C keep their usual meaning in text fields.
        for action in (self.toggle, self.cancel, self.copy_link, self.discard, self.open_file):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.refresh_icons()

    def refresh_icons(self) -> None:
        """(Again after a palette change: our own icons are drawn in the palette's text colour.)"""
        for name, icon in ICONS.items():
            getattr(self, name).setIcon(command_icon(icon))

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
            self.unpack,
            None,
            self.move_up,
            self.move_down,
            None,
            self.discard,
        ]
