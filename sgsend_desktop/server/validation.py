"""Input hygiene: every id, number and date from a request is checked here before storage sees it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi import HTTPException

TRANSFER_ID = re.compile(r"^[0-9a-f]{12}$")
UPLOAD_ID = re.compile(r"^[A-Za-z0-9._~=+/-]{1,512}$")
MAX_PARTS = 10_000
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_SIZE = 10 * 1024 * 1024  # what capabilities advertises (the web UI's slice size)
MAX_S3_PART = 5 * 1024**3  # S3's own per-part ceiling
MAX_FILE_SIZE = 5 * 1024**4  # 5 TiB, S3's object ceiling
ENVELOPE_SLACK = 28  # IV + GCM tag: the web UI declares the plaintext size


def check_transfer_id(transfer_id: str) -> str:
    if not TRANSFER_ID.fullmatch(transfer_id):
        raise HTTPException(
            status_code=400, detail="Invalid transfer id: expected 12 lowercase hex characters"
        )
    return transfer_id


def check_upload_id(upload_id: str) -> str:
    if not UPLOAD_ID.fullmatch(upload_id) or ".." in upload_id:
        raise HTTPException(status_code=400, detail="Invalid upload id")
    return upload_id


def check_part_number(part_number: int) -> int:
    if not 1 <= part_number <= MAX_PARTS:
        raise HTTPException(status_code=400, detail=f"Part numbers run from 1 to {MAX_PARTS}")
    return part_number


def parse_expires_at(text: str) -> datetime | None:
    """ISO-8601 with `Z` or an offset (naive times are read as UTC); empty = never. Garbage, or a time
    outside datetime's range once in UTC, → 400."""
    text = text.strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise HTTPException(
            status_code=400, detail=f"Invalid expires_at: {text[:64]!r} is not ISO-8601"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is in year 10000 in UTC
        raise HTTPException(
            status_code=400,
            detail=f"Invalid expires_at: {text[:64]!r} is not between years 1 and 9999 in UTC.",
        ) from None


def size_allowed(declared: int, actual: int) -> bool:
    """A payload may be up to 28 bytes over the declared size (the declaration may be the envelope's)."""
    return actual <= declared + ENVELOPE_SLACK
