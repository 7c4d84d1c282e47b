"""Issue 9, item 8: a delete racing an upload. Whoever loses the race gets a 404/409/410 (never a 500 or a
traceback in the log) and nothing of the upload is left behind: no payload, no part, no temp file.

Each race is made deterministic: the uploading client stops sending half-way until the delete answered,
and assembly is slowed by the `assembly_part_delay` test hook."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.seaweed import SeaweedS3
from tests.helpers.servers import ServerProc
from tests.reliability.server_helpers import (
    DELETE_HEADERS,
    assert_clean_log,
    create,
    files_of,
    gated_body,
    in_background,
    serving,
)
from tests.server.flows import MIB, put_part

LOSER = (404, 409, 410)


@pytest.fixture(scope="module")
def races_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    with serving(tmp_path_factory.mktemp("races-disk")) as server:
        yield server


def delete(client: httpx.Client, transfer_id: str) -> None:
    response = client.delete(f"/api/transfers/delete/{transfer_id}", headers=DELETE_HEADERS)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "deleted"


def race_direct_upload(server: ServerProc) -> tuple[str, httpx.Response]:
    """POST 5 MB to upload/{id}; delete the transfer while the body is half sent; then send the rest."""
    size = 5_000_000
    with httpx.Client(base_url=server.url, timeout=60) as client:
        transfer_id = create(client, size)
        gate, reached = threading.Event(), threading.Event()
        thread, result = in_background(lambda: httpx.post(
            f"{server.url}/api/transfers/upload/{transfer_id}",
            content=gated_body(size, size // 2, gate, reached),
            headers={"Content-Length": str(size)},
            timeout=60,
        ))
        assert reached.wait(30)
        time.sleep(0.3)  # the server has read the first half into its temp file / spool
        delete(client, transfer_id)
        gate.set()
        thread.join(60)
        response = result[0]
        assert isinstance(response, httpx.Response), response
        assert client.get(f"/api/transfers/info/{transfer_id}").json()["status"] == "deleted"
        assert client.post(f"/api/transfers/complete/{transfer_id}").status_code == 404
    return transfer_id, response


def test_delete_during_direct_upload_disk(races_server: ServerProc) -> None:
    transfer_id, response = race_direct_upload(races_server)
    assert response.status_code in LOSER, response.text
    time.sleep(0.2)
    assert files_of(races_server.data_dir, transfer_id) == []
    assert_clean_log(races_server)


@pytest.mark.s3
def test_delete_during_direct_upload_s3(seaweedfs: SeaweedS3, tmp_path: Path) -> None:
    with serving(tmp_path / "data", backend="s3", s3=seaweedfs) as server:
        transfer_id, response = race_direct_upload(server)
        assert response.status_code in LOSER, response.text
        time.sleep(0.2)
        keys = seaweedfs.client().list_objects_v2(Bucket=seaweedfs.bucket, Prefix=f"transfers/{transfer_id}/")
        assert [item["Key"] for item in keys.get("Contents", [])] == [f"transfers/{transfer_id}/meta.json"]
        assert_clean_log(server)


def test_delete_during_part_put(races_server: ServerProc) -> None:
    """A part PUT to the disk backend's storage endpoint, the transfer deleted while the part streams in."""
    size = 5 * MIB
    with httpx.Client(base_url=races_server.url, timeout=60) as client:
        transfer_id = create(client, 2 * size)
        init = client.post("/api/presigned/initiate",
                           json={"transfer_id": transfer_id, "file_size_bytes": 2 * size, "num_parts": 2})
        assert init.status_code == 200, init.text
        url = init.json()["part_urls"][0]["upload_url"]
        gate, reached = threading.Event(), threading.Event()
        thread, result = in_background(lambda: httpx.put(
            url, content=gated_body(size, size // 2, gate, reached),
            headers={"Content-Length": str(size)}, timeout=60,
        ))
        assert reached.wait(30)
        time.sleep(0.3)
        delete(client, transfer_id)
        gate.set()
        thread.join(60)
        response = result[0]
        assert isinstance(response, httpx.Response), response
        assert response.status_code in LOSER, response.text
        # a late PUT of another part is refused too, and leaves nothing
        late = httpx.put(init.json()["part_urls"][1]["upload_url"], content=b"x" * 1000, timeout=30)
        assert late.status_code in LOSER
    time.sleep(0.2)
    assert files_of(races_server.data_dir, transfer_id) == []
    assert_clean_log(races_server)


def test_delete_during_assembly(races_server: ServerProc) -> None:
    """presigned/complete copies the parts into the payload; the transfer is deleted meanwhile."""
    sizes = [5 * MIB, 5 * MIB, 5 * MIB, 1000]
    with httpx.Client(base_url=races_server.url, timeout=60) as client:
        transfer_id = create(client, sum(sizes))
        init = client.post("/api/presigned/initiate", json={
            "transfer_id": transfer_id, "file_size_bytes": sum(sizes), "num_parts": len(sizes)}).json()
        parts = [
            {"part_number": item["part_number"], "etag": put_part(item["upload_url"], bytes([n]) * size)}
            for n, (item, size) in enumerate(zip(init["part_urls"], sizes, strict=True))
        ]
        assert client.post("/api/_test/faults", json={"assembly_part_delay": 0.5}).status_code == 200
        try:
            body = {"transfer_id": transfer_id, "upload_id": init["upload_id"], "parts": parts}
            thread, result = in_background(
                lambda: httpx.post(f"{races_server.url}/api/presigned/complete", json=body, timeout=60)
            )
            time.sleep(0.8)  # the first part is copied, the second is next
            delete(client, transfer_id)
            thread.join(60)
        finally:
            client.post("/api/_test/faults", json={"assembly_part_delay": 0})
        response = result[0]
        assert isinstance(response, httpx.Response), response
        assert response.status_code in LOSER, response.text
        assert client.get(f"/api/transfers/info/{transfer_id}").json()["status"] == "deleted"
        assert client.post(f"/api/transfers/complete/{transfer_id}").status_code == 404
    time.sleep(0.2)
    assert files_of(races_server.data_dir, transfer_id) == []
    assert_clean_log(races_server)


def test_assembly_then_delete_still_works(races_server: ServerProc) -> None:
    """The ordinary order (assemble, complete, delete) is unchanged: the payload goes with the delete."""
    with httpx.Client(base_url=races_server.url, timeout=60) as client:
        transfer_id = create(client, 1000)
        init = client.post("/api/presigned/initiate",
                           json={"transfer_id": transfer_id, "file_size_bytes": 1000, "num_parts": 1}).json()
        etag = put_part(init["part_urls"][0]["upload_url"], b"a" * 1000)
        done = client.post("/api/presigned/complete", json={
            "transfer_id": transfer_id, "upload_id": init["upload_id"],
            "parts": [{"part_number": 1, "etag": etag}]})
        assert done.status_code == 200, done.text
        assert client.post(f"/api/transfers/complete/{transfer_id}").status_code == 200
        assert files_of(races_server.data_dir, transfer_id) == ["payload"]
        delete(client, transfer_id)
    assert files_of(races_server.data_dir, transfer_id) == []
