"""A transfer nobody can fetch any more loses its payload on the server: an expired one once the last
download URL handed out before the expiry has run out too (`--url-expiry`), on disk and on S3. Its record
stays, so `info` and a download still say "expired" (410), not "not found". Transfers without an expiry,
and expiring ones not yet due, keep their payload. (Found reading the sweep: "Expires in 1 day" kept the
ciphertext on the server forever.)"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.helpers.seaweed import SeaweedS3
from tests.reliability.server_helpers import assert_clean_log, serving
from tests.server.flows import download_url, small_transfer

SWEEP_EVERY = "2"  # --abandoned-after 2: a sweep every 0.5 s
URL_EXPIRY = 4     # seconds a download URL lives: the grace after an expiry
EXPIRES_IN = 3     # seconds


def expiring(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


@pytest.mark.parametrize("backend", ["disk", "s3"])
def test_an_expired_transfers_payload_is_wiped_once_its_urls_ran_out(
        backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    options: dict[str, object] = {}
    if backend == "s3":
        seaweedfs: SeaweedS3 = request.getfixturevalue("seaweedfs")
        bucket = seaweedfs.new_bucket(f"wipe-{secrets.token_hex(4)}")
        options = {"backend": "s3", "s3": seaweedfs, "bucket": bucket}
    data = tmp_path / "data"
    args = ["--abandoned-after", SWEEP_EVERY, "--url-expiry", str(URL_EXPIRY)]
    with serving(data, args, **options) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        expired = small_transfer(client, b"e" * 100, expires_at=expiring(EXPIRES_IN))
        later = small_transfer(client, b"l" * 100, expires_at=expiring(3600))
        forever = small_transfer(client, b"f" * 100)
        url = download_url(client, expired)  # handed out before the expiry: usable until it runs out
        assert httpx.get(url, timeout=30).content == b"e" * 100

        def stored(transfer_id: str) -> bool:
            if backend == "disk":
                return (data / "transfers" / transfer_id / "payload").exists()
            listed = seaweedfs.client().list_objects_v2(Bucket=options["bucket"],
                                                        Prefix=f"transfers/{transfer_id}/")
            return f"transfers/{transfer_id}/payload" in {o["Key"] for o in listed.get("Contents", [])}

        time.sleep(EXPIRES_IN + 0.5)  # expired, but its URL may still be in use: the payload stays
        assert client.get(f"/api/transfers/download/{expired}").status_code == 410
        assert stored(expired)
        deadline = time.monotonic() + EXPIRES_IN + URL_EXPIRY + 15
        while stored(expired):
            assert time.monotonic() < deadline, "the expired payload was never wiped"
            time.sleep(0.25)

        info = client.get(f"/api/transfers/info/{expired}").json()
        assert info["is_expired"] is True and info["status"] == "completed"
        refused = client.get(f"/api/transfers/download/{expired}")
        assert refused.status_code == 410 and "expired" in refused.json()["detail"].lower()
        assert client.get(f"/api/presigned/download-url/{expired}").status_code == 410
        for kept, body in ((later, b"l" * 100), (forever, b"f" * 100)):
            assert stored(kept)
            assert client.get(f"/api/transfers/download/{kept}").content == body
    assert_clean_log(server)
