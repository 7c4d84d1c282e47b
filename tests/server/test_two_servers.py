"""S3 mode keeps no local state: two `sgsend serve` processes on one bucket serve the same transfers."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from tests.helpers.seaweed import SeaweedS3
from tests.helpers.servers import running_server
from tests.server.flows import MIB, create, download_url, put_part
from tests.server.sse import SseListener


def test_two_processes_share_one_bucket(seaweedfs: SeaweedS3, tmp_path: Path) -> None:
    sizes = [5 * MIB, 2000]
    chunks = [os.urandom(size) for size in sizes]
    with (
        running_server(tmp_path / "a", backend="s3", s3=seaweedfs) as one,
        running_server(tmp_path / "b", backend="s3", s3=seaweedfs) as two,
        httpx.Client(base_url=one.url, timeout=30) as first,
        httpx.Client(base_url=two.url, timeout=30) as second,
    ):
        transfer_id = create(first, sum(sizes))
        listener = SseListener(f"{two.url}/api/transfers/events/{transfer_id}").start()  # SSE on the other
        listener.wait_for(lambda events: len(events) >= 1)
        init = first.post(
            "/api/presigned/initiate",
            json={"transfer_id": transfer_id, "file_size_bytes": sum(sizes), "num_parts": 2},
        ).json()
        parts = []
        for item, data in zip(init["part_urls"], chunks, strict=True):
            parts.append({"part_number": item["part_number"], "etag": put_part(item["upload_url"], data)})
            listener.wait_count("part", len(parts))
        assert listener.of_type("part")[-1].data["bytes_confirmed"] == sum(sizes)
        listed = second.get(f"/api/presigned/parts/{transfer_id}/{init['upload_id']}").json()
        assert [p["part_number"] for p in listed["parts"]] == [1, 2]
        done = second.post(
            "/api/presigned/complete",
            json={"transfer_id": transfer_id, "upload_id": init["upload_id"], "parts": parts},
        )
        assert done.status_code == 200, done.text
        assert second.post(f"/api/transfers/complete/{transfer_id}").status_code == 200
        listener.wait_for(lambda events: any(e.type == "completed" for e in events))
        assert httpx.get(download_url(second, transfer_id), timeout=30).content == b"".join(chunks)
        assert first.get(f"/api/transfers/info/{transfer_id}").json()["download_count"] == 1
        listener.wait_for(lambda events: any(e.type == "downloaded" for e in events))  # counted via the other
