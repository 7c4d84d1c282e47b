"""Issue 9, item 9 (limits): dates at the edge of the calendar, JSON bodies, part sizes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers.servers import ServerProc
from tests.reliability.server_helpers import assert_clean_log, create, files_of, peak_rss, serving
from tests.server.flows import MIB, put_part


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    """Lambda limits off: nothing but the server's own bounds stands between a client and its memory."""
    with serving(tmp_path_factory.mktemp("limits"), ["--no-lambda-limits"]) as proc:
        yield proc


@pytest.fixture
def client(server: ServerProc) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        yield http


# --- expires_at ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("expires_at", [
    "9999-12-31T23:59:59-05:00",   # UTC is in year 10000
    "0001-01-01T00:00:00+05:00",   # UTC is in year 0
    "9999-12-31T23:59:59.999999-00:01",
])
def test_expires_at_out_of_range_is_400(client: httpx.Client, server: ServerProc, expires_at: str) -> None:
    response = client.post("/api/transfers/create", json={"file_size_bytes": 1, "expires_at": expires_at})
    assert response.status_code in (400, 422), response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and "expires_at" in detail and "\n" not in detail
    assert_clean_log(server)


def test_expires_at_at_the_edges_that_fit_is_accepted(client: httpx.Client) -> None:
    far = create(client, 1, expires_at="9999-12-31T23:59:59Z")
    assert client.get(f"/api/transfers/info/{far}").json()["is_expired"] is False
    past = create(client, 1, expires_at="0001-01-01T00:00:00-05:00")  # year 1 in UTC too
    assert client.get(f"/api/transfers/info/{past}").json()["is_expired"] is True


# --- JSON bodies ---------------------------------------------------------------------------------------

def big_json(size: int) -> bytes:
    return b'{"transfer_id": "0123456789ab", "download_ticket": "' + b"t" * size + b'"}'


def test_huge_json_body_is_413_without_buffering_it(client: httpx.Client, server: ServerProc) -> None:
    """Unauthenticated, no Lambda limits: 100 MB of JSON to download-url/refresh must not be read."""
    before = peak_rss(server.proc.pid)
    body = big_json(100 * MIB)
    response = client.post("/api/presigned/download-url/refresh", content=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413, response.text[:200]
    assert "too large" in response.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams in
        for start in range(0, len(body), MIB):
            yield body[start:start + MIB]

    streamed = client.post("/api/presigned/download-url/refresh", content=chunks(),
                           headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    grown = peak_rss(server.proc.pid) - before
    print(f"\n100 MB of JSON, twice: peak RSS grew {grown / MIB:.1f} MiB")
    assert grown < 40 * MIB, f"peak RSS grew by {grown / MIB:.0f} MiB"
    assert_clean_log(server)


def test_json_bodies_clients_send_still_fit(client: httpx.Client) -> None:
    """presigned/complete with 10 000 parts (the most S3 allows) is about 600 KB, part-urls for 10 000
    parts about 60 KB: not a 413."""
    parts = [{"part_number": n, "etag": '"' + "0" * 32 + '"'} for n in range(1, 10_001)]
    body = {"transfer_id": "0123456789ab", "upload_id": "x" * 32, "parts": parts}
    assert len(json.dumps(body)) > 500_000
    assert client.post("/api/presigned/complete", json=body).status_code == 404  # parsed, then unknown
    numbers = {"transfer_id": "0123456789ab", "upload_id": "x" * 32, "part_numbers": list(range(1, 10_001))}
    pretty = json.dumps(numbers, indent=2).encode()  # a client may pretty-print: ~90 KB
    assert len(pretty) > 64 * 1024
    response = client.post("/api/presigned/part-urls", content=pretty,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 404
    refresh = client.post("/api/presigned/download-url/refresh",
                          json={"transfer_id": "0123456789ab", "download_ticket": "t" * 400})
    assert refresh.status_code == 403


# --- part sizes ----------------------------------------------------------------------------------------

def initiate(client: httpx.Client, declared: int, num_parts: int) -> tuple[str, dict[str, object]]:
    transfer_id = create(client, declared)
    init = client.post("/api/presigned/initiate",
                       json={"transfer_id": transfer_id, "file_size_bytes": declared, "num_parts": num_parts})
    assert init.status_code == 200, init.text
    return transfer_id, init.json()


def parts_held(client: httpx.Client, transfer_id: str, upload_id: str) -> list[dict[str, object]]:
    listed = client.get(f"/api/presigned/parts/{transfer_id}/{upload_id}")
    assert listed.status_code == 200, listed.text
    return list(listed.json()["parts"])


def test_part_far_larger_than_declared_is_refused(client: httpx.Client, server: ServerProc) -> None:
    transfer_id, init = initiate(client, 100, 1)
    url = init["part_urls"][0]["upload_url"]  # type: ignore[index]
    response = httpx.put(url, content=b"p" * (3 * MIB), timeout=60)
    assert response.status_code in (400, 413), response.text[:200]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must stop counting at the cap
        for _ in range(30):
            yield b"p" * MIB

    streamed = httpx.put(url, content=chunks(), timeout=60)
    assert streamed.status_code in (400, 413)
    assert parts_held(client, transfer_id, str(init["upload_id"])) == []
    time.sleep(0.2)
    assert files_of(server.data_dir, transfer_id) == []
    # what was declared still goes through
    put_part(url, b"p" * 100)
    assert len(parts_held(client, transfer_id, str(init["upload_id"]))) == 1
    assert_clean_log(server)


def test_part_larger_than_the_part_size_is_refused(client: httpx.Client, server: ServerProc) -> None:
    """40 MiB declared in 8 parts of 5 MiB: a 30 MiB part is refused; 5 MiB and a 10 MiB slice (what the
    upstream web UI sends) are accepted."""
    transfer_id, init = initiate(client, 40 * MIB, 8)
    assert init["part_size"] == 5 * MIB
    urls = [item["upload_url"] for item in init["part_urls"]]  # type: ignore[attr-defined]
    response = httpx.put(urls[0], content=b"q" * (30 * MIB), timeout=60)
    assert response.status_code in (400, 413), response.text[:200]
    assert parts_held(client, transfer_id, str(init["upload_id"])) == []
    put_part(urls[0], b"q" * (5 * MIB))
    put_part(urls[1], b"q" * (10 * MIB))
    assert [p["part_number"] for p in parts_held(client, transfer_id, str(init["upload_id"]))] == [1, 2]
    assert_clean_log(server)
