"""The direct (small-file) flow and the info/download/download-url paths, on both backends."""

from __future__ import annotations

import os

import httpx

from tests.server.flows import download_url, small_transfer


def test_small_file_flow(client: httpx.Client) -> None:
    payload = os.urandom(150_000)
    transfer_id = small_transfer(client, payload)
    info = client.get(f"/api/transfers/info/{transfer_id}").json()
    assert info["status"] == "completed"
    assert info["file_size_bytes"] == len(payload)
    assert info["download_count"] == 0 and info["is_expired"] is False
    got = client.get(f"/api/transfers/download/{transfer_id}")
    assert got.status_code == 200
    assert got.content == payload
    fetched = httpx.get(download_url(client, transfer_id), timeout=30)
    assert fetched.status_code == 200 and fetched.content == payload
    assert client.get(f"/api/transfers/info/{transfer_id}").json()["download_count"] == 2


def test_complete_response_shape(client: httpx.Client) -> None:
    transfer_id = small_transfer(client, b"x" * 100)
    again = client.post(f"/api/transfers/complete/{transfer_id}").json()
    assert again["download_url"] == f"/d/{transfer_id}"
    transparency = again["transparency"]
    assert transparency["file_size_bytes"] == 100
    assert "decryption_key" in transparency["not_stored"]
    assert len(transparency["ip"]) == 64  # hashed, never the raw address


def test_complete_without_payload_is_404(client: httpx.Client) -> None:
    created = client.post("/api/transfers/create", json={"file_size_bytes": 10, "content_type_hint": ""})
    transfer_id = created.json()["transfer_id"]
    response = client.post(f"/api/transfers/complete/{transfer_id}")
    assert response.status_code == 404
    assert "detail" in response.json()
    assert client.get(f"/api/transfers/download/{transfer_id}").status_code == 404
    assert client.get(f"/api/presigned/download-url/{transfer_id}").status_code == 409


def test_presigned_single_put(client: httpx.Client) -> None:
    created = client.post("/api/transfers/create", json={"file_size_bytes": 1000, "content_type_hint": ""})
    transfer_id = created.json()["transfer_id"]
    signed = client.get(f"/api/presigned/upload-url/{transfer_id}").json()
    assert signed["expires_in"] == 3600
    body = os.urandom(1028)  # declared the envelope size: the payload is 28 bytes more
    assert httpx.put(signed["upload_url"], content=body, timeout=30).status_code == 200
    assert client.post(f"/api/transfers/complete/{transfer_id}").status_code == 200
    assert client.get(f"/api/transfers/download/{transfer_id}").content == body


def test_upload_larger_than_declared_is_rejected(client: httpx.Client) -> None:
    created = client.post("/api/transfers/create", json={"file_size_bytes": 100, "content_type_hint": ""})
    transfer_id = created.json()["transfer_id"]
    response = client.post(f"/api/transfers/upload/{transfer_id}", content=b"z" * 129)
    assert response.status_code == 400
    assert client.post(f"/api/transfers/upload/{transfer_id}", content=b"z" * 128).status_code == 200


def test_capabilities_advertise_extensions(client: httpx.Client, backend: str) -> None:
    caps = client.get("/api/presigned/capabilities").json()
    for flag in (
        "presigned_upload",
        "multipart_upload",
        "presigned_download",
        "direct_upload",
        "events",
        "part_urls",
        "list_parts",
    ):
        assert caps[flag] is True, flag
    assert caps["max_part_size"] == 10 * 1024 * 1024
    assert caps["min_part_size"] == 5 * 1024 * 1024
    assert caps["max_parts"] == 10000
    assert caps["storage"] == backend
