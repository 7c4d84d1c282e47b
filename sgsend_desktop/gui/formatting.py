"""Human-readable sizes, speeds, times and state labels for the views (pure functions, no Qt)."""

from __future__ import annotations

import time
from datetime import datetime

from sgsend_desktop.core.model import Direction, TransferSnapshot, TransferState
from sgsend_desktop.core.units import format_size as format_size  # the views import it from here


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
        # short enough for the State column; the details panel says why (reconnect_text)
        return f"Reconnecting {countdown}"
    if snapshot.state is TransferState.DONE and snapshot.direction is Direction.SEND:
        if snapshot.deleted_remote:
            return "Deleted from server"
        if is_expired(snapshot, now):
            return "Sent · expired"
        downloads = downloads_short(snapshot)
        return f"Sent · {downloads}" if downloads else "Sent"
    if snapshot.state is TransferState.DONE:
        return "Received"
    if snapshot.zipping:
        return "Zipping"
    return _STATE_LABELS[snapshot.state]


def is_expired(snapshot: TransferSnapshot, now: float | None = None) -> bool:
    return snapshot.expires_at is not None and snapshot.expires_at <= (time.time() if now is None else now)


def downloads_short(snapshot: TransferSnapshot) -> str:
    """For the queue row: "1 download", "2 of 3 downloads", "all 3 downloads used", "" when none yet."""
    count, limit = snapshot.download_count, snapshot.max_downloads
    if limit and count >= limit:
        return f"all {limit} download{'s' if limit != 1 else ''} used"
    if limit and count:
        return f"{count} of {limit} downloads"
    if count:
        return f"{count} download{'s' if count != 1 else ''}"
    return ""


def downloads_text(snapshot: TransferSnapshot) -> str:
    """For the details: "Not downloaded yet · up to 3 downloads", "Downloaded 2 times (of 3 allowed)"."""
    count, limit = snapshot.download_count, snapshot.max_downloads
    times = "once" if count == 1 else f"{count} times"
    head = f"Downloaded {times}" if count else "Not downloaded yet"
    if not limit:
        return f"{head} · no download limit"
    if count >= limit:
        return f"{head} · the limit of {limit} is reached: the link no longer works"
    return f"{head} · {limit - count} of {limit} download{'s' if limit != 1 else ''} left"


def format_expiry(expires_at: float | None, now: float | None = None) -> str:
    """Short, for the row: "expires in 5 h", "expires in 6 days", "expired", "" when it never expires."""
    if expires_at is None:
        return ""
    left = expires_at - (time.time() if now is None else now)
    if left <= 0:
        return "expired"
    if left < 3600:
        return f"expires in {max(1, round(left / 60))} min"
    if left < 2 * 86400:
        return f"expires in {round(left / 3600)} h"
    return f"expires in {round(left / 86400)} days"


def expiry_text(expires_at: float | None, now: float | None = None) -> str:
    """For the details: "Expires 12 May 2025, 14:00 (in 6 days)", "Expired 12 May…", "Never expires"."""
    if expires_at is None:
        return "Never expires"
    moment = datetime.fromtimestamp(expires_at)
    when = f"{moment.day} {moment:%b %Y, %H:%M}"
    short = format_expiry(expires_at, now)
    if short == "expired":
        return f"Expired {when}: the link no longer works"
    return f"Expires {when} ({short.removeprefix('expires ')})"


def file_size_text(snapshot: TransferSnapshot) -> str:
    """The size of the file itself when known (an empty file is "0 B", not its encrypted 62 B), else the
    payload's; "" if neither is known."""
    if snapshot.file_size is not None:
        return format_size(snapshot.file_size)
    return format_size(snapshot.size) if snapshot.size else ""


def bytes_progress(snapshot: TransferSnapshot) -> str:
    """The Size column: "120.0 MB of 300.0 MB" (encrypted bytes moved) while unfinished, the file's own size
    once done or cancelled (a cancelled send is not "0 B of 1.5 GB": nothing more will move), "" if
    unknown."""
    if snapshot.state.is_final:
        return file_size_text(snapshot)
    if not snapshot.size:
        return ""
    done = min(snapshot.size, max(snapshot.bytes_done, snapshot.bytes_confirmed))
    return f"{format_size(done)} of {format_size(snapshot.size)}"


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


def progress_text(snapshot: TransferSnapshot) -> str:
    """The text on the row's progress bar: a percentage, or the reason there is none."""
    if snapshot.state is TransferState.FAILED:
        return "Failed"
    if snapshot.state is TransferState.CANCELLED:
        return "Cancelled"
    if snapshot.state is TransferState.DONE:
        return "Done"
    if snapshot.size <= 0:
        return "Preparing" if snapshot.state is TransferState.PREPARING else ""
    return f"{round(progress_fraction(snapshot) * 100)} %"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def link_error_text(error: Exception) -> str:
    """A link the user pasted could not be read: one sentence that says what to do, not how the parser
    failed ("transfer id must be 12 lowercase hex characters, got 'zzz'")."""
    from sgsend_desktop.core.errors import KeyFormatError
    from sgsend_desktop.core.links import (
        BadTransferIdError,
        KeyMismatchError,
        MissingKeyError,
        MissingTransferIdError,
        NotAShareLinkError,
        VaultLinkError,
    )

    if isinstance(error, (VaultLinkError, KeyMismatchError)):
        return str(error)  # already a sentence for people
    if isinstance(error, BadTransferIdError):
        return (
            "This link is incomplete or damaged: the part after “#” does not name a transfer. "
            "Copy the whole link again from the message you received."
        )
    if isinstance(error, MissingTransferIdError):
        return (
            "This key needs its link: paste the link you were sent in the Link field and this key "
            "in the Key field."
        )
    if isinstance(error, MissingKeyError) and "missing" in str(error):
        return "This link is incomplete: the part after “#” is missing. Copy the whole link again."
    if isinstance(error, MissingKeyError):
        return (
            "This link has no key. Paste the key the sender gave you separately in the Key field, "
            "or copy the whole link again."
        )
    if isinstance(error, KeyFormatError):
        return (
            "The key is damaged or incomplete. Copy the whole link (or the key) again; a key is "
            "43 characters, or words like apple-mango-5623."
        )
    if isinstance(error, NotAShareLinkError):
        text = str(error)
        if "empty" in text:
            return "Paste a SGraph Send link first."
        if "server address" in text:
            return "This is the address of a server, not a share link. Paste the link you were sent."
        return (
            "This is not a SGraph Send link. Paste the whole link you were sent: it starts with "
            "https:// and has a “#” followed by the transfer's code."
        )
    return str(error)[:1].upper() + str(error)[1:]
