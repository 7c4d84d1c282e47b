"""The stored record of one transfer, and what the API shows of it (no file bytes, no key, no name)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

PENDING = "pending"
COMPLETED = "completed"
EXHAUSTED = "exhausted"
DELETED = "deleted"


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def hash_ip(ip: str | None) -> str:
    return hashlib.sha256((ip or "").encode()).hexdigest()


@dataclass
class TransferMeta:
    transfer_id: str
    file_size_bytes: int
    content_type_hint: str = ""
    status: str = PENDING  # pending | completed | deleted (exhausted is derived)
    created_at: str = field(default_factory=now_iso)
    sender_ip_hash: str = ""
    download_count: int = 0
    max_downloads: int = 0
    auto_delete: bool = False
    expires_at: str = ""  # ISO-8601 UTC, "" = never
    delete_auth_hash: str = ""
    completed_at: str = ""  # set by /api/transfers/complete
    upload_id: str = ""  # the multipart upload in progress, if any
    upload_part_size: int = 0  # its planned part size (presigned/initiate); 0 = unknown (older records)
    assembled_upload_id: str = ""  # the multipart upload presigned/complete assembled (retries answer 200)
    assembled_etag: str = ""
    payload_size: int | None = None  # set once the payload is stored
    # an S3 presigned PUT URL was issued (presigned/upload-url): the object may then be replaced without
    # the server knowing, so complete reads its size from the store instead of trusting payload_size
    payload_put_url: bool = False
    parts_log: list[list[int]] = field(default_factory=list)  # [[part_number, size], ...] arrival order
    event_offset: int = 0  # event ids used by aborted multipart uploads
    purge_after: float | None = None  # auto_delete: wipe the payload after this Unix time
    payload_purged: bool = False
    log: list[dict[str, Any]] = field(default_factory=list)  # audit trail: action, timestamp, ip hash
    # download-url grants recently counted: sha256(grant id) → Unix time. A client whose answer was lost
    # retries with the same id and is not counted twice (x-sgsend-download-grant, docs/api.md)
    grants: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TransferMeta:
        known = {item.name for item in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def add_log(self, action: str, **extra: Any) -> None:
        self.log.append({"action": action, "timestamp": now_iso(), **extra})
        del self.log[:-200]  # bounded: a popular transfer must not grow without limit

    @property
    def expires(self) -> datetime | None:
        return datetime.fromisoformat(self.expires_at) if self.expires_at else None

    def is_expired(self, now: datetime | None = None) -> bool:
        expires = self.expires
        return expires is not None and (now or datetime.now(UTC)) >= expires

    @property
    def is_exhausted(self) -> bool:
        return self.max_downloads > 0 and self.download_count >= self.max_downloads

    @property
    def public_status(self) -> str:
        if self.status == COMPLETED and self.is_exhausted:
            return EXHAUSTED
        return self.status

    @property
    def downloads_remaining(self) -> int:
        return max(0, self.max_downloads - self.download_count) if self.max_downloads else 0

    def info(self) -> dict[str, Any]:
        return {
            "transfer_id": self.transfer_id,
            "status": self.public_status,
            "file_size_bytes": self.file_size_bytes,
            "content_type_hint": self.content_type_hint,
            "created_at": self.created_at,
            "download_count": self.download_count,
            "max_downloads": self.max_downloads,
            "expires_at": self.expires_at,
            "downloads_remaining": self.downloads_remaining,
            "is_expired": self.is_expired(),
        }

    def wipe_at(self, grace: float) -> float | None:
        """When the stored payload can no longer be fetched by anyone, as Unix time: an expired transfer
        once the last download URL handed out before its expiry has run out too (``grace``: the URLs'
        lifetime), an auto_delete one at ``purge_after``. None: it may be fetched as long as it exists."""
        times = []
        if self.expires is not None:
            times.append(self.expires.timestamp() + grace)
        if self.purge_after is not None:
            times.append(self.purge_after)
        return min(times) if times else None

    def purge_due(self) -> bool:
        return self.purge_after is not None and not self.payload_purged and time.time() >= self.purge_after
