"""In-process wake-ups for event streams (the disk backend's changes); S3 streams also poll the store."""

from __future__ import annotations

import asyncio
from collections import defaultdict


class ChangeNotifier:
    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self.closed = False

    def notify(self, transfer_id: str) -> None:
        for event in self._waiters.get(transfer_id, ()):
            event.set()

    def close(self) -> None:
        """The server is shutting down: wake every waiter now, and every later wait returns at once."""
        self.closed = True
        for waiters in list(self._waiters.values()):
            for event in waiters:
                event.set()

    async def wait(self, transfer_id: str, timeout: float) -> bool:
        """Wait until ``notify(transfer_id)``, ``close()`` or the timeout; True when woken."""
        if self.closed:
            return True
        event = asyncio.Event()
        self._waiters[transfer_id].add(event)
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            waiters = self._waiters.get(transfer_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[transfer_id]
