"""Progress events derived from stored state, so that any process (and any restart) numbers them alike.

Event ids form one sequence per transfer, computed from the store alone:

    version = event_offset + parts_confirmed + completed (0/1) + download_count + terminal (0/1)

Part events come first (ids event_offset+1 .. event_offset+P, parts ordered by arrival: the store's
last-modified time, then part number), then `completed`, then one `downloaded` per download, then
`deleted` or `expired`. A `snapshot` opens every connection: with no Last-Event-ID its id is the
current version and its data the current state; with Last-Event-ID L its id is L and its data the state
as of L, followed by the events L+1 .. now. Every event's data is the full cumulative state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sgsend_desktop.server.meta import COMPLETED, DELETED, EXHAUSTED, PENDING, TransferMeta
from sgsend_desktop.server.storage.base import StoredPart


@dataclass(frozen=True)
class Event:
    id: int
    type: str
    data: dict[str, Any]

    def encode(self) -> str:
        return f"id: {self.id}\nevent: {self.type}\ndata: {json.dumps(self.data, separators=(',', ':'))}\n\n"


@dataclass(frozen=True)
class EventState:
    transfer_id: str
    file_size_bytes: int
    max_downloads: int
    parts: tuple[tuple[int, int], ...]  # (part_number, size) in arrival order
    completed: bool
    download_count: int
    terminal: str | None  # "deleted" | "expired" | None
    offset: int
    payload_size: int | None
    expires_at: float | None = None  # Unix time the transfer expires (streams wake up for it)

    @classmethod
    def from_store(cls, meta: TransferMeta, live_parts: list[StoredPart] | None) -> EventState:
        if meta.parts_log:
            parts = tuple((int(number), int(size)) for number, size in meta.parts_log)
        elif live_parts:
            ordered = sorted(live_parts, key=lambda part: (part.last_modified, part.part_number))
            parts = tuple((part.part_number, part.size) for part in ordered)
        else:
            parts = ()
        completed = bool(meta.completed_at)
        terminal = "deleted" if meta.status == DELETED else ("expired" if meta.is_expired() else None)
        return cls(
            transfer_id=meta.transfer_id,
            file_size_bytes=meta.file_size_bytes,
            max_downloads=meta.max_downloads,
            parts=parts,
            completed=completed,
            download_count=meta.download_count,
            terminal=terminal,
            offset=meta.event_offset,
            payload_size=meta.payload_size,
            expires_at=expires.timestamp() if (expires := meta.expires) is not None else None,
        )

    @property
    def version(self) -> int:
        return (
            self.offset
            + len(self.parts)
            + int(self.completed)
            + self.download_count
            + int(self.terminal is not None)
        )

    def data_at(self, version: int) -> dict[str, Any]:
        """The cumulative state as it stood when event ``version`` happened."""
        step = max(0, version - self.offset)
        parts_seen = min(step, len(self.parts))
        step -= parts_seen
        completed = self.completed and step >= 1
        step -= int(completed)
        downloads = min(max(0, step), self.download_count) if completed else 0
        step -= downloads
        terminal = self.terminal if step >= 1 else None
        if terminal == "deleted":
            status = DELETED
        elif not completed:
            status = PENDING
        elif self.max_downloads and downloads >= self.max_downloads:
            status = EXHAUSTED
        else:
            status = COMPLETED
        confirmed = sum(size for _, size in self.parts[:parts_seen])
        if completed and not self.parts and self.payload_size is not None:
            confirmed = self.payload_size
        return {
            "transfer_id": self.transfer_id,
            "status": status,
            "parts_confirmed": parts_seen,
            "bytes_confirmed": confirmed,
            "download_count": downloads,
            "file_size_bytes": self.file_size_bytes,
            "is_expired": terminal == "expired" or (self.terminal == "expired" and step >= 1),
        }

    def event_at(self, version: int) -> Event:
        """The event whose id is ``version`` (1-based within this transfer's sequence)."""
        data = self.data_at(version)
        index = version - self.offset
        if 1 <= index <= len(self.parts):
            number, size = self.parts[index - 1]
            return Event(version, "part", {**data, "part_number": number, "size": size})
        index -= len(self.parts)
        if self.completed and index == 1:
            return Event(version, "completed", data)
        index -= int(self.completed)
        if 1 <= index <= self.download_count:
            return Event(version, "downloaded", data)
        return Event(version, self.terminal or "snapshot", data)

    def events_between(self, after: int, upto: int) -> list[Event]:
        start = max(after, self.offset)
        return [self.event_at(version) for version in range(start + 1, upto + 1)]

    def snapshot(self, last_event_id: int | None) -> Event:
        if last_event_id is None or last_event_id >= self.version:
            return Event(self.version, "snapshot", self.data_at(self.version))
        return Event(last_event_id, "snapshot", self.data_at(last_event_id))
