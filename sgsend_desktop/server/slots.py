"""Bounds on open event streams: per transfer and per process (the route needs no auth)."""

from __future__ import annotations

from fastapi import HTTPException

STREAM_RETRY_AFTER = 10  # seconds a refused client is asked to wait (the desktop client backs off to 10 s)


class StreamSlots:
    """Counts the open event streams (all on the event loop's thread, so no lock).

    ``acquire`` refuses with 429 when the transfer already has ``per_transfer`` streams (one client, or a
    few, watching the same transfer over and over) and with 503 when the process has ``total`` (the server
    as a whole is full); both with Retry-After, and the connection is closed."""

    def __init__(self, total: int, per_transfer: int) -> None:
        self.total = total
        self.per_transfer = per_transfer
        self.active = 0
        self._by_transfer: dict[str, int] = {}

    def acquire(self, transfer_id: str) -> None:
        held = self._by_transfer.get(transfer_id, 0)
        # a refused client is told to come back in 10 s: its connection must not sit idle in a keep-alive
        # slot meanwhile (kept-alive 20 s, a burst of refusals filled the connection limit: 503 for all)
        headers = {"Retry-After": str(STREAM_RETRY_AFTER), "Connection": "close"}
        if held >= self.per_transfer:
            raise HTTPException(
                status_code=429,
                detail=f"Too many event streams for this transfer (at most {self.per_transfer}); "
                "retry later.",
                headers=headers,
            )
        if self.active >= self.total:
            raise HTTPException(
                status_code=503,
                detail=f"This server has its maximum of {self.total} event streams open; retry later.",
                headers=headers,
            )
        self._by_transfer[transfer_id] = held + 1
        self.active += 1

    def release(self, transfer_id: str) -> None:
        held = self._by_transfer.get(transfer_id, 0)
        if held <= 1:
            self._by_transfer.pop(transfer_id, None)
        else:
            self._by_transfer[transfer_id] = held - 1
        self.active = max(0, self.active - 1)

    def held(self, transfer_id: str) -> int:
        return self._by_transfer.get(transfer_id, 0)
