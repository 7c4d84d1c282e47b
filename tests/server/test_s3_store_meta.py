"""The S3 store's metadata writes (compare-and-swap on the ETag), straight against a real SeaweedFS: a write
route's update starts from the version its load just read (one GetObject fewer), and stays correct when
another process changed the metadata in between."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from sgsend_desktop.server.config import S3Settings
from sgsend_desktop.server.meta import COMPLETED, PENDING, TransferMeta
from sgsend_desktop.server.storage.base import StoreError
from sgsend_desktop.server.storage.s3 import S3Store
from tests.helpers.seaweed import SeaweedS3

pytestmark = pytest.mark.s3


def make_store(seaweedfs: SeaweedS3, prefix: str) -> tuple[S3Store, Counter[str]]:
    store = S3Store(S3Settings(bucket=seaweedfs.bucket, endpoint=seaweedfs.endpoint, region=seaweedfs.region,
                               access_key=seaweedfs.access_key, secret_key=seaweedfs.secret_key,
                               prefix=prefix))
    calls: Counter[str] = Counter()

    def count(event_name: str, **_: Any) -> None:
        calls[event_name.rsplit(".", 1)[-1]] += 1

    store.client.meta.events.register("before-call.s3", count)
    store.objects.calls = calls  # the metadata's own fast path (storage/s3_objects.py) counts here too
    return store, calls


@contextmanager
def two_instances(seaweedfs: SeaweedS3) -> Iterator[tuple[S3Store, Counter[str], str, str]]:
    """Two in-process servers on one prefix, as behind a load balancer: (store here, its call counts,
    here's URL, there's URL)."""
    from sgsend_desktop.server.config import ServerConfig
    from tests.server.test_review_races import inprocess_server

    prefix = f"meta-{secrets.token_hex(4)}"
    here, here_calls = make_store(seaweedfs, prefix)
    there, _ = make_store(seaweedfs, prefix)
    config = ServerConfig(storage="s3", s3=S3Settings(bucket=seaweedfs.bucket, prefix=prefix))
    with inprocess_server(config, here) as here_url, inprocess_server(config, there) as there_url:
        yield here, here_calls, here_url, there_url


def test_an_update_after_a_load_reads_the_metadata_once(seaweedfs: SeaweedS3) -> None:
    prefix = f"meta-{secrets.token_hex(4)}"
    store, calls = make_store(seaweedfs, prefix)
    assert store.create(TransferMeta(transfer_id="abcdef123456", file_size_bytes=10))
    calls.clear()
    assert store.load("abcdef123456") is not None

    def finish(meta: TransferMeta) -> str:
        assert meta.status == PENDING
        meta.status = COMPLETED
        return "done"

    meta, result = store.update("abcdef123456", finish)
    assert (meta.status, result) == (COMPLETED, "done")
    assert calls == Counter({"GetObject": 1, "PutObject": 1})  # before: two GetObject
    assert store.load("abcdef123456").status == COMPLETED  # type: ignore[union-attr]


def test_a_change_by_another_process_between_load_and_update_is_never_lost(seaweedfs: SeaweedS3) -> None:
    prefix = f"meta-{secrets.token_hex(4)}"
    here, _ = make_store(seaweedfs, prefix)
    there, _ = make_store(seaweedfs, prefix)  # another `sgsend serve` on the same bucket
    assert here.create(TransferMeta(transfer_id="abcdef123456", file_size_bytes=10))

    def count(meta: TransferMeta) -> int:
        meta.download_count += 1
        return meta.download_count

    assert here.load("abcdef123456").download_count == 0  # type: ignore[union-attr]
    there.update("abcdef123456", count)  # meanwhile, elsewhere
    _, seen = here.update("abcdef123456", count)  # starts from the stale version: the write is refused
    assert seen == 2
    assert there.load("abcdef123456").download_count == 2  # type: ignore[union-attr]


def test_a_refusal_judged_on_a_stale_version_is_checked_again(seaweedfs: SeaweedS3) -> None:
    """The version read a moment ago says 'completed'; another process has since deleted and created the
    transfer again (a friendly key's id is reused): the update must not refuse on the old version."""
    prefix = f"meta-{secrets.token_hex(4)}"
    here, _ = make_store(seaweedfs, prefix)
    there, _ = make_store(seaweedfs, prefix)
    assert here.create(TransferMeta(transfer_id="abcdef123456", file_size_bytes=10, status=COMPLETED))
    assert here.load("abcdef123456") is not None

    def fresh(meta: TransferMeta) -> TransferMeta:
        return TransferMeta(transfer_id=meta.transfer_id, file_size_bytes=20)

    there.update("abcdef123456", lambda meta: meta.__dict__.update(fresh(meta).__dict__))

    def upload(meta: TransferMeta) -> int:
        if meta.status != PENDING:
            raise StoreError(404, "Transfer not found or not in pending state")
        meta.payload_size = 20
        return 20

    _, size = here.update("abcdef123456", upload)
    assert size == 20
    assert there.load("abcdef123456").payload_size == 20  # type: ignore[union-attr]


def test_a_direct_send_is_four_s3_calls_and_a_presigned_put_is_measured_at_complete(
        seaweedfs: SeaweedS3) -> None:
    """create → upload → complete asks S3 for nothing it already knows: the upload starts from the version
    its create wrote (no GetObject), and the size the upload recorded stands (no HeadObject).
    A payload PUT straight to S3 through presigned/upload-url is not seen by the
    server, so its transfer is measured at complete — and one larger than declared is refused there."""
    import httpx

    from sgsend_desktop.server.config import ServerConfig
    from tests.server.test_review_races import inprocess_server

    prefix = f"meta-{secrets.token_hex(4)}"
    store, calls = make_store(seaweedfs, prefix)
    config = ServerConfig(storage="s3", s3=S3Settings(bucket=seaweedfs.bucket, prefix=prefix))
    with inprocess_server(config, store) as url, httpx.Client(base_url=url, timeout=30) as client:

        def create() -> str:
            answer = client.post("/api/transfers/create", json={"file_size_bytes": 100})
            return str(answer.json()["transfer_id"])

        calls.clear()
        transfer_id = create()
        assert client.post(f"/api/transfers/upload/{transfer_id}", content=b"p" * 128).status_code == 200
        assert client.post(f"/api/transfers/complete/{transfer_id}").status_code == 200
        # create: meta; upload: payload + meta; complete: meta, each starting from the version this
        # process wrote a moment before (before: two GetObject and one HeadObject more)
        assert calls == Counter({"PutObject": 4})

        calls.clear()
        transfer_id = create()
        assert client.post(f"/api/transfers/upload/{transfer_id}", content=b"p" * 128).status_code == 200
        signed = client.get(f"/api/presigned/upload-url/{transfer_id}").json()["upload_url"]
        assert httpx.put(signed, content=b"q" * 5000, timeout=30).status_code == 200  # S3 checks no size
        refused = client.post(f"/api/transfers/complete/{transfer_id}")
        assert refused.status_code == 400 and "larger than the declared" in refused.json()["detail"]
        assert calls["HeadObject"] == 1
        assert client.get(f"/api/transfers/info/{transfer_id}").json()["status"] == "pending"


def test_an_upload_to_a_transfer_another_process_deleted_is_refused_and_leaves_no_payload(
        seaweedfs: SeaweedS3) -> None:
    """The upload starts from the version this process's create wrote a moment ago; another instance has
    deleted the transfer since. The upload must be refused (as if it had read the metadata) and its
    payload removed: a stale version may only save a read, never decide."""
    import hashlib

    import httpx

    from sgsend_desktop.server.config import ServerConfig
    from tests.server.test_review_races import inprocess_server

    prefix = f"meta-{secrets.token_hex(4)}"
    here, here_calls = make_store(seaweedfs, prefix)
    there, _ = make_store(seaweedfs, prefix)
    config = ServerConfig(storage="s3", s3=S3Settings(bucket=seaweedfs.bucket, prefix=prefix))
    secret = "delete-me-please"
    with inprocess_server(config, here) as here_url, inprocess_server(config, there) as there_url:
        created = httpx.post(f"{here_url}/api/transfers/create", timeout=30, json={
            "file_size_bytes": 100, "delete_auth_hash": hashlib.sha256(secret.encode()).hexdigest()})
        transfer_id = created.json()["transfer_id"]
        deleted = httpx.delete(f"{there_url}/api/transfers/delete/{transfer_id}", timeout=30,
                               headers={"x-sgraph-transfer-delete-auth": secret})
        assert deleted.json()["status"] == "deleted"
        here_calls.clear()
        refused = httpx.post(f"{here_url}/api/transfers/upload/{transfer_id}", content=b"p" * 100, timeout=30)
        assert refused.status_code == 404 and "pending" in refused.json()["detail"]
        assert here_calls["GetObject"] >= 1  # the refused write made it read the current version
        assert here.payload_size(transfer_id) is None
        info = httpx.get(f"{there_url}/api/transfers/info/{transfer_id}", timeout=30).json()
        assert info["status"] == "deleted"


def test_complete_judged_on_a_stale_version_measures_a_payload_replaced_through_another_instance(
        seaweedfs: SeaweedS3) -> None:
    """complete starts from the version this process wrote at upload (size recorded, no presigned PUT).
    Meanwhile another instance handed out a presigned PUT URL and a larger payload went straight to S3:
    complete must notice the record changed, measure the payload, and refuse it."""
    import httpx


    with two_instances(seaweedfs) as (_, here_calls, here_url, there_url):
        created = httpx.post(f"{here_url}/api/transfers/create", json={"file_size_bytes": 100}, timeout=30)
        transfer_id = created.json()["transfer_id"]
        upload = f"{here_url}/api/transfers/upload/{transfer_id}"
        assert httpx.post(upload, content=b"p" * 128, timeout=30).status_code == 200
        issued = httpx.get(f"{there_url}/api/presigned/upload-url/{transfer_id}", timeout=30)
        signed = issued.json()["upload_url"]
        assert httpx.put(signed, content=b"q" * 5000, timeout=30).status_code == 200
        here_calls.clear()
        refused = httpx.post(f"{here_url}/api/transfers/complete/{transfer_id}", timeout=30)
        assert refused.status_code == 400 and "larger than the declared" in refused.json()["detail"]
        assert here_calls["HeadObject"] == 1  # measured, not trusted
        info = httpx.get(f"{there_url}/api/transfers/info/{transfer_id}", timeout=30).json()
        assert info["status"] == "pending"


def test_a_send_alternating_between_instances_costs_no_extra_call(seaweedfs: SeaweedS3) -> None:
    """Behind a round-robin balancer: create here, upload there, complete here. This process's own
    version (from create) has no payload record, so complete reads the store's instead of acting on the
    stale one: a read and a write, not a HeadObject, a refused write and two more reads (seen in the
    two-instance bench before this was decided)."""
    import httpx


    with two_instances(seaweedfs) as (_, here_calls, here_url, there_url):
        created = httpx.post(f"{here_url}/api/transfers/create", json={"file_size_bytes": 100}, timeout=30)
        transfer_id = created.json()["transfer_id"]
        upload = f"{there_url}/api/transfers/upload/{transfer_id}"
        assert httpx.post(upload, content=b"p" * 128, timeout=30).status_code == 200
        here_calls.clear()
        done = httpx.post(f"{here_url}/api/transfers/complete/{transfer_id}", timeout=30)
        assert done.status_code == 200, done.text
        assert here_calls == Counter({"GetObject": 1, "PutObject": 1})
        info = httpx.get(f"{there_url}/api/transfers/info/{transfer_id}", timeout=30).json()
        assert info["status"] == "completed"
