"""The download_refresh extension: a download ticket trades for a fresh URL without counting a download."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.seaweed import SeaweedS3
from tests.helpers.servers import running_server
from tests.server.flows import small_transfer

REFRESH = "/api/presigned/download-url/refresh"


def grant(client: httpx.Client, transfer_id: str) -> dict[str, Any]:
    response = client.get(f"/api/presigned/download-url/{transfer_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"transfer_id", "download_url", "expires_in", "download_ticket"}
    return body


def refresh(client: httpx.Client, transfer_id: str, ticket: Any) -> httpx.Response:
    return client.post(REFRESH, json={"transfer_id": transfer_id, "download_ticket": ticket})


def count(client: httpx.Client, transfer_id: str) -> int:
    return int(client.get(f"/api/transfers/info/{transfer_id}").json()["download_count"])


def test_capabilities_advertise_download_refresh(client: httpx.Client) -> None:
    assert client.get("/api/presigned/capabilities").json()["download_refresh"] is True


def test_refresh_gives_a_working_url_without_counting(client: httpx.Client) -> None:
    payload = os.urandom(3000)
    transfer_id = small_transfer(client, payload, max_downloads=1)
    first = grant(client, transfer_id)
    assert count(client, transfer_id) == 1
    # the limit is reached: a second grant is refused, but the holder of the first can still refresh
    assert client.get(f"/api/presigned/download-url/{transfer_id}").status_code == 410
    for _ in range(3):
        answer = refresh(client, transfer_id, first["download_ticket"])
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["transfer_id"] == transfer_id
        assert body["download_ticket"] == first["download_ticket"]  # the grant's age keeps counting
        assert body["expires_in"] == first["expires_in"]
        got = httpx.get(body["download_url"], headers={"range": "bytes=100-199"}, timeout=30)
        assert got.status_code == 206 and got.content == payload[100:200]
    assert httpx.get(body["download_url"], timeout=30).content == payload
    info = client.get(f"/api/transfers/info/{transfer_id}").json()
    assert info["download_count"] == 1 and info["status"] == "exhausted"


def test_forged_or_foreign_tickets_are_403(client: httpx.Client) -> None:
    one = small_transfer(client, b"one" * 100)
    two = small_transfer(client, b"two" * 100)
    ticket = grant(client, one)["download_ticket"]
    body_text, mac_text = ticket.split(".")
    body = bytearray(base64.urlsafe_b64decode(body_text + "=" * (-len(body_text) % 4)))
    # the other transfer's id in an otherwise genuine body: the MAC no longer matches
    body[1:7] = bytes.fromhex(two)
    moved = base64.urlsafe_b64encode(bytes(body)).rstrip(b"=").decode() + "." + mac_text
    flipped = ticket[:-2] + ("A" if ticket[-2] != "A" else "B") + ticket[-1]
    for forged in (moved, flipped, "", "x", ".", "a.b.c", "é.é", "%%%.%%%", "A" * 300,
                   ticket + "=", ticket.replace(".", "")):
        answer = refresh(client, two, forged)
        assert answer.status_code == 403, (forged, answer.text)
        assert answer.json() == {"detail": "Invalid or expired download ticket"}
    assert refresh(client, two, ticket).status_code == 403  # genuine, but for another transfer
    assert refresh(client, one, ticket).status_code == 200
    assert count(client, one) == 1 and count(client, two) == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"transfer_id": "0123456789ab"},
        {"download_ticket": "x"},
        {"transfer_id": 5, "download_ticket": "x"},
        {"transfer_id": "0123456789ab", "download_ticket": None},
        {"transfer_id": "0123456789ab", "download_ticket": "x" * 5000},
        [],
        "text",
    ],
)
def test_malformed_requests_are_4xx(client: httpx.Client, body: Any) -> None:
    answer = client.post(REFRESH, json=body)
    assert answer.status_code == 422, answer.text


def test_bad_transfer_ids_are_400(client: httpx.Client) -> None:
    for bad in ("", "ABCDEF012345", "0123456789a²", "../etc/passw", "0" * 64):
        answer = refresh(client, bad, "x.y")
        assert answer.status_code == 400, (bad, answer.text)
    broken = client.post(REFRESH, content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 422


def test_deleted_transfer_is_404(client: httpx.Client) -> None:
    delete_auth = "my-delete-secret"
    digest = hashlib.sha256(delete_auth.encode()).hexdigest()
    transfer_id = small_transfer(client, b"gone" * 50, delete_auth_hash=digest)
    ticket = grant(client, transfer_id)["download_ticket"]
    deleted = client.delete(
        f"/api/transfers/delete/{transfer_id}", headers={"x-sgraph-transfer-delete-auth": delete_auth}
    )
    assert deleted.status_code == 200, deleted.text
    answer = refresh(client, transfer_id, ticket)
    assert answer.status_code == 404, answer.text


def test_expired_transfer_is_410(client: httpx.Client) -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    transfer_id = small_transfer(client, b"soon" * 50, expires_at=soon)
    ticket = grant(client, transfer_id)["download_ticket"]
    assert refresh(client, transfer_id, ticket).status_code == 200
    time.sleep(2.2)
    answer = refresh(client, transfer_id, ticket)
    assert answer.status_code == 410, answer.text


def test_tickets_expire_after_the_maximum_age(tmp_path: Path) -> None:
    with (
        running_server(tmp_path, extra_args=["--ticket-max-age", "1"]) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        transfer_id = small_transfer(client, b"age" * 50)
        ticket = grant(client, transfer_id)["download_ticket"]
        assert refresh(client, transfer_id, ticket).status_code == 200
        time.sleep(2.1)
        assert refresh(client, transfer_id, ticket).status_code == 403


def test_disk_tickets_survive_a_restart(tmp_path: Path) -> None:
    with running_server(tmp_path) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        transfer_id = small_transfer(client, b"restart" * 50)
        ticket = grant(client, transfer_id)["download_ticket"]
    with running_server(tmp_path) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        assert refresh(client, transfer_id, ticket).status_code == 200
    with (
        running_server(tmp_path / "other") as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        other_id = small_transfer(client, b"x" * 50)
        assert refresh(client, other_id, ticket).status_code == 403  # another server's secret


def test_s3_processes_on_one_bucket_accept_each_others_tickets(seaweedfs: SeaweedS3, tmp_path: Path) -> None:
    with (
        running_server(tmp_path / "a", backend="s3", s3=seaweedfs) as one,
        running_server(tmp_path / "b", backend="s3", s3=seaweedfs) as two,
        httpx.Client(base_url=one.url, timeout=30) as first,
        httpx.Client(base_url=two.url, timeout=30) as second,
    ):
        payload = os.urandom(4000)
        transfer_id = small_transfer(first, payload, max_downloads=1)
        ticket = grant(first, transfer_id)["download_ticket"]
        answer = refresh(second, transfer_id, ticket)
        assert answer.status_code == 200, answer.text
        assert httpx.get(answer.json()["download_url"], timeout=30).content == payload
        assert count(first, transfer_id) == 1


def test_ticket_signer_checks_age_id_and_secret() -> None:
    from sgsend_desktop.server.tickets import TicketSigner

    signer = TicketSigner(b"k" * 32, max_age=100)
    ticket = signer.issue("0123456789ab", now=1_000_000)
    assert len(ticket) == 86
    assert signer.verify(ticket, "0123456789ab", now=1_000_000)
    assert signer.verify(ticket, "0123456789ab", now=1_000_100)
    assert not signer.verify(ticket, "0123456789ab", now=1_000_101)  # too old
    assert signer.verify(ticket, "0123456789ab", now=1_000_000 - 300)  # clock skew allowed
    assert not signer.verify(ticket, "0123456789ab", now=1_000_000 - 301)
    assert not signer.verify(ticket, "0123456789ac", now=1_000_000)
    assert not TicketSigner(b"j" * 32, max_age=100).verify(ticket, "0123456789ab", now=1_000_000)
    assert signer.issue("0123456789ab", now=1_000_000) != ticket  # the nonce
