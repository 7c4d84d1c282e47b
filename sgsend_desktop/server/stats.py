"""Counters behind the test hooks (`SGSEND_TEST_HOOKS=1`): storage-endpoint requests and faults."""

from __future__ import annotations

from collections import Counter
from typing import Any


class RequestStats:
    def __init__(self) -> None:
        self.part_puts: Counter[str] = Counter()
        self.active_part_puts = 0
        self.max_concurrent_part_puts = 0
        self.range_gets = 0
        self.part_put_503 = 0

    def part_put_started(self, transfer_id: str) -> None:
        self.part_puts[transfer_id] += 1
        self.active_part_puts += 1
        self.max_concurrent_part_puts = max(self.max_concurrent_part_puts, self.active_part_puts)

    def part_put_finished(self) -> None:
        self.active_part_puts -= 1

    def take_fault(self) -> bool:
        if self.part_put_503 > 0:
            self.part_put_503 -= 1
            return True
        return False

    def as_dict(self) -> dict[str, Any]:
        return {
            "part_puts": dict(self.part_puts),
            "max_concurrent_part_puts": self.max_concurrent_part_puts,
            "range_gets": self.range_gets,
        }
