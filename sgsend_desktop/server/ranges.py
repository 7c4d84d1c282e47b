"""One HTTP `Range: bytes=...` header (single range: `a-b`, `a-`, `-n`), as S3 serves it."""

from __future__ import annotations


class RangeError(ValueError):
    """Unsatisfiable or malformed: answer 416."""


def parse_range(header: str, size: int) -> tuple[int, int]:
    """Return inclusive (start, end) within a payload of ``size`` bytes."""
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        raise RangeError(header)
    first, dash, last = spec.strip().partition("-")
    if not dash:
        raise RangeError(header)
    first, last = first.strip(), last.strip()
    if not first:
        if not last.isdigit() or int(last) == 0 or size == 0:
            raise RangeError(header)
        return max(0, size - int(last)), size - 1
    if not first.isdigit() or (last and not last.isdigit()):
        raise RangeError(header)
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        raise RangeError(header)
    return start, min(end, size - 1)
