"""What a new send is made with: max downloads, expiry, the kind of key, and whether several files
dropped at once get one link each or one link for all (one zip)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QWidget

from sgsend_desktop.core.model import TransferOptions
from sgsend_desktop.gui.colors import ToneLabel
from sgsend_desktop.gui.flow_layout import FlowLayout

EXPIRY_CHOICES: list[tuple[str, timedelta | None]] = [
    ("Never", None),
    ("1 hour", timedelta(hours=1)),
    ("1 day", timedelta(days=1)),
    ("7 days", timedelta(days=7)),
]
# (label, friendly_key, strong_friendly); random first: the default
KEY_CHOICES: list[tuple[str, bool, bool]] = [
    ("Random (safest)", False, False),
    ("Words: word-word-1234", True, False),
    ("Five words (this app only)", True, True),
]
FRIENDLY_WARNING = (
    "Random: 32 random bytes, the safest. Words (word-word-1234) open in the SGraph Send web page, but "
    "anyone who learns the transfer id (a link without its key, or the server) can guess them in "
    "minutes: only for files that need little protection. Five words resist guessing but open only in "
    "this app and sgsend."
)
# index 0: one transfer per item (the default); 1: several items as one zip with one link
GROUPING_CHOICES = ("One link per file", "One link for all (zip)")
GROUPING_TIP = (
    "When you drop or choose several files at once: one transfer and one link for each, or one "
    "transfer holding them all (a zip, opened by the web page like a sent folder) with a single link."
)


class SendOptions(QWidget):
    """The options row. ``options()`` is what the next send uses; ``together`` its grouping."""

    together_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Send options")
        self.max_downloads_spin = QSpinBox()
        self.max_downloads_spin.setRange(0, 1000)
        self.max_downloads_spin.setSpecialValueText("Unlimited")
        self.max_downloads_spin.setAccessibleName("Maximum downloads")
        self.max_downloads_spin.setToolTip("How many times the file can be downloaded (Unlimited = no limit)")
        self.expiry_combo = QComboBox()
        for label, _delta in EXPIRY_CHOICES:
            self.expiry_combo.addItem(label)
        self.expiry_combo.setAccessibleName("Expires after")
        self.expiry_combo.setToolTip("When the server deletes the file by itself")
        self.key_combo = QComboBox()  # KEY_CHOICES: random stays the default (index 0)
        for label, _friendly, _strong in KEY_CHOICES:
            self.key_combo.addItem(label)
        self.key_combo.setAccessibleName("Kind of key")
        self.key_combo.setToolTip(FRIENDLY_WARNING)
        self.key_warning = ToneLabel("⚠ guessable in minutes", "error")
        self.key_warning.setToolTip(FRIENDLY_WARNING)
        self.key_warning.setAccessibleName("Warning: a word-word-NNNN key can be guessed in minutes")
        self.key_warning.hide()
        self.key_combo.currentIndexChanged.connect(lambda i: self.key_warning.setVisible(i == 1))
        self.grouping_combo = QComboBox()
        for label in GROUPING_CHOICES:
            self.grouping_combo.addItem(label)
        self.grouping_combo.setAccessibleName("Several files: one link per file, or one link for all")
        self.grouping_combo.setToolTip(GROUPING_TIP)
        self.grouping_combo.currentIndexChanged.connect(lambda i: self.together_changed.emit(i == 1))

        # each label stays with its control; a pair that does not fit goes to the next line whole
        layout = FlowLayout(self)
        for caption, control in (
            ("Several &files:", self.grouping_combo),
            ("Max &downloads:", self.max_downloads_spin),
            ("&Expires:", self.expiry_combo),
            ("&Key:", self.key_combo),
        ):
            pair = QWidget()
            pair_layout = QHBoxLayout(pair)
            pair_layout.setContentsMargins(0, 0, 0, 0)
            pair_layout.setSpacing(6)
            buddy = QLabel(caption)
            buddy.setBuddy(control)
            pair_layout.addWidget(buddy)
            pair_layout.addWidget(control)
            if control is self.key_combo:
                pair_layout.addWidget(self.key_warning)
            layout.addWidget(pair)

    @property
    def together(self) -> bool:
        return self.grouping_combo.currentIndex() == 1

    def set_together(self, together: bool) -> None:
        self.grouping_combo.setCurrentIndex(1 if together else 0)

    def options(self) -> TransferOptions:
        delta = EXPIRY_CHOICES[max(0, self.expiry_combo.currentIndex())][1]
        _label, friendly, strong = KEY_CHOICES[max(0, self.key_combo.currentIndex())]
        return TransferOptions(
            max_downloads=self.max_downloads_spin.value(),
            expires_at=datetime.now(UTC) + delta if delta is not None else None,
            friendly_key=friendly,
            strong_friendly=strong,
        )

    def focus_chain(self) -> list[QWidget]:
        return [self.grouping_combo, self.max_downloads_spin, self.expiry_combo, self.key_combo]
