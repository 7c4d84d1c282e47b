"""What the window may do with the selected transfers, and what it must ask first: pure functions of
snapshots (no Qt), so every enabling rule and every question is tested without a window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

from sgsend_desktop.core.model import Direction, TransferSnapshot, TransferState
from sgsend_desktop.gui.formatting import display_name, is_expired, plural

PAUSABLE = (
    TransferState.QUEUED,
    TransferState.PREPARING,
    TransferState.UPLOADING,
    TransferState.DOWNLOADING,
    TransferState.COMPLETING,
)
MOVABLE = (TransferState.QUEUED, TransferState.PAUSED)
RETRYABLE = (TransferState.FAILED, TransferState.CANCELLED)


def is_shared(snap: TransferSnapshot | None) -> bool:
    """A finished send whose link still works (as far as this computer knows)."""
    return bool(
        snap is not None
        and snap.direction is Direction.SEND
        and snap.state is TransferState.DONE
        and snap.share_link
        and not snap.deleted_remote
    )


def is_received(snap: TransferSnapshot | None) -> bool:
    """A finished download with its file on this computer."""
    return bool(
        snap is not None
        and snap.direction is Direction.RECEIVE
        and snap.state is TransferState.DONE
        and snap.saved_path
    )


def is_received_zip(snap: TransferSnapshot | None) -> bool:
    return is_received(snap) and bool(snap and snap.saved_path and snap.saved_path.lower().endswith(".zip"))


def is_running(snap: TransferSnapshot) -> bool:
    """Moving bytes or waiting for its turn: quitting or cancelling interrupts it."""
    return snap.state.is_active or snap.state is TransferState.QUEUED


def can_pause(snap: TransferSnapshot) -> bool:
    return snap.state in PAUSABLE


def can_resume(snap: TransferSnapshot) -> bool:
    return snap.state is TransferState.PAUSED


def can_retry(snap: TransferSnapshot) -> bool:
    """Failed: resumes where it stopped; cancelled: starts again from the beginning; waiting for an
    unreachable server: tries it now instead of after the backoff."""
    return snap.state in RETRYABLE or snap.reconnecting


def can_cancel(snap: TransferSnapshot) -> bool:
    return not snap.state.is_final


@dataclass(frozen=True)
class ActionStates:
    """Which commands the selection allows (one bool per WindowActions attribute of the same name)."""

    pause: bool = False
    resume: bool = False
    toggle: bool = False
    retry: bool = False
    cancel: bool = False
    discard: bool = False
    move_up: bool = False
    move_down: bool = False
    copy_link: bool = False
    copy_link_only: bool = False
    copy_key: bool = False
    show_qr: bool = False
    delete_remote: bool = False
    open_file: bool = False
    show_in_folder: bool = False
    unpack: bool = False

    def items(self) -> list[tuple[str, bool]]:
        return [(f.name, bool(getattr(self, f.name))) for f in fields(self)]


def action_states(
    selected: Sequence[TransferSnapshot], rows: Sequence[int] = (), row_count: int = 0
) -> ActionStates:
    """The enabled commands for ``selected`` (in queue order), at ``rows`` of a queue of ``row_count``.

    Commands on several rows are enabled when they apply to at least one of them (and then act on
    those); moving, the key, the QR code and the file's own commands need exactly one row."""
    one = selected[0] if len(selected) == 1 else None
    row = rows[0] if len(rows) == 1 else -1
    movable = one is not None and one.state in MOVABLE
    return ActionStates(
        pause=any(can_pause(s) for s in selected),
        resume=any(can_resume(s) for s in selected),
        toggle=any(can_pause(s) or can_resume(s) or s.state is TransferState.FAILED for s in selected),
        retry=any(can_retry(s) for s in selected),
        cancel=any(can_cancel(s) for s in selected),
        discard=bool(selected),
        move_up=movable and row > 0,
        move_down=movable and 0 <= row < row_count - 1,
        copy_link=any(is_shared(s) for s in selected),
        copy_link_only=is_shared(one),
        copy_key=is_shared(one),
        show_qr=is_shared(one),
        delete_remote=any(is_shared(s) for s in selected),
        open_file=is_received(one),
        show_in_folder=is_received(one),
        unpack=is_received_zip(one),
    )


@dataclass(frozen=True)
class Question:
    """A yes/no question before something that cannot be undone. ``accept`` names the action."""

    title: str
    text: str
    accept: str
    reject: str = "Keep"


def _names(snaps: Sequence[TransferSnapshot]) -> str:
    if len(snaps) == 1:
        return f"“{display_name(snaps[0])}”"
    return plural(len(snaps), "transfer")


def cancel_question(selected: Sequence[TransferSnapshot]) -> Question | None:
    """Cancelling throws away what was moved (parts on the server, the partial download)."""
    targets = [s for s in selected if can_cancel(s)]
    if not targets:
        return None
    sending = all(s.direction is Direction.SEND for s in targets)
    verb = (
        "sending"
        if sending
        else "receiving"
        if all(s.direction is Direction.RECEIVE for s in targets)
        else "transferring"
    )
    return Question(
        f"Cancel {verb} {_names(targets)}?",
        "What was already transferred is thrown away and cannot be resumed; “Start again” would start "
        "from the beginning. To stop for now and continue later, use Pause instead.",
        "Cancel transfer" if len(targets) == 1 else f"Cancel {len(targets)} transfers",
        "Keep going",
    )


def remove_question(selected: Sequence[TransferSnapshot], where: str = "the list") -> Question | None:
    """Removing a row (from the list, or from History) forgets it on this computer: a running transfer
    stops for good, a sent file's link and key are gone from this app (the file stays on the server
    until it expires)."""
    if not selected:
        return None
    running = [s for s in selected if not s.state.is_final and s.state is not TransferState.FAILED]
    linked = [s for s in selected if is_shared(s)]
    unfinished = [s for s in selected if s.state in (TransferState.FAILED, TransferState.PAUSED)]
    if not (running or linked or unfinished):
        return None  # cancelled rows and finished downloads: nothing is lost
    reasons = []
    if running:
        reasons.append(
            f"{'It is' if len(selected) == 1 else plural(len(running), 'transfer') + ' are'} "
            "still running: it stops and cannot be resumed."
        )
    if unfinished and not running:
        reasons.append("What was transferred so far is thrown away.")
    if linked:
        reasons.append(
            "Its link and key are forgotten on this computer (copy the link first if you still need it); "
            "the file stays on the server until it expires — use Delete from server to remove it there."
        )
    return Question(f"Remove {_names(selected)} from {where}?", " ".join(reasons), "Remove", "Keep")


def delete_question(selected: Sequence[TransferSnapshot]) -> Question | None:
    targets = [s for s in selected if is_shared(s)]
    if not targets:
        return None
    expired = all(is_expired(s) for s in targets)
    return Question(
        f"Delete {_names(targets)} from the server?",
        ("Its link stops working at once: nobody can download it any more. " if not expired else "")
        + "This cannot be undone.",
        "Delete from server",
        "Keep",
    )


def quit_question(running: Sequence[TransferSnapshot]) -> Question | None:
    if not running:
        return None
    return Question(
        "Quit SGraph Send?",
        f"{plural(len(running), 'transfer')} {'is' if len(running) == 1 else 'are'} still running. They "
        "are paused and can be resumed next time you start SGraph Send.",
        "Quit",
        "Keep running",
    )


def hover_actions(snap: TransferSnapshot) -> list[str]:
    """The buttons a row shows under the mouse (the WindowActions of the same names)."""
    if snap.state is TransferState.DONE:
        if is_shared(snap):
            return ["copy_link", "discard"]
        if is_received(snap):
            return ["show_in_folder", "discard"]
        return ["discard"]
    if snap.state in RETRYABLE:  # not a row waiting for its server: it keeps Pause and Cancel
        return ["retry", "discard"]
    if can_resume(snap):
        return ["resume", "cancel"]
    return ["pause", "cancel"]
