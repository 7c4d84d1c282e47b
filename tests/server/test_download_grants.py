"""A download-url answer lost on the way must not use up a max_downloads=1 transfer (x-sgsend-download-grant):
the same grant id is answered again without counting; any other request is a new download."""

from __future__ import annotations

import httpx

from tests.server.flows import small_transfer

GRANT = "x-sgsend-download-grant"


def _download_url(client: httpx.Client, transfer_id: str, grant: str | None) -> httpx.Response:
    headers = {GRANT: grant} if grant else {}
    return client.get(f"/api/presigned/download-url/{transfer_id}", headers=headers)


def test_a_retried_grant_is_answered_again_without_counting(client: httpx.Client) -> None:
    transfer_id = small_transfer(client, b"once only" * 100, max_downloads=1)
    first = _download_url(client, transfer_id, "grant-a")
    assert first.status_code == 200
    again = _download_url(client, transfer_id, "grant-a")  # the client never saw `first`
    assert again.status_code == 200, again.text
    assert httpx.get(again.json()["download_url"]).content  # the URL works
    info = client.get(f"/api/transfers/info/{transfer_id}").json()
    assert info["download_count"] == 1 and info["downloads_remaining"] == 0
    assert _download_url(client, transfer_id, "grant-b").status_code == 410  # a second download
    assert _download_url(client, transfer_id, None).status_code == 410


def test_a_grant_belongs_to_its_own_transfer(client: httpx.Client) -> None:
    first = small_transfer(client, b"x" * 100, max_downloads=1)
    second = small_transfer(client, b"y" * 100, max_downloads=1)
    assert _download_url(client, first, "grant-c").status_code == 200
    assert _download_url(client, second, "grant-c").status_code == 200  # counted: a download of its own
    assert _download_url(client, second, "grant-d").status_code == 410
