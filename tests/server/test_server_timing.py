"""`Server-Timing` on every answer (server/timing.py): how long the request spent in the store, how long it
waited for a worker thread, and the whole time to the answer's headers — on both backends, and against a
store that is 150 ms away (a real SeaweedFS behind a TCP relay that delays every request)."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.helpers.seaweed import SeaweedS3
from tests.helpers.servers import running_server
from tests.helpers.slow_link import SlowLink
from tests.server.flows import create

ENTRY = re.compile(r'(\w+);dur=([0-9.]+)(?:;desc="(\d+) calls?")?')


def timing(response: httpx.Response) -> dict[str, tuple[float, int]]:
    """{name: (milliseconds, store calls)} from the answer's Server-Timing header."""
    header = response.headers.get("server-timing")
    assert header, f"no Server-Timing on {response.request.method} {response.request.url.path}"
    found = {name: (float(ms), int(calls or 0)) for name, ms, calls in ENTRY.findall(header)}
    assert set(found) == {"store", "wait", "app"}, header
    return found


def test_every_answer_says_how_much_of_it_was_the_store(client: httpx.Client) -> None:
    payload = os.urandom(5000)
    transfer_id = create(client, len(payload))
    answers = [
        client.post(f"/api/transfers/upload/{transfer_id}", content=payload),
        client.post(f"/api/transfers/complete/{transfer_id}"),
        client.get(f"/api/transfers/info/{transfer_id}"),
        client.get(f"/api/transfers/download/{transfer_id}"),
        client.get("/api/transfers/info/000000000000"),  # a 404 read the store too
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 404]
    for answer in answers:
        figures = timing(answer)
        store_ms, calls = figures["store"]
        assert calls >= 1, (answer.request.url.path, figures)
        assert 0 < store_ms <= figures["app"][0], (answer.request.url.path, figures)
    page = client.get("/")  # the upload page: no store call
    assert page.status_code == 200
    assert timing(page)["store"] == (0.0, 0)


@pytest.mark.s3
def test_a_slow_store_shows_as_store_time_not_the_servers(seaweedfs: SeaweedS3, tmp_path: Path) -> None:
    delay = 0.15
    address = urlsplit(seaweedfs.endpoint)
    with SlowLink(address.hostname or "127.0.0.1", address.port or 80, delay) as link, \
            running_server(tmp_path, "s3", s3=dataclasses.replace(seaweedfs, endpoint=link.url)) as server, \
            httpx.Client(base_url=server.url, timeout=30) as client:
        payload = os.urandom(5000)
        transfer_id = create(client, len(payload))
        for answer in (client.post(f"/api/transfers/upload/{transfer_id}", content=payload),
                       client.post(f"/api/transfers/complete/{transfer_id}"),
                       client.get(f"/api/transfers/info/{transfer_id}")):
            assert answer.status_code == 200, answer.text
            figures = timing(answer)
            store_ms, calls = figures["store"]
            app_ms = figures["app"][0]
            # each S3 request waits `delay` (a write route makes one or two; a call may also be a batch of
            # payload bytes into memory, so calls are not requests)
            assert calls >= 1 and store_ms >= delay * 1000 * 0.95, figures
            # the rest — routing, JSON, the wait for a thread — is the server's own, and small beside it
            assert app_ms >= store_ms and app_ms - store_ms < delay * 1000, figures
