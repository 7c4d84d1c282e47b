"""Settings: server, local-network sharing, access token, workers, limits, download folder, tray, resume."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sgsend_desktop.gui.colors import ToneLabel
from sgsend_desktop.gui.settings import Preferences


def _limit_spin(name: str, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(0, 10_000_000)
    spin.setSingleStep(256)
    spin.setSuffix(" KB/s")
    spin.setSpecialValueText("Unlimited")
    spin.setValue(value)
    spin.setAccessibleName(name)
    return spin


class SettingsDialog(QDialog):
    check_token_requested = Signal(str, str)  # server URL, token: the window asks the server, off-thread

    def __init__(self, prefs: Preferences, token: str | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setAccessibleName("Settings")
        self.setMinimumWidth(520)
        self._prefs = prefs

        self.server_edit = QLineEdit(prefs.server_url)
        self.server_edit.setPlaceholderText("Empty: the local server on this computer")
        self.server_edit.setAccessibleName("Server URL")
        self.token_edit = QLineEdit(token or "")
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText("Only if the server asks for one")
        self.token_edit.setAccessibleName("Access token")
        self.lan_check = QCheckBox("Share on the &local network")
        self.lan_check.setChecked(prefs.share_on_lan)
        self.lan_check.setAccessibleName("Share on the local network")
        self.lan_check.setToolTip(
            "The local server listens on this computer's network address: people on the same network "
            "can open your links while SGraph Send runs. Sending still needs this computer's own "
            "access token, kept in your keyring."
        )
        self.server_edit.textChanged.connect(lambda text: self.lan_check.setEnabled(not text.strip()))
        self.lan_check.setEnabled(not prefs.server_url.strip())
        server_box = QGroupBox("Server")
        server_form = QFormLayout(server_box)
        server_form.addRow("Server &URL:", self.server_edit)
        server_form.addRow("", self.lan_check)
        self.check_button = QPushButton("Check")
        self.check_button.setAccessibleName("Check the access token with the server")
        self.check_button.setToolTip(
            "Ask the server whether the token is valid and how many uses it has left"
        )
        self.check_button.clicked.connect(self.request_check)
        self.token_status = ToneLabel("")
        self.token_status.setWordWrap(True)
        self.token_status.setAccessibleName("Access token status")
        token_row = QHBoxLayout()
        token_row.addWidget(self.token_edit, 1)
        token_row.addWidget(self.check_button)
        token_label = QLabel("Access &token:")
        token_label.setBuddy(self.token_edit)
        server_form.addRow(token_label, token_row)
        server_form.addRow("", self.token_status)
        self.server_edit.textChanged.connect(lambda _t: self._token_changed())
        self.token_edit.textChanged.connect(lambda _t: self._token_changed())

        self.workers_spin = QSpinBox()
        self.workers_spin.setRange(1, 16)
        self.workers_spin.setValue(prefs.workers)
        self.workers_spin.setAccessibleName("Parallel connections per transfer")
        self.upload_spin = _limit_spin("Upload limit", prefs.upload_limit_kbps)
        self.download_spin = _limit_spin("Download limit", prefs.download_limit_kbps)
        self.folder_edit = QLineEdit(str(prefs.download_path()))
        self.folder_edit.setAccessibleName("Download folder")
        browse = QPushButton("Browse…")
        browse.setAccessibleName("Choose the download folder")
        browse.clicked.connect(self._choose_folder)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        self.resume_check = QCheckBox("Resume unfinished transfers automatically at start")
        self.resume_check.setChecked(prefs.resume_automatically)
        self.resume_check.setAccessibleName("Resume unfinished transfers automatically")
        transfers_box = QGroupBox("Transfers")
        transfers_form = QFormLayout(transfers_box)
        transfers_form.addRow("Parallel &connections:", self.workers_spin)
        transfers_form.addRow("&Upload limit:", self.upload_spin)
        transfers_form.addRow("&Download limit:", self.download_spin)
        folder_label = QLabel("Download &folder:")
        folder_label.setBuddy(self.folder_edit)
        transfers_form.addRow(folder_label, folder_row)
        transfers_form.addRow(self.resume_check)

        self.tray_check = QCheckBox("Keep transfers running in the tray when the window is closed")
        self.tray_check.setChecked(prefs.close_to_tray)
        self.tray_check.setAccessibleName("Close to tray")

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(server_box)
        layout.addWidget(transfers_box)
        layout.addWidget(self.tray_check)
        layout.addWidget(buttons)
        self._token_changed()

    def _token_changed(self) -> None:
        local = not self.server_edit.text().strip()
        self.check_button.setEnabled(not local and bool(self.token_edit.text().strip()))
        self.token_status.setText(
            "The local server on this computer uses its own token: nothing to enter here." if local else ""
        )

    def request_check(self) -> None:
        server, token = self.server_edit.text().strip().rstrip("/"), self.token_edit.text().strip()
        if server and token:
            self.token_status.setText("Checking with the server…")
            self.check_button.setEnabled(False)
            self.check_token_requested.emit(server, token)

    def show_token_status(self, text: str) -> None:
        """The server's answer (``TokenStatus.message``: valid, uses left...)."""
        self._token_changed()
        self.token_status.setText(text)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Download folder", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def preferences(self) -> Preferences:
        return replace(
            self._prefs,
            server_url=self.server_edit.text().strip().rstrip("/"),
            share_on_lan=self.lan_check.isChecked(),
            workers=self.workers_spin.value(),
            upload_limit_kbps=self.upload_spin.value(),
            download_limit_kbps=self.download_spin.value(),
            download_dir=self.folder_edit.text().strip(),
            close_to_tray=self.tray_check.isChecked(),
            resume_automatically=self.resume_check.isChecked(),
        )

    def token(self) -> str | None:
        return self.token_edit.text().strip() or None
