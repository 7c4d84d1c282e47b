"""Peak RSS of `sgsend send` on a 1 GiB file (default), against a real `sgsend serve` on loopback.

    python bench/send_memory.py [--size-mib 1024] [--workers 4]

Starts the server as a subprocess (disk backend, temp dir), runs `sgsend send` as a child and reads its
exact peak RSS from os.wait4's rusage (ru_maxrss, KiB on Linux). Prints the figure and the throughput.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.helpers.servers import running_server  # noqa: E402

MiB = 1024 * 1024


def make_file(path: Path, size: int) -> None:
    block = random.Random(1).randbytes(MiB)
    with open(path, "wb") as out:
        for counter in range(size // MiB):
            out.write(counter.to_bytes(8, "big") + block[8:])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sgsend-bench-") as temp:
        base = Path(temp)
        source = base / "big.bin"
        make_file(source, args.size_mib * MiB)
        with running_server(base, env={"SGSEND_TEST_HOOKS": "0"}) as server:
            env = dict(os.environ, SGSEND_SERVER=server.url, SGSEND_DATA_DIR=str(base / "client"),
                       PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring", PYTHONPATH=str(REPO))
            started = time.monotonic()
            proc = subprocess.Popen([sys.executable, "-m", "sgsend_desktop", "send", str(source),
                                     "--workers", str(args.workers)],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
            _, status, usage = os.wait4(proc.pid, 0)
            elapsed = time.monotonic() - started
            link = proc.stdout.read().decode().strip() if proc.stdout else ""
            proc.returncode = os.waitstatus_to_exitcode(status)
        peak_mb = usage.ru_maxrss * 1024 / 1e6
        print(f"sgsend send: {args.size_mib} MiB, {args.workers} workers, exit {proc.returncode}, "
              f"{elapsed:.1f} s ({args.size_mib * MiB / elapsed / 1e6:.0f} MB/s)")
        print(f"peak RSS: {peak_mb:.1f} MB (limit 200 MB) -> {'OK' if peak_mb < 200 else 'TOO HIGH'}")
        print("link made" if link.startswith("http") else "no link!")
        return 0 if proc.returncode == 0 and peak_mb < 200 else 1


if __name__ == "__main__":
    sys.exit(main())
