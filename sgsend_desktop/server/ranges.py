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
        suffix = _number(last, header)
        if suffix == 0 or size == 0:
            raise RangeError(header)
        return max(0, size - suffix), size - 1
    start = _number(first, header)
    end = _number(last, header) if last else size - 1
    if start >= size or end < start:
        raise RangeError(header)
    return start, min(end, size - 1)


def _number(text: str, header: str) -> int:
    """ASCII digits only ("²".isdigit() is true, int() refuses it) and no 5000-digit monsters."""
    if not (text.isascii() and text.isdigit()) or len(text) > 20:
        raise RangeError(header)
    return int(text)
