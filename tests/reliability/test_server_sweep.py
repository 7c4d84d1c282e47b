"""Issue 9, item 9 (abandoned uploads): transfers created but never completed, and multipart uploads
nobody finishes, are removed once idle for `--abandoned-after` (tested with 3 seconds), on disk and on S3
(where the multipart upload is aborted too). Finished transfers and uploads in progress stay."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.helpers.seaweed import SeaweedS3
from tests.reliability.server_helpers import assert_clean_log, create, files_of, serving
from tests.server.flows import MIB, download_url, put_part, small_transfer

AGE = 3  # seconds of inactivity after which a pending transfer counts as abandoned
HOUR_AGO = time.time() - 3600


def abandoned_multipart(client: httpx.Client) -> tuple[str, str]:
    transfer_id = create(client, 10 * MIB)
    init = client.post("/api/presigned/initiate",
                       json={"transfer_id": transfer_id, "file_size_bytes": 10 * MIB, "num_parts": 2}).json()
    put_part(init["part_urls"][0]["upload_url"], b"s" * (5 * MIB))
    return transfer_id, str(init["upload_id"])


def uploaded_not_completed(client: httpx.Client) -> str:
    transfer_id = create(client, 100)
    assert client.post(f"/api/transfers/upload/{transfer_id}", content=b"u" * 100).status_code == 200
    return transfer_id


def wait_until(condition: Callable[[], bool], timeout: float, keep_busy: Callable[[], None]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the abandoned transfers were not swept in time"
        keep_busy()
        time.sleep(0.5)


def test_abandoned_transfers_are_swept_on_disk(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serving(data, ["--abandoned-after", str(AGE)]) as server, \
            httpx.Client(base_url=server.url, timeout=60) as client:
        stale, stale_upload = abandoned_multipart(client)
        never = create(client, 100)
        uploaded = uploaded_not_completed(client)
        done = small_transfer(client, b"k" * 100)
        active = create(client, 1000)
        plan = {"transfer_id": active, "file_size_bytes": 1000, "num_parts": 1}
        active_init = client.post("/api/presigned/initiate", json=plan).json()
        active_url = active_init["part_urls"][0]["upload_url"]
        # crash leftovers, an hour old: a multipart upload nobody records, temp files, a dir without meta
        orphan = data / "transfers" / done / "uploads" / "0f" / "00001.0123456789abcdef0123456789abcdef"
        orphan.parent.mkdir(parents=True)
        orphan.write_bytes(b"o" * 10)
        temp = data / "transfers" / done / ".payload.abcdef012345.tmp"
        temp.write_bytes(b"t" * 10)
        metaless = data / "transfers" / "00000000feed"
        metaless.mkdir()
        (metaless / ".meta.abcdef012345.tmp").write_bytes(b"{")
        for path in (orphan, orphan.parent, temp, metaless / ".meta.abcdef012345.tmp", metaless):
            os.utime(path, (HOUR_AGO, HOUR_AGO))

        def gone() -> bool:
            return all(client.get(f"/api/transfers/info/{tid}").status_code == 404
                       for tid in (stale, never, uploaded))

        wait_until(gone, AGE + 15, keep_busy=lambda: put_part(active_url, b"a" * 1000))

        for transfer_id in (stale, never, uploaded):
            assert not (data / "transfers" / transfer_id).exists()
        assert client.get(f"/api/presigned/parts/{stale}/{stale_upload}").status_code == 404
        assert client.get(f"/api/transfers/info/{active}").json()["status"] == "pending"
        assert client.get(f"/api/presigned/parts/{active}/{active_init['upload_id']}").status_code == 200
        assert httpx.get(download_url(client, done), timeout=30).content == b"k" * 100
        assert not orphan.parent.exists() and not temp.exists() and not metaless.exists()
        assert files_of(data, done) == ["payload"]
    assert_clean_log(server)


def test_zero_turns_the_sweep_off(tmp_path: Path) -> None:
    with serving(tmp_path / "data", ["--abandoned-after", "0"]) as server, \
            httpx.Client(base_url=server.url, timeout=60) as client:
        never = create(client, 100)
        time.sleep(2.5)
        assert client.get(f"/api/transfers/info/{never}").status_code == 200


@pytest.mark.s3
def test_abandoned_transfers_are_swept_on_s3(seaweedfs: SeaweedS3, tmp_path: Path) -> None:
    bucket = seaweedfs.new_bucket(f"sweep-{secrets.token_hex(4)}")
    s3 = seaweedfs.client()
    orphan_key = "transfers/00000000beef/payload"  # a multipart upload whose transfer record is gone
    orphan_upload = s3.create_multipart_upload(Bucket=bucket, Key=orphan_key)["UploadId"]
    assert orphan_upload in {u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]}
    with serving(tmp_path / "data", ["--abandoned-after", str(AGE)], backend="s3", s3=seaweedfs,
                 bucket=bucket) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        def uploads() -> set[str]:
            listed = s3.list_multipart_uploads(Bucket=bucket)
            return {item["UploadId"] for item in listed.get("Uploads", [])}

        stale, stale_upload = abandoned_multipart(client)
        assert stale_upload in uploads()
        never = create(client, 100)
        uploaded = uploaded_not_completed(client)
        done = small_transfer(client, b"k" * 100)

        def gone() -> bool:
            return all(client.get(f"/api/transfers/info/{tid}").status_code == 404
                       for tid in (stale, never, uploaded)) and not {stale_upload, orphan_upload} & uploads()

        wait_until(gone, AGE + 20, keep_busy=lambda: None)
        listed = s3.list_objects_v2(Bucket=bucket, Prefix="transfers/").get("Contents", [])
        keys = {item["Key"] for item in listed}
        assert keys == {f"transfers/{done}/meta.json", f"transfers/{done}/payload"}
        assert httpx.get(download_url(client, done), timeout=30).content == b"k" * 100
    assert_clean_log(server)
