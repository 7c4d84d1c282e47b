"""End-to-end transfer speed and memory, side by side with a peer, in one run.

Run:  .venv/bin/python bench/transfer_bench.py [--size-mib 512] [--workers 4]

Starts a real SeaweedFS (S3 API) and a real `sgsend serve --storage s3` on loopback, then:
* ours: `sgsend send FILE` (encrypt + 4 parallel presigned part PUTs + complete) and `sgsend get LINK`
  (presigned ranged GETs + decrypt + verify + rename), each a subprocess with its peak RSS;
* peer: boto3's s3transfer (`upload_file` / `download_file`, what `aws s3 cp` uses), multipart with the
  same concurrency, straight to the same SeaweedFS, *without* encryption — the ceiling of the path;
* ours again against `sgsend serve` with its disk backend.
Prints MB/s, peak RSS and ratios ours/peer. Both sides share the 2 cores with SeaweedFS and the server.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.seaweed import SeaweedS3, seaweedfs_server  # noqa: E402
from tests.helpers.servers import start_server  # noqa: E402

MIB = 1024 * 1024

PEER = """
import sys, boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
endpoint, key, secret, region, bucket, mode, path, workers = sys.argv[1:9]
style = Config(signature_version="s3v4", s3={"addressing_style": "path"})
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                  region_name=region, config=style)
cfg = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024,
                     max_concurrency=int(workers))
if mode == "up":
    s3.upload_file(path, bucket, "peer-object", Config=cfg)
else:
    s3.download_file(bucket, "peer-object", path, Config=cfg)
"""


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{done.stderr[-2000:]}")
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    return seconds, int(match.group(1)) // 1024 if match else -1, done.stdout


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


def ours(server_url: str, source: Path, work: Path, workers: int, tag: str) -> tuple[tuple, tuple]:
    env = dict(os.environ, SGSEND_DATA_DIR=str(work / f"data-{tag}"),
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    sgsend = [sys.executable, "-m", "sgsend_desktop"]
    up_s, up_rss, out = run([*sgsend, "send", str(source), "--server", server_url, "--workers", str(workers)],
                            env)
    link = out.strip().splitlines()[-1]
    dest = work / f"out-{tag}"
    down_s, down_rss, out = run([*sgsend, "get", link, "--server", server_url, "-o", str(dest),
                                 "--workers", str(workers)], env)
    saved = Path(out.strip().splitlines()[-1])
    assert sha256(saved) == sha256(source), "round trip is not byte-identical"
    saved.unlink()
    return (up_s, up_rss), (down_s, down_rss)


def peer(store: SeaweedS3, source: Path, work: Path, workers: int) -> tuple[tuple, tuple]:
    base = [sys.executable, "-c", PEER, store.endpoint, store.access_key, store.secret_key, store.region,
            store.bucket]
    up_s, up_rss, _ = run([*base, "up", str(source), str(workers)])
    target = work / "peer-download.bin"
    down_s, down_rss, _ = run([*base, "down", str(target), str(workers)])
    assert target.stat().st_size == source.stat().st_size
    target.unlink()
    return (up_s, up_rss), (down_s, down_rss)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sgsend-transfer-bench-"))
    try:
        source = work / "source.bin"
        block = os.urandom(8 * MIB)
        with source.open("wb") as out:
            for _ in range(args.size_mib // 8):
                out.write(block)
        mb = args.size_mib * MIB / 1e6
        with seaweedfs_server(work / "seaweed") as store:
            s3_server = start_server(work / "srv-s3", backend="s3", s3=store)
            disk_server = start_server(work / "srv-disk")
            try:
                peer_up, peer_down = peer(store, source, work, args.workers)
                s3_up, s3_down = ours(s3_server.url, source, work, args.workers, "s3")
                disk_up, disk_down = ours(disk_server.url, source, work, args.workers, "disk")
            finally:
                s3_server.stop()
                disk_server.stop()
        rows = [("peer: boto3 s3transfer → SeaweedFS (no encryption)", peer_up, peer_down),
                ("sgsend send/get → sgsend serve (S3 on SeaweedFS)", s3_up, s3_down),
                ("sgsend send/get → sgsend serve (disk)", disk_up, disk_down)]
        print(f"file: {args.size_mib} MiB, workers: {args.workers}, cores: {os.cpu_count()}")
        print(f"{'':55} {'up MB/s':>8} {'RSS':>7} {'down MB/s':>10} {'RSS':>7}")
        for name, (us, ur), (ds, dr) in rows:
            print(f"{name:55} {mb / us:8.0f} {ur:5d}MB {mb / ds:10.0f} {dr:5d}MB")
        print(f"ratio ours(S3)/peer: upload {peer_up[0] / s3_up[0]:.2f}, "
              f"download {peer_down[0] / s3_down[0]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
