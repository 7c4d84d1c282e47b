"""Issue 12: the upload and download forms upstream serves to its MCP tools, on both backends.

Upstream's `POST /api/transfers/upload/{id}` also takes `?data=<base64>` (a tool parameter) and a JSON body
`{"data": "<base64>"}`; `GET /api/transfers/download-base64/{id}` answers
`{transfer_id, data, file_size_bytes}` and is refused (413) over 3.75 MB on Lambda."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import httpx
import pytest

from tests.helpers.servers import running_server
from tests.server.flows import MIB, create

B64 = base64.b64encode


def download_base64(client: httpx.Client, transfer_id: str) -> bytes:
    response = client.get(f"/api/transfers/download-base64/{transfer_id}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"transfer_id", "data", "file_size_bytes"}
    assert body["transfer_id"] == transfer_id
    return base64.b64decode(body["data"])


def complete(client: httpx.Client, transfer_id: str) -> None:
    assert client.post(f"/api/transfers/complete/{transfer_id}").status_code == 200


@pytest.mark.parametrize("size", [0, 1, 2, 3, 1000, 1024 * 1024 + 1, 3 * 1024 * 1024 + 2])
def test_json_body_upload_and_base64_download(client: httpx.Client, size: int) -> None:
    payload = os.urandom(size)
    transfer_id = create(client, size)
    uploaded = client.post(f"/api/transfers/upload/{transfer_id}", json={"data": B64(payload).decode()})
    assert uploaded.json() == {"status": "uploaded", "transfer_id": transfer_id, "size": size}
    complete(client, transfer_id)
    assert download_base64(client, transfer_id) == payload
    assert client.get(f"/api/transfers/download/{transfer_id}").content == payload  # the same bytes stored
    info = client.get(f"/api/transfers/info/{transfer_id}").json()
    assert info["download_count"] == 2  # a base64 download counts as one


def test_data_parameter_upload(client: httpx.Client) -> None:
    payload = os.urandom(3000)
    transfer_id = create(client, len(payload))
    uploaded = client.post(f"/api/transfers/upload/{transfer_id}", params={"data": B64(payload).decode()},
                           content=b"this body is ignored")
    assert uploaded.json()["size"] == len(payload)
    complete(client, transfer_id)
    assert client.get(f"/api/transfers/download/{transfer_id}").content == payload


@pytest.mark.parametrize("payload", [
    b"{" + os.urandom(5000),                      # a ciphertext that happens to start with "{"
    b'{"not_data": "aGVsbG8="}',                  # JSON, but not the {"data": ...} form: stored as it is
    b"{" * 70_000,                                # held back whole, then written raw: it is no JSON
])
def test_a_raw_body_starting_with_a_brace_is_stored_as_it_is(client: httpx.Client, payload: bytes) -> None:
    transfer_id = create(client, len(payload))
    assert client.post(f"/api/transfers/upload/{transfer_id}", content=payload).json()["size"] == len(payload)
    complete(client, transfer_id)
    assert client.get(f"/api/transfers/download/{transfer_id}").content == payload


@pytest.mark.parametrize(("how", "detail"), [
    ({"params": {"data": "not base64!"}}, "The data parameter is not base64"),
    ({"content": json.dumps({"data": "%%%"}).encode()}, 'The JSON upload body\'s "data" is not base64'),
    ({"content": json.dumps({"data": 5}).encode()}, '"data" must be a base64 string'),
    ({"json": {"data": B64(b"x" * 129).decode()}}, "Payload is larger than the declared size"),
])
def test_bad_mcp_uploads_are_refused(client: httpx.Client, how: dict[str, object], detail: str) -> None:
    transfer_id = create(client, 100)
    refused = client.post(f"/api/transfers/upload/{transfer_id}", **how)  # type: ignore[arg-type]
    assert refused.status_code == 400
    assert detail in refused.json()["detail"]
    assert client.post(f"/api/transfers/complete/{transfer_id}").status_code == 404  # nothing was kept


def test_base64_download_gates(client: httpx.Client) -> None:
    assert client.get("/api/transfers/download-base64/0123456789ab").status_code == 404
    assert client.get("/api/transfers/download-base64/nope").status_code == 400
    pending = create(client, 10)
    assert client.get(f"/api/transfers/download-base64/{pending}").status_code == 404
    once = create(client, 5, max_downloads=1)
    assert client.post(f"/api/transfers/upload/{once}", content=b"12345").status_code == 200
    complete(client, once)
    assert download_base64(client, once) == b"12345"
    gone = client.get(f"/api/transfers/download-base64/{once}")
    assert (gone.status_code, gone.json()) == (410, {"detail": "Download limit reached"})


def test_base64_download_over_the_lambda_limit_is_413(client: httpx.Client) -> None:
    """Upstream refuses more than 3.75 MB (its base64 would not fit Lambda's response limit)."""
    size = 3_750_001
    transfer_id = create(client, size)
    assert client.post(f"/api/transfers/upload/{transfer_id}", content=b"b" * size).status_code == 200
    complete(client, transfer_id)
    refused = client.get(f"/api/transfers/download-base64/{transfer_id}")
    assert refused.status_code == 413
    assert refused.json()["detail"] == (
        f"File too large for base64 download. Use /api/presigned/download-url/{transfer_id} instead.")
    assert client.get(f"/api/transfers/info/{transfer_id}").json()["download_count"] == 0  # not counted


def test_big_bodies_starting_with_a_brace_without_lambda_limits(tmp_path: Path) -> None:
    """Past 8 MiB a body is not held back: a raw one streams on, a JSON one is a 413 with a sentence."""
    with running_server(tmp_path, extra_args=["--no-lambda-limits"]) as server, \
            httpx.Client(base_url=server.url, timeout=60) as client:
        raw = b"{" + os.urandom(9 * MIB)
        transfer_id = create(client, len(raw))
        assert client.post(f"/api/transfers/upload/{transfer_id}", content=raw).json()["size"] == len(raw)
        complete(client, transfer_id)
        assert client.get(f"/api/transfers/download/{transfer_id}").content == raw
        wrapped = create(client, 9 * MIB)
        refused = client.post(f"/api/transfers/upload/{wrapped}",
                              json={"data": B64(os.urandom(9 * MIB)).decode()})
        assert refused.status_code == 413
        assert "send the raw bytes instead" in refused.json()["detail"]
