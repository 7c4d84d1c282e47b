"""A small SSE reader for tests: collects events from a streaming GET on a background thread."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class SseEvent:
    id: int | None
    type: str
    data: dict[str, Any]


@dataclass
class SseListener:
    url: str
    last_event_id: int | None = None
    events: list[SseEvent] = field(default_factory=list)
    comments: int = 0
    ended: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def start(self) -> SseListener:
        threading.Thread(target=self._run, name="sse-listener", daemon=True).start()
        return self

    def _run(self) -> None:
        headers = {"Accept": "text/event-stream"}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = str(self.last_event_id)
        try:
            with httpx.stream(
                "GET", self.url, headers=headers, timeout=httpx.Timeout(30, read=60)
            ) as response:
                response.raise_for_status()
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if line.startswith(":"):
                        self.comments += 1
                    elif not line:
                        if fields:
                            self.events.append(
                                SseEvent(
                                    int(fields["id"]) if "id" in fields else None,
                                    fields.get("event", "message"),
                                    json.loads(fields.get("data", "{}")),
                                )
                            )
                        fields = {}
                    else:
                        name, _, value = line.partition(":")
                        fields[name] = value[1:] if value.startswith(" ") else value
        except BaseException as error:
            self.error = error
        finally:
            self.ended.set()

    def wait_for(self, predicate: Any, timeout: float = 20.0) -> list[SseEvent]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.events):
                return list(self.events)
            if self.ended.is_set() and not predicate(self.events):
                break
            time.sleep(0.05)
        raise AssertionError(
            f"condition not met; events: {[(e.id, e.type) for e in self.events]}, error={self.error}"
        )

    def of_type(self, kind: str) -> list[SseEvent]:
        return [event for event in self.events if event.type == kind]

    def wait_count(self, kind: str, count: int, timeout: float = 20.0) -> list[SseEvent]:
        """Wait until at least ``count`` events of type ``kind`` arrived."""
        return self.wait_for(lambda events: sum(1 for e in events if e.type == kind) >= count, timeout)
