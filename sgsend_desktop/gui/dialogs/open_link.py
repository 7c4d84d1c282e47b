""" "Open link…" (Ctrl+L): a share link (prefilled from the clipboard), an optional separate key, and
the folder to save in (the download folder of Settings unless changed here, for this download)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sgsend_desktop.core.errors import LinkError
from sgsend_desktop.gui.colors import ToneLabel
from sgsend_desktop.gui.formatting import link_error_text
from sgsend_desktop.gui.settings import default_download_dir


def _parse(text: str, key: str | None) -> object:
    from sgsend_desktop.core.links import parse_link

    return parse_link(text, key=key)


def looks_like_share_link(text: str) -> bool:
    text = text.strip()
    if not text or len(text) > 4096 or "\n" in text:
        return False
    try:
        _parse(text, None)
    except LinkError:
        return False
    except Exception:  # any other parse surprise: just don't prefill
        return False
    return True


class OpenLinkDialog(QDialog):
    """Validates on OK: a bad link keeps the dialog open with the LinkError's sentence shown."""

    def __init__(
        self,
        parent: QWidget | None = None,
        validate: Callable[[str, str | None], object] = _parse,
        folder: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open link")
        self.setAccessibleName("Open a share link")
        self.setMinimumWidth(560)
        self._validate = validate

        intro = QLabel("Paste a share link. If the sender gave you the key separately, paste it below.")
        intro.setWordWrap(True)
        self.link_edit = QLineEdit()
        self.link_edit.setPlaceholderText("https://…/en-gb/download/#…  or  sgsend://open?url=…")
        self.link_edit.setAccessibleName("Share link")
        self.key_edit = QLineEdit()
        self.key_edit.setPlaceholderText(
            "Only if the link has no key (e.g. apple-mango-5623 or 43 characters)"
        )
        self.key_edit.setAccessibleName("Key (optional)")
        # where this download is saved: a full disk, or a file that belongs elsewhere, without a trip to
        # Settings
        self.folder_edit = QLineEdit(str(folder or default_download_dir()))
        self.folder_edit.setAccessibleName("Save in folder")
        self.folder_button = QPushButton("C&hange…")
        self.folder_button.setAccessibleName("Choose the folder to save in")
        self.folder_button.clicked.connect(self._choose_folder)
        self.choose_folder: Callable[[str], str] = lambda start: QFileDialog.getExistingDirectory(
            self, "Save the download in", start
        )
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.folder_button)
        self.error_label = ToneLabel("", "error")
        self.error_label.setWordWrap(True)
        self.error_label.setAccessibleName("Link error")
        self.error_label.hide()

        form = QFormLayout()
        for text, field in (("&Link:", self.link_edit), ("&Key:", self.key_edit)):
            label = QLabel(text)
            label.setBuddy(field)
            form.addRow(label, field)
        save_label = QLabel("&Save in:")
        save_label.setBuddy(self.folder_edit)
        form.addRow(save_label, folder_row)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.download_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.download_button.setText("Download")
        self.download_button.setAccessibleName("Download")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setAccessibleName("Cancel")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.link_edit.textChanged.connect(lambda _text: self.error_label.hide())
        self.key_edit.textChanged.connect(lambda _text: self.error_label.hide())

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

        clip = QGuiApplication.clipboard().text()
        if looks_like_share_link(clip):
            self.link_edit.setText(clip.strip())
            # selected: the Ctrl+V a user types by habit replaces it instead of appending a second copy
            # (seen using the window: "…WEnxC4http://…" was refused as a damaged key)
            self.link_edit.selectAll()
        self.link_edit.setFocus()

    @property
    def link(self) -> str:
        return self.link_edit.text().strip()

    @property
    def key(self) -> str | None:
        return self.key_edit.text().strip() or None

    @property
    def folder(self) -> Path:
        """The folder typed or chosen; a relative one is taken from the home folder (the app's working
        directory means nothing to the user)."""
        folder = Path(self.folder_edit.text().strip()).expanduser()
        return folder if folder.is_absolute() else Path.home() / folder

    def _choose_folder(self) -> None:
        chosen = self.choose_folder(self.folder_edit.text())
        if chosen:
            self.folder_edit.setText(chosen)

    def accept(self) -> None:
        if not self.link:
            self._show_error("Paste a share link first.")
            return
        try:
            parsed = self._validate(self.link, self.key)
        except LinkError as error:
            self._show_error(link_error_text(error))
            return
        if not self.folder_edit.text().strip():
            self._show_error("Choose the folder to save the download in.", self.folder_edit)
            return
        if getattr(parsed, "has_key", True) is False:  # a link-only link: the key field is right here
            self._show_error(
                "This link has no key. Paste the key the sender gave you separately in the Key field.",
                self.key_edit,
            )
            return
        super().accept()

    def _show_error(self, message: str, focus: QWidget | None = None) -> None:
        self.error_label.setText(message)
        self.error_label.show()
        (focus or self.link_edit).setFocus()
