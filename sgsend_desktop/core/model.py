"""Plain value types shared by the engine, the CLI and the GUI (no Qt, no I/O)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Direction(enum.Enum):
    SEND = "send"
    RECEIVE = "receive"


class TransferState(enum.Enum):
    QUEUED = "queued"            # waiting for a free slot
    PREPARING = "preparing"      # zipping a folder, creating the transfer on the server
    UPLOADING = "uploading"
    DOWNLOADING = "downloading"
    COMPLETING = "completing"    # upload: completing on the server; download: decrypting + verifying
    PAUSED = "paused"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (TransferState.DONE, TransferState.CANCELLED)

    @property
    def is_active(self) -> bool:
        return self in (
            TransferState.PREPARING,
            TransferState.UPLOADING,
            TransferState.DOWNLOADING,
            TransferState.COMPLETING,
        )


_S = TransferState
# Every legal state change, in one place (the journal enforces it on every write).
ALLOWED_TRANSITIONS: dict[TransferState, frozenset[TransferState]] = {
    _S.QUEUED: frozenset({_S.PREPARING, _S.PAUSED, _S.CANCELLED, _S.FAILED}),
    _S.PREPARING: frozenset({_S.UPLOADING, _S.DOWNLOADING, _S.COMPLETING, _S.PAUSED, _S.FAILED,
                             _S.CANCELLED, _S.QUEUED}),
    _S.UPLOADING: frozenset({_S.COMPLETING, _S.PAUSED, _S.FAILED, _S.CANCELLED, _S.QUEUED}),
    _S.DOWNLOADING: frozenset({_S.COMPLETING, _S.PAUSED, _S.FAILED, _S.CANCELLED, _S.QUEUED}),
    _S.COMPLETING: frozenset({_S.DONE, _S.PAUSED, _S.FAILED, _S.CANCELLED, _S.QUEUED}),
    _S.PAUSED: frozenset({_S.QUEUED, _S.CANCELLED, _S.FAILED}),
    _S.FAILED: frozenset({_S.QUEUED, _S.CANCELLED}),
    _S.DONE: frozenset(),
    _S.CANCELLED: frozenset(),
}


def check_transition(old: TransferState, new: TransferState) -> None:
    """Raise IllegalTransitionError unless ``old -> new`` is an edge of ALLOWED_TRANSITIONS."""
    if old is not new and new not in ALLOWED_TRANSITIONS[old]:
        from sgsend_desktop.core.errors import IllegalTransitionError

        raise IllegalTransitionError(f"a transfer cannot go from {old.value} to {new.value}")


@dataclass(frozen=True)
class TransferOptions:
    """What the user chose for a send (set at create time on the server)."""

    max_downloads: int = 0                  # 0 = unlimited
    expires_at: datetime | None = None      # None = never
    friendly_key: bool = False              # word-word-NNNN token instead of a random key
    strong_friendly: bool = False           # with friendly_key: our 5-word scrypt form (not for the web UI)
    delete_auth: bool = True                # let the sender delete it later


LOCAL_COMPUTER = "computer"  # TransferSnapshot.local_scope: the local server listens on loopback only
LOCAL_NETWORK = "network"    # ...it shares on the local network (LAN address)


@dataclass(frozen=True)
class TransferSnapshot:
    """Everything a view needs to draw one transfer. Immutable: the engine publishes new ones."""

    id: str                                 # local id (journal), not the server's transfer id
    direction: Direction
    name: str                               # file name (send: local name; receive: from SGMETA once known)
    size: int                               # bytes of the payload to move (0 until known)
    state: TransferState
    bytes_done: int = 0                     # sent or received locally
    bytes_confirmed: int = 0                # confirmed by the server (SSE / part list / completed PUTs)
    speed_bps: float = 0.0
    eta_seconds: float | None = None
    transfer_id: str | None = None          # the server's 12-hex id
    server_url: str | None = None
    share_link: str | None = None           # combined link with the key (sends, once done)
    link_only: str | None = None            # link without the key
    key_text: str | None = None             # the key (or friendly token) to send separately
    saved_path: str | None = None           # receives, once done
    error: str | None = None                # one sentence, when FAILED
    retry_helps: bool = True                # FAILED: False when retrying cannot help (the server said no)
    download_count: int = 0                 # recipients' downloads seen (sends)
    live_events: bool = False               # progress comes from the server's SSE stream
    events_down: bool = False               # sends: subscribed to that stream, but it is down now (the
                                            # API server is away while parts still go straight to S3)
    created_at: float = 0.0
    source_path: str | None = None
    local_scope: str = ""                   # on this computer's local server: where its link opens,
                                            # LOCAL_COMPUTER or LOCAL_NETWORK; "" for any other server
    reconnect_at: float | None = None       # while the server cannot be reached (the state stays active):
                                            # epoch seconds of the next reconnect try; None otherwise
    reconnect_reason: str | None = None     # then why: "Cannot reach HOST:PORT (connection refused)"
    max_downloads: int = 0                  # sends: the download limit chosen (0 = unlimited)
    expires_at: float | None = None         # sends: epoch seconds when the server drops it (None = never)
    deleted_remote: bool = False            # sends: deleted from the server by its sender (link is dead)
    item_count: int = 1                     # sends: files and folders in it (several = one zip, one link)
    file_size: int | None = None            # bytes of the file itself (sends: the file or the zip;
                                            # receives: once saved), None while not known; ``size`` is
                                            # the encrypted payload, a few dozen bytes more
    note: str | None = None                 # something the user should know about this transfer, e.g. a
                                            # send started again because the server had removed it
    archived: bool = False                  # finished and cleared off the queue (History keeps it)
    zipping: bool = False                   # sends: its folder (or files) being zipped; meanwhile size
                                            # and bytes_done count the files' bytes read

    @property
    def reconnecting(self) -> bool:
        return self.reconnect_at is not None and self.state.is_active


@dataclass(frozen=True)
class EngineEvent:
    """What the engine tells its listeners. ``kind`` is one of KINDS."""

    kind: str
    snapshot: TransferSnapshot
    detail: dict[str, object] = field(default_factory=dict)

    KINDS = ("added", "changed", "progress", "done", "failed", "downloaded", "removed")
