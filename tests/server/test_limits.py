"""Lambda limits, signed URL checks, download limits, expiry, delete-auth, tokens and input hygiene."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.helpers.servers import ServerProc, running_server
from tests.server.flows import create, download_url, small_transfer

LIMIT = 6_291_456


def test_request_over_6_mb_is_413(client: httpx.Client) -> None:
    transfer_id = create(client, LIMIT + 10)
    response = client.post(f"/api/transfers/upload/{transfer_id}", content=b"\0" * (LIMIT + 1))
    assert response.status_code == 413
    assert "6291456" in response.json()["detail"]


def test_chunked_request_over_6_mb_is_413(client: httpx.Client) -> None:
    transfer_id = create(client, LIMIT + 10)

    def body() -> Iterator[bytes]:  # no Content-Length: the server must count as it streams
        for _ in range(7):
            yield b"\0" * (1024 * 1024)

    response = client.post(f"/api/transfers/upload/{transfer_id}", content=body())
    assert response.status_code == 413
    assert client.post(f"/api/transfers/complete/{transfer_id}").status_code == 404  # nothing was stored


def test_exactly_6_mb_is_accepted(client: httpx.Client) -> None:
    transfer_id = create(client, LIMIT)
    assert client.post(f"/api/transfers/upload/{transfer_id}", content=b"\1" * LIMIT).status_code == 200


def test_tampered_url_is_403(client: httpx.Client) -> None:
    transfer_id = small_transfer(client, b"secret ciphertext")
    url = download_url(client, transfer_id)
    assert httpx.get(url, timeout=30).status_code == 200
    for tampered in (_flip_last_signature_char(url), url.replace(transfer_id, "0" * 12)):
        assert httpx.get(tampered, timeout=30).status_code == 403


def _flip_last_signature_char(url: str) -> str:
    for name in ("sig=", "X-Amz-Signature="):
        if name in url:
            head, _, tail = url.partition(name)
            sig, sep, rest = tail.partition("&")
            flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
            return f"{head}{name}{flipped}{sep}{rest}"
    raise AssertionError(f"no signature in {url}")


def test_max_downloads_then_410(client: httpx.Client) -> None:
    transfer_id = small_transfer(client, b"a" * 1000, max_downloads=2)
    assert client.get(f"/api/transfers/download/{transfer_id}").status_code == 200
    url = download_url(client, transfer_id)  # the second (last) download
    info = client.get(f"/api/transfers/info/{transfer_id}").json()
    assert info["status"] == "exhausted" and info["downloads_remaining"] == 0
    assert client.get(f"/api/transfers/download/{transfer_id}").status_code == 410
    assert client.get(f"/api/presigned/download-url/{transfer_id}").status_code == 410
    # The URL issued with the last allowed download keeps working (ranged too) for its lifetime.
    ranged = httpx.get(url, headers={"Range": "bytes=10-19"}, timeout=30)
    assert ranged.status_code == 206 and ranged.content == b"a" * 10


def test_expires_at_forms(client: httpx.Client) -> None:
    future = datetime.now(UTC) + timedelta(hours=1)
    zulu = create(client, 10, expires_at=future.strftime("%Y-%m-%dT%H:%M:%SZ"))
    offset = create(client, 10, expires_at=future.astimezone(timezone_plus_2()).isoformat())
    for transfer_id in (zulu, offset):
        info = client.get(f"/api/transfers/info/{transfer_id}").json()
        assert info["is_expired"] is False
        assert datetime.fromisoformat(info["expires_at"]).timestamp() == pytest.approx(
            future.timestamp(), abs=1
        )
    garbage = client.post("/api/transfers/create", json={"file_size_bytes": 1, "expires_at": "next tuesday"})
    assert garbage.status_code == 400


def timezone_plus_2():  # type: ignore[no-untyped-def]
    from datetime import timezone

    return timezone(timedelta(hours=2))


def test_expired_transfer_is_410_everywhere(client: httpx.Client) -> None:
    past = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    transfer_id = small_transfer(client, b"b" * 10, expires_at=past)
    time.sleep(1.2)
    assert client.get(f"/api/transfers/info/{transfer_id}").json()["is_expired"] is True
    assert client.get(f"/api/transfers/download/{transfer_id}").status_code == 410
    assert client.get(f"/api/presigned/download-url/{transfer_id}").status_code == 410


def test_delete_with_delete_auth(client: httpx.Client) -> None:
    secret = "a" * 64
    transfer_id = small_transfer(
        client, b"d" * 10, delete_auth_hash=hashlib.sha256(secret.encode()).hexdigest()
    )
    url = download_url(client, transfer_id)
    path = f"/api/transfers/delete/{transfer_id}"
    assert client.delete(path).status_code == 400
    assert client.delete(path, headers={"x-sgraph-transfer-delete-auth": "wrong"}).status_code == 403
    ok = client.delete(path, headers={"x-sgraph-transfer-delete-auth": secret})
    assert ok.json() == {"status": "deleted", "transfer_id": transfer_id}
    again = client.delete(path, headers={"x-sgraph-transfer-delete-auth": secret})
    assert again.json()["status"] == "already_deleted"
    assert client.get(f"/api/transfers/info/{transfer_id}").json()["status"] == "deleted"
    assert client.get(f"/api/transfers/download/{transfer_id}").status_code == 404
    assert httpx.get(url, timeout=30).status_code in (403, 404)  # payload gone
    no_delete = small_transfer(client, b"e")
    denied = client.delete(
        f"/api/transfers/delete/{no_delete}", headers={"x-sgraph-transfer-delete-auth": "x"}
    )
    assert denied.status_code == 409
    assert (
        client.delete(
            "/api/transfers/delete/0123456789ab", headers={"x-sgraph-transfer-delete-auth": "x"}
        ).status_code
        == 404
    )


def test_bad_input_is_4xx_never_500(client: httpx.Client) -> None:
    for bad in ("ABCDEF012345", "0123", "..%2F..%2Fetc", "0123456789abc", "g123456789ab"):
        assert client.get(f"/api/transfers/info/{bad}").status_code in (400, 404), bad
        assert client.post(f"/api/transfers/upload/{bad}", content=b"x").status_code in (400, 404), bad
    assert (
        client.post("/api/transfers/create", json={"file_size_bytes": 1, "transfer_id": "XYZ"}).status_code
        == 400
    )
    assert client.post("/api/transfers/create", json={"file_size_bytes": -1}).status_code == 422
    assert client.post("/api/transfers/create", content=b"{not json").status_code == 422
    assert (
        client.post(
            "/api/transfers/create", json={"file_size_bytes": 1, "delete_auth_hash": "xyz"}
        ).status_code
        == 400
    )
    taken = create(client, 1)
    assert (
        client.post("/api/transfers/create", json={"file_size_bytes": 1, "transfer_id": taken}).status_code
        == 409
    )
    assert client.get("/api/presigned/parts/0123456789ab/..").status_code in (400, 404)
    assert client.get("/api/transfers/events/nothex").status_code == 400


def test_friendly_id_create(client: httpx.Client) -> None:
    transfer_id = create(client, 5, transfer_id="4abd0a491ed3")
    assert transfer_id == "4abd0a491ed3"


@pytest.fixture(scope="module")
def strict_server(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ServerProc]:
    store = request.getfixturevalue("seaweedfs") if backend == "s3" else None
    args = ("--url-expiry", "1", "--access-token", "tok-123")
    with running_server(
        tmp_path_factory.mktemp("strict"), backend=backend, s3=store, extra_args=args
    ) as proc:
        yield proc


def test_access_token_and_expired_url(strict_server: ServerProc) -> None:
    with httpx.Client(base_url=strict_server.url, timeout=30) as anon:
        assert anon.post("/api/transfers/create", json={"file_size_bytes": 1}).status_code == 401
        assert anon.get("/api/presigned/capabilities").status_code == 200
    headers = {"x-sgraph-access-token": "tok-123"}
    with httpx.Client(base_url=strict_server.url, timeout=30, headers=headers) as client:
        transfer_id = small_transfer(client, b"f" * 64)
        via_query = httpx.post(
            f"{strict_server.url}/api/transfers/create?access_token=tok-123",
            json={"file_size_bytes": 1},
            timeout=30,
        )
        assert via_query.status_code == 200
        url = download_url(client, transfer_id)
    # info/download-url need no token; the URL lives one second
    assert httpx.get(f"{strict_server.url}/api/transfers/info/{transfer_id}", timeout=30).status_code == 200
    time.sleep(2.2)
    assert httpx.get(url, timeout=30).status_code == 403
