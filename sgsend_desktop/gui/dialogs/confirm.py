"""The one way the app asks before doing something that cannot be undone."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from sgsend_desktop.gui.rules import Question


def question_box(parent: QWidget | None, question: Question) -> QMessageBox:
    """A warning box whose safe answer is the default (Enter/Escape keep things as they are)."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(question.title)
    box.setText(question.title)
    box.setInformativeText(question.text)
    box.setAccessibleName(question.title)
    accept = box.addButton(question.accept, QMessageBox.ButtonRole.DestructiveRole)
    accept.setAccessibleName(question.accept)
    reject = box.addButton(question.reject, QMessageBox.ButtonRole.RejectRole)
    reject.setAccessibleName(question.reject)
    box.setDefaultButton(reject)
    box.setEscapeButton(reject)
    box.setProperty("accept_button", accept)
    return box


def ask(parent: QWidget | None, question: Question) -> bool:
    """Modal; True only if the user chose the action."""
    box = question_box(parent, question)
    box.exec()
    return box.clickedButton() is box.property("accept_button")
