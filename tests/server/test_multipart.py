"""Presigned multipart upload (parallel PUTs), extensions, and ranged downloads, on both backends."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.flows import (
    MIB,
    create,
    download_url,
    file_md5,
    finish_multipart,
    multipart_upload,
    put_part,
    random_file,
    read_slice,
)

PAYLOAD_SIZE = 2 * 5 * MIB + 12345  # three parts: two of 5 MiB (the minimum) and a short last one


@pytest.fixture(scope="module")
def payload(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return random_file(tmp_path_factory.mktemp("payload") / "payload.bin", PAYLOAD_SIZE)


@pytest.fixture(scope="module")
def uploaded(server: Any, payload: Path) -> str:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        transfer_id, _ = multipart_upload(client, payload, declared=PAYLOAD_SIZE - 28, part_size=5 * MIB)
    return transfer_id


def test_multipart_flow_with_parallel_puts(
    client: httpx.Client, uploaded: str, payload: Path, tmp_path: Path
) -> None:
    info = client.get(f"/api/transfers/info/{uploaded}").json()
    assert info["status"] == "completed"
    out = tmp_path / "back.bin"
    with httpx.stream("GET", download_url(client, uploaded), timeout=60) as response:
        assert response.status_code == 200
        assert int(response.headers["content-length"]) == PAYLOAD_SIZE
        with open(out, "wb") as handle:
            for block in response.iter_bytes():
                handle.write(block)
    assert file_md5(out) == file_md5(payload)


def test_direct_download_over_5_mib_is_413(client: httpx.Client, uploaded: str) -> None:
    response = client.get(f"/api/transfers/download/{uploaded}")
    assert response.status_code == 413
    assert f"/api/presigned/download-url/{uploaded}" in response.json()["detail"]


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        (f"bytes={5 * MIB - 10}-{5 * MIB + 9}", 5 * MIB - 10, 5 * MIB + 9),  # across a part boundary
        (f"bytes={PAYLOAD_SIZE - 1000}-", PAYLOAD_SIZE - 1000, PAYLOAD_SIZE - 1),
        ("bytes=-500", PAYLOAD_SIZE - 500, PAYLOAD_SIZE - 1),
    ],
)
def test_ranged_download(
    client: httpx.Client, uploaded: str, payload: Path, header: str, start: int, end: int
) -> None:
    url = download_url(client, uploaded)
    response = httpx.get(url, headers={"Range": header}, timeout=30)
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes {start}-{end}/{PAYLOAD_SIZE}"
    assert response.content == read_slice(payload, start, end - start + 1)


def test_unsatisfiable_range_is_416(client: httpx.Client, uploaded: str) -> None:
    response = httpx.get(
        download_url(client, uploaded), headers={"Range": f"bytes={PAYLOAD_SIZE}-"}, timeout=30
    )
    assert response.status_code == 416


def test_parts_listing_and_fresh_urls(client: httpx.Client, tmp_path: Path) -> None:
    transfer_id = create(client, 5 * MIB + 100)
    init = client.post(
        "/api/presigned/initiate",
        json={"transfer_id": transfer_id, "file_size_bytes": 5 * MIB + 100, "num_parts": 2},
    ).json()
    assert init["part_size"] == 5 * MIB
    upload_id = init["upload_id"]
    first = os.urandom(5 * MIB)
    etag1 = put_part(init["part_urls"][0]["upload_url"], first)
    listed = client.get(f"/api/presigned/parts/{transfer_id}/{upload_id}").json()
    assert listed["parts"] == [{"part_number": 1, "etag": etag1, "size": 5 * MIB}]
    fresh = client.post(
        "/api/presigned/part-urls",
        json={"transfer_id": transfer_id, "upload_id": upload_id, "part_numbers": [2]},
    ).json()
    assert [p["part_number"] for p in fresh["part_urls"]] == [2]
    assert fresh["expires_in"] == 3600
    last = os.urandom(100)
    etag2 = put_part(fresh["part_urls"][0]["upload_url"], last)
    finish_multipart(
        client, transfer_id, upload_id, [{"part_number": 2, "etag": etag2}, {"part_number": 1, "etag": etag1}]
    )  # any order
    assert httpx.get(download_url(client, transfer_id), timeout=30).content == first + last


def test_complete_rejects_small_middle_part_and_bad_etag(client: httpx.Client) -> None:
    transfer_id = create(client, 300)
    init = client.post(
        "/api/presigned/initiate", json={"transfer_id": transfer_id, "file_size_bytes": 300, "num_parts": 2}
    ).json()
    urls = [p["upload_url"] for p in init["part_urls"]]
    etag1, etag2 = put_part(urls[0], b"a" * 100), put_part(urls[1], b"b" * 100)
    body = {"transfer_id": transfer_id, "upload_id": init["upload_id"]}
    small = client.post(
        "/api/presigned/complete",
        json={**body, "parts": [{"part_number": 1, "etag": etag1}, {"part_number": 2, "etag": etag2}]},
    )
    assert small.status_code == 400
    missing = client.post(
        "/api/presigned/complete", json={**body, "parts": [{"part_number": 3, "etag": etag1}]}
    )
    assert missing.status_code == 400
    bad_part = client.post(
        "/api/presigned/complete", json={**body, "parts": [{"part_number": 0, "etag": etag1}]}
    )
    assert bad_part.status_code == 400
    unknown = client.post(
        "/api/presigned/complete",
        json={**body, "upload_id": "nope", "parts": [{"part_number": 1, "etag": etag1}]},
    )
    assert unknown.status_code == 404


def test_cancel_multipart(client: httpx.Client) -> None:
    transfer_id = create(client, 100)
    init = client.post(
        "/api/presigned/initiate", json={"transfer_id": transfer_id, "file_size_bytes": 100, "num_parts": 1}
    ).json()
    put_part(init["part_urls"][0]["upload_url"], b"c" * 100)
    cancelled = client.post(f"/api/presigned/cancel/{transfer_id}/{init['upload_id']}")
    assert cancelled.json() == {"transfer_id": transfer_id, "status": "cancelled"}
    assert client.get(f"/api/presigned/parts/{transfer_id}/{init['upload_id']}").status_code == 404


def test_initiate_checks(client: httpx.Client) -> None:
    transfer_id = create(client, 10)
    too_many = client.post(
        "/api/presigned/initiate",
        json={"transfer_id": transfer_id, "file_size_bytes": 10, "num_parts": 10001},
    )
    assert too_many.status_code == 400
    unknown = client.post(
        "/api/presigned/initiate", json={"transfer_id": "0123456789ab", "file_size_bytes": 10, "num_parts": 1}
    )
    assert unknown.status_code == 404
    bad_id = client.post("/api/presigned/initiate", json={"transfer_id": "../../etc", "file_size_bytes": 10})
    assert bad_id.status_code == 400
