"""Crypto throughput and memory: our streaming payload vs. the one-buffer ceiling and a peer (age).

Run:  .venv/bin/python bench/crypto_bench.py [--size-mib 1024]

* ceiling: ``AESGCM.encrypt`` over the whole file in one buffer (what the browser UI does; needs
  the file in memory) — best of 3 on a warm buffer;
* ours: ``sgsend encrypt`` / ``sgsend decrypt`` as subprocesses on a real file (disk I/O included),
  peak RSS from ``/usr/bin/time -v``;
* peer: ``age`` (ChaCha20-Poly1305, streaming, X25519 recipient), the same file, if installed
  (`apt-get install age`).
Reports MB/s, peak RSS and ratios.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sgsend_desktop.core.crypto import iter_encrypted_payload

MIB = 1024 * 1024


def timed(cmd: list[str], **kwargs: object) -> tuple[float, int, str]:
    """Wall seconds, peak RSS in KiB and stdout of ``cmd`` run under /usr/bin/time -v."""
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, check=True,
                          **kwargs)  # type: ignore[call-overload]
    seconds = time.perf_counter() - start
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    return seconds, int(match.group(1)) if match else -1, done.stdout


def make_file(path: Path, size: int) -> None:
    block = os.urandom(8 * MIB)
    with path.open("wb") as out:
        for offset in range(0, size, len(block)):
            out.write(block[: min(len(block), size - offset)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    args = parser.parse_args()
    size = args.size_mib * MIB
    work = Path(tempfile.mkdtemp(prefix="sgsend-bench-"))
    try:
        source = work / "source.bin"
        make_file(source, size)
        mb = size / 1e6

        ceiling, streamed = in_memory_speeds(min(size, 512 * MIB))

        sgsend = [sys.executable, "-m", "sgsend_desktop"]
        enc_s, enc_rss, key_text = timed([*sgsend, "encrypt", "--new-key", str(source),
                                          str(work / "payload")])
        dec_s, dec_rss, _ = timed([*sgsend, "decrypt", "--key", key_text.strip(), str(work / "payload"),
                                   "-o", str(work / "out")])
        rows = [("AESGCM.encrypt, one buffer (ceiling)", ceiling, None),
                ("iter_encrypted_payload, same buffer", streamed, None),
                ("sgsend encrypt (file to file)", mb / enc_s, enc_rss),
                ("sgsend decrypt (verify + rename)", mb / dec_s, dec_rss)]
        (work / "out" / "source.bin").unlink()
        if shutil.which("age") and shutil.which("age-keygen"):
            subprocess.run(["age-keygen", "-o", str(work / "id.txt")], check=True, capture_output=True)
            recipient = re.search(r"age1\w+", (work / "id.txt").read_text())
            assert recipient
            age_enc, age_enc_rss, _ = timed(["age", "-r", recipient.group(0), "-o", str(work / "p.age"),
                                             str(source)])
            age_dec, age_dec_rss, _ = timed(["age", "-d", "-i", str(work / "id.txt"), "-o",
                                             str(work / "plain.age"), str(work / "p.age")])
            rows += [("age encrypt (peer)", mb / age_enc, age_enc_rss),
                     ("age decrypt (peer)", mb / age_dec, age_dec_rss)]
        print(f"file: {args.size_mib} MiB, cores: {os.cpu_count()}")
        print(f"{'':42} {'MB/s':>8} {'peak RSS':>10}")
        for name, speed, rss in rows:
            print(f"{name:42} {speed:8.0f} {f'{rss // 1024} MB' if rss else '-':>10}")
        print(f"stream encrypt / one-buffer ceiling (same data in memory): {streamed / ceiling:.2f}")
        if len(rows) > 4:
            print(f"sgsend encrypt / age encrypt (file to file): {rows[2][1] / rows[4][1]:.2f}")
            print(f"sgsend decrypt / age decrypt (file to file): {rows[3][1] / rows[5][1]:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def in_memory_speeds(size: int) -> tuple[float, float]:
    """MB/s of one-buffer AESGCM.encrypt (the ceiling) and of our stream over the same buffer."""
    data = os.urandom(size)
    aes = AESGCM(os.urandom(32))
    aes.encrypt(b"\0" * 12, data[:MIB], None)
    ceiling = size / 1e6 / min(_time(lambda: aes.encrypt(b"\0" * 12, data, None)) for _ in range(3))
    key = os.urandom(32)

    def stream() -> None:
        for _ in iter_encrypted_payload(key, io.BytesIO(data), "source.bin"):
            pass

    return ceiling, size / 1e6 / min(_time(stream) for _ in range(3))


def _time(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
