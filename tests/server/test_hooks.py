"""Disk-backend specifics: test hooks (stats, injected 503s), signatures bound to one part, auto_delete,
and absolute URLs from --public-url."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.helpers.servers import ServerProc, running_server
from tests.server.flows import create, download_url, small_transfer


@pytest.fixture(scope="module")
def disk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    args = ("--public-url", "http://localhost.test:1234", "--url-expiry", "2")
    with running_server(tmp_path_factory.mktemp("hooks"), extra_args=args) as proc:
        yield proc


def _local(url: str, server: ServerProc) -> str:
    """Presigned URLs carry --public-url; point them back at the real port for the request."""
    return url.replace("http://localhost.test:1234", server.url)


def test_public_url_stats_and_faults(disk_server: ServerProc) -> None:
    with httpx.Client(base_url=disk_server.url, timeout=30) as client:
        transfer_id = create(client, 200)
        init = client.post(
            "/api/presigned/initiate",
            json={"transfer_id": transfer_id, "file_size_bytes": 200, "num_parts": 2},
        ).json()
        urls = [item["upload_url"] for item in init["part_urls"]]
        assert all(url.startswith("http://localhost.test:1234/storage/") for url in urls)
        assert client.post("/api/_test/faults", json={"part_put_503": 1}).status_code == 200
        assert httpx.put(_local(urls[0], disk_server), content=b"a" * 100).status_code == 503
        assert httpx.put(_local(urls[0], disk_server), content=b"a" * 100).status_code == 200
        # A URL signed for part 1 does not authorise part 2.
        other_part = _local(urls[0], disk_server).replace("partNumber=1", "partNumber=2")
        assert httpx.put(other_part, content=b"b" * 100).status_code == 403
        stats = client.get("/api/_test/stats").json()
        assert stats["part_puts"][transfer_id] == 2
        assert stats["max_concurrent_part_puts"] >= 1
        ranged_before = stats["range_gets"]
        small = small_transfer(client, b"r" * 100)
        url = _local(download_url(client, small), disk_server)
        assert httpx.get(url, headers={"Range": "bytes=0-9"}).status_code == 206
        assert client.get("/api/_test/stats").json()["range_gets"] == ranged_before + 1


def test_auto_delete_wipes_after_last_url_expires(disk_server: ServerProc) -> None:
    with httpx.Client(base_url=disk_server.url, timeout=30) as client:
        payload = os.urandom(64)
        transfer_id = small_transfer(client, payload, max_downloads=1, auto_delete=True)
        url = _local(download_url(client, transfer_id), disk_server)
        assert httpx.get(url).content == payload  # still served while the URL lives
        payload_file = disk_server.data_dir / "transfers" / transfer_id / "payload"
        assert payload_file.exists()
        time.sleep(2.5)
        info = client.get(f"/api/transfers/info/{transfer_id}").json()
        assert info["status"] == "exhausted"
        assert not payload_file.exists()


def test_auto_delete_wipes_after_the_last_download_with_no_request_after_it(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """The sweep saw the transfer completed (nothing to wipe yet) before its last download set the wipe
    time; nobody asks for it afterwards — the payload must still go (it stayed on disk until the next
    request touching the transfer)."""
    args = ("--url-expiry", "2", "--abandoned-after", "2")  # the sweep runs every 0.5 s
    with running_server(tmp_path_factory.mktemp("autodelete"), extra_args=args) as server, \
            httpx.Client(base_url=server.url, timeout=30) as client:
        payload = os.urandom(64)
        transfer_id = small_transfer(client, payload, max_downloads=1, auto_delete=True)
        payload_file = server.data_dir / "transfers" / transfer_id / "payload"
        time.sleep(1.5)  # a sweep or two: completed, no wipe time, settled
        assert payload_file.exists()
        assert httpx.get(download_url(client, transfer_id)).content == payload  # the last download
        deadline = time.monotonic() + 10
        while payload_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not payload_file.exists(), "the payload outlived its auto_delete"
        wiped_after = time.monotonic() - (deadline - 10)
        assert wiped_after >= 1.5  # not before the download URL it handed out had run out
        info = client.get(f"/api/transfers/info/{transfer_id}").json()
        assert info["status"] == "exhausted"


def test_hooks_absent_without_env(tmp_path_factory: pytest.TempPathFactory) -> None:
    with running_server(tmp_path_factory.mktemp("nohooks"), env={"SGSEND_TEST_HOOKS": "0"}) as proc:
        assert httpx.get(f"{proc.url}/api/_test/stats").status_code == 404
