"""SSE progress events: seen live while another client uploads, replayed after a reconnect."""

from __future__ import annotations

import hashlib
import os

import httpx

from tests.helpers.servers import ServerProc
from tests.server.flows import MIB, create, download_url, put_part, small_transfer
from tests.server.sse import SseListener

STATE_KEYS = {
    "transfer_id",
    "status",
    "parts_confirmed",
    "bytes_confirmed",
    "download_count",
    "file_size_bytes",
}


def test_events_while_uploading_and_replay(client: httpx.Client, server: ServerProc) -> None:
    sizes = [5 * MIB, 5 * MIB, 1000]
    transfer_id = create(
        client, sum(sizes), max_downloads=2, delete_auth_hash=hashlib.sha256(b"da").hexdigest()
    )
    url = f"{server.url}/api/transfers/events/{transfer_id}"
    listener = SseListener(url).start()
    listener.wait_for(lambda events: len(events) >= 1)
    first = listener.events[0]
    assert first.type == "snapshot" and first.id == 0
    assert set(first.data) >= STATE_KEYS and first.data["status"] == "pending"

    init = client.post(
        "/api/presigned/initiate",
        json={"transfer_id": transfer_id, "file_size_bytes": sum(sizes), "num_parts": 3},
    ).json()
    parts = []
    for item, size in zip(init["part_urls"], sizes, strict=True):
        etag = put_part(item["upload_url"], os.urandom(size))
        parts.append({"part_number": item["part_number"], "etag": etag})
        seen = listener.wait_count("part", len(parts))
        assert seen[-1].data["parts_confirmed"] == len(parts)
    part_events = listener.of_type("part")
    assert sorted(e.data["part_number"] for e in part_events) == [1, 2, 3]
    assert part_events[-1].data["bytes_confirmed"] == sum(sizes)
    assert {"part_number", "size"} <= set(part_events[0].data)

    client.post(
        "/api/presigned/complete",
        json={"transfer_id": transfer_id, "upload_id": init["upload_id"], "parts": parts},
    )
    client.post(f"/api/transfers/complete/{transfer_id}")
    listener.wait_for(lambda events: any(e.type == "completed" for e in events))
    download_url(client, transfer_id)
    downloaded = listener.wait_for(lambda events: any(e.type == "downloaded" for e in events))
    assert downloaded[-1].data["download_count"] == 1
    ids = [e.id for e in listener.events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)

    # Reconnect as if the connection dropped after the first part event: the rest is replayed.
    replay = SseListener(url, last_event_id=part_events[0].id).start()
    replayed = replay.wait_for(lambda events: any(e.type == "downloaded" for e in events))
    assert replayed[0].type == "snapshot" and replayed[0].id == part_events[0].id
    assert [e.type for e in replayed[1:]] == ["part", "part", "completed", "downloaded"]
    assert [e.id for e in replayed[1:]] == ids[2:]
    assert replayed[-1].data == listener.events[-1].data

    # A fresh connection starts at the current state.
    fresh = SseListener(url).start()
    fresh.wait_for(lambda events: len(events) >= 1)
    assert fresh.events[0].id == ids[-1] and fresh.events[0].data["download_count"] == 1

    # Deleting ends every stream with a `deleted` event.
    client.delete(f"/api/transfers/delete/{transfer_id}", headers={"x-sgraph-transfer-delete-auth": "da"})
    for stream in (listener, replay, fresh):
        assert stream.ended.wait(10), "stream did not end after delete"
        assert stream.events[-1].type == "deleted"
        assert stream.events[-1].data["status"] == "deleted"


def test_events_for_small_transfer_and_unknown(client: httpx.Client, server: ServerProc) -> None:
    transfer_id = small_transfer(client, b"x" * 50)
    listener = SseListener(f"{server.url}/api/transfers/events/{transfer_id}").start()
    events = listener.wait_for(lambda events: len(events) >= 1)
    assert events[0].type == "snapshot"
    assert events[0].data["status"] == "completed" and events[0].data["bytes_confirmed"] == 50
    replay = SseListener(f"{server.url}/api/transfers/events/{transfer_id}", last_event_id=0).start()
    assert [e.type for e in replay.wait_for(lambda ev: len(ev) >= 2)][:2] == ["snapshot", "completed"]
    assert client.get("/api/transfers/events/0123456789ab").status_code == 404
