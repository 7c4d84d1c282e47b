"""Human-readable sizes, speeds, times and state labels for the views (pure functions, no Qt)."""

from __future__ import annotations

import time

from sgsend_desktop.core.model import Direction, TransferSnapshot, TransferState

_UNITS = ("B", "KB", "MB", "GB", "TB")


def format_size(size: int | float) -> str:
    """1024-based, one decimal above bytes: ``0 B``, ``512 B``, ``1.5 MB``."""
    value = float(size)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def format_speed(bps: float) -> str:
    return f"{format_size(bps)}/s" if bps > 0 else ""


def format_eta(seconds: float | None) -> str:
    if seconds is None or seconds < 0:
        return ""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


_STATE_LABELS = {
    TransferState.QUEUED: "Queued",
    TransferState.PREPARING: "Preparing",
    TransferState.UPLOADING: "Uploading",
    TransferState.DOWNLOADING: "Downloading",
    TransferState.COMPLETING: "Finishing",
    TransferState.PAUSED: "Paused",
    TransferState.DONE: "Done",
    TransferState.FAILED: "Failed",
    TransferState.CANCELLED: "Cancelled",
}


def reconnect_countdown(snapshot: TransferSnapshot, now: float | None = None) -> str:
    """While reconnecting: "in 40 s" until the next try, "now" once it is due (or running)."""
    left = (snapshot.reconnect_at or 0.0) - (time.time() if now is None else now)
    return f"in {format_eta(left)}" if left >= 0.5 else "now"


def reconnect_text(snapshot: TransferSnapshot, now: float | None = None) -> str:
    """One sentence for the details panel and tooltips, "" unless the transfer is reconnecting:
    "Cannot reach 127.0.0.1:8080 (connection refused) — reconnecting in 40 s"."""
    if not snapshot.reconnecting:
        return ""
    reason = snapshot.reconnect_reason or "The server cannot be reached"
    return f"{reason} — reconnecting {reconnect_countdown(snapshot, now)}"


def state_label(snapshot: TransferSnapshot, now: float | None = None) -> str:
    if snapshot.reconnecting:  # still uploading/downloading in the journal: the server is away
        countdown = reconnect_countdown(snapshot, now)
        return "Reconnecting… trying now" if countdown == "now" else f"Reconnecting… next try {countdown}"
    if snapshot.state is TransferState.DONE and snapshot.direction is Direction.SEND:
        count = snapshot.download_count
        if count:
            return f"Sent · {count} download{'s' if count != 1 else ''}"
        return "Sent"
    if snapshot.state is TransferState.DONE:
        return "Received"
    return _STATE_LABELS[snapshot.state]


def display_name(snapshot: TransferSnapshot) -> str:
    """A receive learns its file name only from the decrypted envelope: until then, name the transfer."""
    if snapshot.direction is Direction.RECEIVE and snapshot.name in ("", snapshot.transfer_id):
        return f"Incoming file · {snapshot.transfer_id}" if snapshot.transfer_id else "Incoming file"
    if snapshot.name:
        return snapshot.name
    if snapshot.transfer_id:
        return f"Transfer {snapshot.transfer_id}"
    return "Incoming transfer" if snapshot.direction is Direction.RECEIVE else "(unnamed)"


def direction_label(direction: Direction) -> str:
    return "Send" if direction is Direction.SEND else "Receive"


def progress_fraction(snapshot: TransferSnapshot) -> float:
    """0..1 for the progress bar; done is always full, an unknown size is empty."""
    if snapshot.state is TransferState.DONE:
        return 1.0
    if snapshot.size <= 0:
        return 0.0
    done = max(snapshot.bytes_done, snapshot.bytes_confirmed)
    return min(1.0, done / snapshot.size)
