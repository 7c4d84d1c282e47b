"""Peak RSS of `sgsend serve` (disk backend) while a 1 GiB payload goes up by multipart and back down.

    python bench/server_memory.py [--size-mib 1024] [--part-mib 10] [--workers 4]

Starts the server as a subprocess, PUTs parts of --part-mib (generated on the fly, never held whole),
completes the upload, then streams the payload back through the presigned download URL and checks its
MD5. The server's RSS is sampled every 20 ms (psutil if installed, else /proc), and its exact high-water
mark is read from /proc/PID/status (VmHWM) on Linux. Prints the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers.servers import running_server  # noqa: E402

MiB = 1024 * 1024


def rss_bytes(pid: int) -> int:
    try:
        import psutil

        return int(psutil.Process(pid).memory_info().rss)
    except ImportError:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    return 0


def high_water_mark(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class RssSampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                self.peak = max(self.peak, rss_bytes(self.pid))
                self.samples += 1
            except OSError:
                return
            time.sleep(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def part_bytes(number: int, size: int) -> bytes:
    return random.Random(number).randbytes(size)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--part-mib", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    size, part_size = args.size_mib * MiB, args.part_mib * MiB
    pieces = [(i + 1, min(part_size, size - offset)) for i, offset in enumerate(range(0, size, part_size))]

    with tempfile.TemporaryDirectory(prefix="sgsend-bench-") as tmp, running_server(Path(tmp)) as server:
        pid = server.proc.pid
        time.sleep(0.5)
        baseline = rss_bytes(pid)
        sampler = RssSampler(pid)
        sampler.start()
        with httpx.Client(base_url=server.url, timeout=120) as client:
            transfer_id = client.post("/api/transfers/create", json={"file_size_bytes": size}).json()[
                "transfer_id"
            ]
            init = client.post(
                "/api/presigned/initiate",
                json={"transfer_id": transfer_id, "file_size_bytes": size, "num_parts": len(pieces)},
            ).json()
            urls = {item["part_number"]: item["upload_url"] for item in init["part_urls"]}

            def put(piece: tuple[int, int]) -> dict[str, object]:
                number, length = piece
                response = httpx.put(urls[number], content=part_bytes(number, length), timeout=120)
                response.raise_for_status()
                return {"part_number": number, "etag": response.headers["etag"]}

            started = time.monotonic()
            with ThreadPoolExecutor(args.workers) as pool:
                parts = list(pool.map(put, pieces))
            upload_seconds = time.monotonic() - started
            client.post(
                "/api/presigned/complete",
                json={"transfer_id": transfer_id, "upload_id": init["upload_id"], "parts": parts},
            ).raise_for_status()
            client.post(f"/api/transfers/complete/{transfer_id}").raise_for_status()
            assembled_seconds = time.monotonic() - started - upload_seconds
            url = client.get(f"/api/presigned/download-url/{transfer_id}").json()["download_url"]

        expected = hashlib.md5()
        for number, length in pieces:
            expected.update(part_bytes(number, length))
        got = hashlib.md5()
        received = 0
        started = time.monotonic()
        with httpx.stream("GET", url, timeout=120) as response:
            response.raise_for_status()
            for block in response.iter_raw(MiB):
                got.update(block)
                received += len(block)
        download_seconds = time.monotonic() - started
        sampler.stop()
        hwm = high_water_mark(pid)

    ok = received == size and got.hexdigest() == expected.hexdigest()
    print(
        f"payload: {size / MiB:.0f} MiB in {len(pieces)} parts of {args.part_mib} MiB, {args.workers} workers"
    )
    print(
        f"upload: {upload_seconds:.1f} s ({size / MiB / upload_seconds:.0f} MiB/s); "
        f"assemble: {assembled_seconds:.1f} s; download: {download_seconds:.1f} s "
        f"({size / MiB / download_seconds:.0f} MiB/s); round trip intact: {ok}"
    )
    print(
        f"server RSS: baseline {baseline / MiB:.1f} MiB, sampled peak {sampler.peak / MiB:.1f} MiB "
        f"({sampler.samples} samples)" + (f", VmHWM {hwm / MiB:.1f} MiB" if hwm else "")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
