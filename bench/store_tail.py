"""The store alone: latency of a 1 KiB PutObject into SeaweedFS while big multipart uploads
stream into it, with no `sgsend serve` and no other client — the floor under any API write route's
latency in `bench/server_load.py` (issue 10). Also tries a *hedged* PUT (a second identical PUT when the
first has not answered after ``--hedge-ms``; the first answer wins), which cuts a tail made of unlucky
single requests but not one made by a saturated store.

Run:  .venv/bin/python bench/store_tail.py [--big 4] [--big-mib 256] [--seconds 45] [--hedge-ms 100]

Plain and hedged PUTs alternate (one every 50 ms), first on the idle store, then under the big uploads
(boto3, 16 MiB parts, 4 threads each, repeated until the measurement ends). Prints p50/p90/p99/max.
"""

from __future__ import annotations

import argparse
import concurrent.futures as futures
import contextlib
import math
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from botocore.credentials import Credentials

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sgsend_desktop.server.storage.s3_objects import ObjectCalls  # noqa: E402
from tests.helpers.seaweed import seaweedfs_server  # noqa: E402

PART = 16 * 1024 * 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else float("nan")


def big_uploads(client: Any, bucket: str, key: str, size: int, stop: threading.Event) -> None:
    with contextlib.suppress(Exception):  # the store stops under the last upload: that is the end
        upload_until(client, bucket, key, size, stop)


def upload_until(client: Any, bucket: str, key: str, size: int, stop: threading.Event) -> None:
    body = os.urandom(PART)
    while not stop.is_set():
        upload = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]

        def put(number: int, upload: str = upload) -> dict[str, Any]:
            answer = client.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number,
                                        Body=body)
            return {"PartNumber": number, "ETag": answer["ETag"]}

        with futures.ThreadPoolExecutor(4) as pool:
            parts = list(pool.map(put, range(1, max(1, size // PART) + 1)))
        client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload,
                                         MultipartUpload={"Parts": parts})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--big", type=int, default=4, help="concurrent big uploads")
    parser.add_argument("--big-mib", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=45.0, help="measuring time under load")
    parser.add_argument("--hedge-ms", type=float, default=100.0)
    parser.add_argument("--weed-arg", action="append", default=[],
                        help="an extra `weed server` argument (repeat), e.g. -filer.saveToFilerLimit=65536")
    args = parser.parse_args()

    with seaweedfs_server(Path(tempfile.mkdtemp(prefix="store-tail-")),
                          tuple(args.weed_arg)) as store:
        calls = ObjectCalls(store.endpoint, store.bucket, store.region,
                            Credentials(store.access_key, store.secret_key))
        pool = futures.ThreadPoolExecutor(8)
        body = os.urandom(1024)

        def plain(key: str) -> float:
            began = time.perf_counter()
            calls.put(key, body, "application/json")
            return (time.perf_counter() - began) * 1000

        def hedged(key: str) -> float:
            began = time.perf_counter()
            first = pool.submit(calls.put, key, body, "application/json")
            done, _ = futures.wait([first], timeout=args.hedge_ms / 1000)
            if not done:
                second = pool.submit(calls.put, key, body, "application/json")
                futures.wait([first, second], return_when=futures.FIRST_COMPLETED)
            return (time.perf_counter() - began) * 1000

        def measure(seconds: float, tag: str) -> dict[str, list[float]]:
            found: dict[str, list[float]] = {"plain": [], "hedged": []}
            end, count = time.monotonic() + seconds, 0
            while time.monotonic() < end:
                kind = "plain" if count % 2 == 0 else "hedged"
                found[kind].append((plain if kind == "plain" else hedged)(f"{tag}/{count % 50}"))
                count += 1
                time.sleep(0.05)
            return found

        for number in range(20):  # warm the connections
            plain(f"warm/{number}")
        idle = measure(10, "idle")
        stop = threading.Event()
        for number in range(args.big):
            threading.Thread(target=big_uploads, daemon=True,
                             args=(store.client(), store.bucket, f"big/{number}", args.big_mib << 20,
                                   stop)).start()
        time.sleep(3)
        loaded = measure(args.seconds, "loaded")
        stop.set()
        print(f"1 KiB PutObject into SeaweedFS, ms ({args.big} x {args.big_mib} MiB multipart uploads "
              f"under load; hedge after {args.hedge_ms:.0f} ms)")
        for name, found in (("idle", idle), ("under load", loaded)):
            for kind, values in found.items():
                print(f"  {name:10} {kind:6} n={len(values):4d} p50 {percentile(values, .5):7.1f} "
                      f"p90 {percentile(values, .9):7.1f} p99 {percentile(values, .99):7.1f} "
                      f"max {max(values):7.1f}")
    return 0  # the store has stopped (it must not outlive the bench); the upload threads are daemons


if __name__ == "__main__":
    sys.exit(main())
