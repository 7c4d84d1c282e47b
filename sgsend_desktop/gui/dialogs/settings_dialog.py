"""Settings: server, local-network sharing, access token, workers, limits, download folder, tray, resume."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

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
        server_form.addRow("Access &token:", self.token_edit)

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
        transfers_form.addRow("Download &folder:", folder_row)
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
