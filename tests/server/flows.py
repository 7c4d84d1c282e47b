"""Client-side steps of the upstream flows, written with plain httpx (what the web UI does)."""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

MIB = 1024 * 1024


def create(client: httpx.Client, size: int, **options: Any) -> str:
    body = {"file_size_bytes": size, "content_type_hint": "application/octet-stream", **options}
    response = client.post("/api/transfers/create", json=body)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["upload_url"] == f"/api/transfers/upload/{data['transfer_id']}"
    return str(data["transfer_id"])


def small_transfer(client: httpx.Client, payload: bytes, **options: Any) -> str:
    transfer_id = create(client, len(payload), **options)
    uploaded = client.post(f"/api/transfers/upload/{transfer_id}", content=payload)
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json() == {"status": "uploaded", "transfer_id": transfer_id, "size": len(payload)}
    completed = client.post(f"/api/transfers/complete/{transfer_id}")
    assert completed.status_code == 200, completed.text
    return transfer_id


def slices(path: Path, part_size: int) -> list[tuple[int, int, int]]:
    """(part_number, offset, length) covering the file."""
    size = path.stat().st_size
    return [
        (i + 1, offset, min(part_size, size - offset)) for i, offset in enumerate(range(0, size, part_size))
    ]


def read_slice(path: Path, offset: int, length: int) -> bytes:
    with open(path, "rb") as handle:
        handle.seek(offset)
        return handle.read(length)


def put_part(url: str, data: bytes) -> str:
    response = httpx.put(url, content=data, timeout=60)
    assert response.status_code == 200, response.text
    etag = response.headers["etag"]
    assert etag == f'"{hashlib.md5(data).hexdigest()}"'
    return etag


def multipart_upload(
    client: httpx.Client,
    path: Path,
    declared: int | None = None,
    workers: int = 4,
    complete: bool = True,
    part_size: int = 10 * MIB,
) -> tuple[str, str]:
    """The web UI's flow: initiate, PUT slices of max_part_size in parallel, complete with the ETags."""
    size = path.stat().st_size
    transfer_id = create(client, size if declared is None else declared)
    pieces = slices(path, part_size)
    initiated = client.post(
        "/api/presigned/initiate",
        json={"transfer_id": transfer_id, "file_size_bytes": size, "num_parts": len(pieces)},
    )
    assert initiated.status_code == 200, initiated.text
    data = initiated.json()
    upload_id = data["upload_id"]
    urls = {item["part_number"]: item["upload_url"] for item in data["part_urls"]}
    assert sorted(urls) == [n for n, _, _ in pieces]
    assert all(url.startswith("http") for url in urls.values())

    def send(piece: tuple[int, int, int]) -> dict[str, Any]:
        number, offset, length = piece
        return {"part_number": number, "etag": put_part(urls[number], read_slice(path, offset, length))}

    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(send, pieces))
    if complete:
        finish_multipart(client, transfer_id, upload_id, parts)
    return transfer_id, upload_id


def finish_multipart(
    client: httpx.Client, transfer_id: str, upload_id: str, parts: list[dict[str, Any]]
) -> None:
    done = client.post(
        "/api/presigned/complete", json={"transfer_id": transfer_id, "upload_id": upload_id, "parts": parts}
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "assembled"
    completed = client.post(f"/api/transfers/complete/{transfer_id}")
    assert completed.status_code == 200, completed.text


def random_file(path: Path, size: int) -> Path:
    with open(path, "wb") as handle:
        remaining = size
        while remaining:
            block = os.urandom(min(remaining, 4 * MIB))
            handle.write(block)
            remaining -= len(block)
    return path


def download_url(client: httpx.Client, transfer_id: str) -> str:
    response = client.get(f"/api/presigned/download-url/{transfer_id}")
    assert response.status_code == 200, response.text
    return str(response.json()["download_url"])


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while block := handle.read(MIB):
            digest.update(block)
    return digest.hexdigest()
