"""Human-readable sizes for messages (the GUI's columns and the core's error sentences alike)."""

from __future__ import annotations

_UNITS = ("B", "KB", "MB", "GB", "TB")


def format_size(size: int | float) -> str:
    """1024-based, one decimal above bytes: ``0 B``, ``512 B``, ``1.5 MB``."""
    value = float(size)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
