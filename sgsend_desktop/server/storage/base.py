"""The interface every storage backend implements (synchronous; routes call it from worker threads)."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from sgsend_desktop.server.meta import TransferMeta

T = TypeVar("T")


class StoreError(Exception):
    """A storage failure that maps to an HTTP status (never a 500 for a client's mistake)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class StoredPart:
    part_number: int
    etag: str  # quoted, exactly as the PUT's ETag header said
    size: int
    last_modified: float  # Unix time; orders parts by arrival for the event stream


class PayloadWriter(abc.ABC):
    """Receives a direct upload chunk by chunk; nothing is visible until ``commit``."""

    size: int = 0

    @abc.abstractmethod
    def write(self, chunk: bytes) -> None: ...

    @abc.abstractmethod
    def commit(self) -> int: ...

    @abc.abstractmethod
    def discard(self) -> None: ...


class TransferStore(abc.ABC):
    kind: str = ""
    signs_own_urls: bool = False  # True: presigned URLs point at this server's /storage endpoints
    shared: bool = False  # True: other processes change it too (event streams must re-read it to see that)

    # --- metadata -----------------------------------------------------------------------------
    @abc.abstractmethod
    def create(self, meta: TransferMeta) -> bool:
        """Store a new record; False when the id is taken (atomic)."""

    @abc.abstractmethod
    def load(self, transfer_id: str) -> TransferMeta | None: ...

    def recent(self, transfer_id: str) -> TransferMeta | None:
        """The version this process read or wrote a moment ago (seconds), without asking the store; None
        when there is none (or the store is local and cheap to read). A route that then updates the record
        may start from it, because that update re-checks whatever was decided on it; only for decisions
        that stay true as a record ages (a status once left never comes back)."""
        return None

    @abc.abstractmethod
    def update(self, transfer_id: str, change: Callable[[TransferMeta], T]) -> tuple[TransferMeta, T]:
        """Read-modify-write one record atomically; ``change`` may raise to abort (nothing written)."""

    # --- payload ------------------------------------------------------------------------------
    @abc.abstractmethod
    def payload_writer(self, transfer_id: str) -> PayloadWriter: ...

    @abc.abstractmethod
    def payload_size(self, transfer_id: str) -> int | None: ...

    @abc.abstractmethod
    def read_payload(self, transfer_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield bytes start..end (inclusive) in chunks of at most 1 MiB."""

    @abc.abstractmethod
    def delete_payload(self, transfer_id: str) -> None: ...

    # --- multipart ----------------------------------------------------------------------------
    @abc.abstractmethod
    def create_multipart(self, transfer_id: str) -> str: ...

    @abc.abstractmethod
    def list_parts(self, transfer_id: str, upload_id: str) -> list[StoredPart]:
        """Parts held so far, by part number; StoreError(404) for an unknown upload."""

    @abc.abstractmethod
    def complete_multipart(self, transfer_id: str, upload_id: str, parts: list[tuple[int, str]]) -> str:
        """Assemble the parts (sorted) into the payload; returns the object's ETag."""

    @abc.abstractmethod
    def abort_multipart(self, transfer_id: str, upload_id: str) -> None: ...

    # --- presigned URLs -------------------------------------------------------------------------
    @abc.abstractmethod
    def part_url(
        self, transfer_id: str, upload_id: str, part_number: int, base_url: str, expiry: int
    ) -> str: ...

    @abc.abstractmethod
    def upload_url(self, transfer_id: str, base_url: str, expiry: int) -> str: ...

    @abc.abstractmethod
    def download_url(self, transfer_id: str, base_url: str, expiry: int) -> str: ...

    # --- housekeeping (the abandoned-upload sweep, sweeper.py) ----------------------------------------
    @abc.abstractmethod
    def transfer_ids(self) -> Iterator[str]:
        """The id of every transfer stored (in no particular order)."""

    @abc.abstractmethod
    def remove_transfer(self, transfer_id: str) -> None:
        """Remove everything stored for the transfer (its record last); multipart uploads are aborted
        separately. Nothing to remove is not an error."""

    @abc.abstractmethod
    def multipart_uploads(self) -> list[tuple[str, str, float]]:
        """(transfer id, upload id, Unix time) of every multipart upload held: the time it started, or on
        disk the last time a part arrived."""

    def remove_leftovers(self, older_than: float) -> int:
        """Remove crash leftovers last changed before ``older_than`` (temp files, records never written);
        returns how many. Stores without any have nothing to do."""
        return 0

    # --- small server records (token use counts, tokens.py) ---------------------------------------------
    @abc.abstractmethod
    def load_record(self, name: str) -> dict[str, Any] | None:
        """A small JSON record of the server's own (``token-usage/<hex>``); None when there is none."""

    @abc.abstractmethod
    def update_record(self, name: str, change: Callable[[dict[str, Any]], T]) -> tuple[dict[str, Any], T]:
        """Read-modify-write one record atomically, starting from ``{}`` when there is none (concurrent
        updates, also from other processes on the same store, are never lost); ``change`` may raise to
        abort (nothing written)."""

    # --- secrets ----------------------------------------------------------------------------------
    @abc.abstractmethod
    def ticket_secret(self) -> bytes:
        """The secret download tickets are derived from; the same for every process on this store."""

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Release clients and files (optional)."""
