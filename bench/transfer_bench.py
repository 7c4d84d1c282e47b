"""End-to-end transfer speed, memory and disk, side by side with s3transfer, in one run: issue 10's table.

Run:  .venv/bin/python bench/transfer_bench.py [--size-mib 512] [--runs 3] [--workers 4]
      .venv/bin/python bench/transfer_bench.py --quick          (128 MiB, one run, no 4 GiB RSS point)

Starts a real SeaweedFS (S3 API), a real `sgsend serve --storage s3` and one with the disk backend, all on
loopback, then measures, each in its own subprocess (wall time, peak RSS and CPU from wait4):

* ours: `sgsend send FILE` (encrypt + parallel presigned part PUTs + complete) and `sgsend get LINK`
  (parallel ranged GETs + decrypt + verify + fsync + rename), on S3 and on the disk backend; during each
  receive the bytes allocated in the target folder are sampled (disk peak);
* peer: boto3's s3transfer (`upload_file` / `download_file`, what `aws s3 cp` uses), multipart with the same
  part size and concurrency, straight to the same SeaweedFS, *without* encryption and without fsync;
* ceiling: a raw presigned PUT of the same number of bytes to the same part URLs (httpx, the same workers,
  no encryption, no journal): the most our send could do on this path;
* a link that drops every connection after 6 MB (a proxy), and `kill -9` of `sgsend get` mid-receive
  then `sgsend resume`: bytes fetched beyond the payload;
* peak RSS of `sgsend send` / `sgsend get` at 1 GiB and 4 GiB (disk backend; 4 GiB when /tmp has room).

The runs alternate (ours first, then the peer first) and the table shows medians. Everything shares the
machine's cores (SeaweedFS, the servers and the client): say so when quoting figures, and how loaded it was.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.drop_proxy import DropProxy  # noqa: E402
from tests.helpers.seaweed import SeaweedS3, seaweedfs_server  # noqa: E402
from tests.helpers.servers import ServerProc, start_server  # noqa: E402

MIB = 1024 * 1024
RANGE_SIZE = 8 * MIB     # core/download.py's
READ_CHUNK = 64 * 1024   # httpcore's socket reads: what a dropped connection may lose in flight

PEER = """
import sys, boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
endpoint, key, secret, region, bucket, mode, path, workers, part = sys.argv[1:10]
style = Config(signature_version="s3v4", s3={"addressing_style": "path"})
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                  region_name=region, config=style)
cfg = TransferConfig(multipart_threshold=int(part), multipart_chunksize=int(part),
                     max_concurrency=int(workers))
if mode == "up":
    s3.upload_file(path, bucket, "peer-object", Config=cfg)
else:
    s3.download_file(bucket, "peer-object", path, Config=cfg)
"""

# The ceiling of our send path: the same bytes to the same kind of presigned part URLs, nothing else.
CEILING = """
import math, os, sys, threading, httpx
server, path, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
size = os.path.getsize(path) + 28 + 64  # about what our payload adds (IV, tag, envelope header)
api = httpx.Client(base_url=server, timeout=120)
tid = api.post("/api/transfers/create", json={"file_size_bytes": size}).json()["transfer_id"]
num = max(1, min(1000, math.ceil(size / (5 * 1024 * 1024))))
init = api.post("/api/presigned/initiate",
                json={"transfer_id": tid, "file_size_bytes": size, "num_parts": num}).json()
part_size, urls = init["part_size"], {p["part_number"]: p["upload_url"] for p in init["part_urls"]}
fd = os.open(path, os.O_RDONLY)
etags, lock, numbers = {}, threading.Lock(), list(range(1, num + 1))
http = httpx.Client(timeout=120, limits=httpx.Limits(max_connections=workers + 2))
def work():
    while True:
        with lock:
            if not numbers:
                return
            n = numbers.pop(0)
        start = (n - 1) * part_size
        length = min(part_size, size - start)
        data = os.pread(fd, length, min(start, os.path.getsize(path) - 1))
        data += b"\\0" * (length - len(data))
        url = urls[n] if "://" in urls[n] else server + urls[n]
        answer = http.put(url, content=data)
        answer.raise_for_status()
        etags[n] = answer.headers["etag"]
threads = [threading.Thread(target=work) for _ in range(workers)]
[t.start() for t in threads]
[t.join() for t in threads]
parts = [{"part_number": n, "etag": etags[n]} for n in sorted(etags)]
api.post("/api/presigned/complete", json={"transfer_id": tid, "upload_id": init["upload_id"],
                                           "parts": parts}).raise_for_status()
"""


@dataclass(frozen=True)
class Run:
    seconds: float
    rss_mb: float
    cpu: float          # user + system seconds
    disk_peak: int = 0  # bytes allocated in the target folder (receives)
    out: str = ""

    def mbps(self, size: int) -> float:
        return size / self.seconds / 1e6


class DiskWatch:
    """Samples the bytes allocated under a folder every 10 ms (the peak a receive needs)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.peak = folder, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            total = 0
            with contextlib.suppress(OSError):
                for entry in os.scandir(self.folder):
                    with contextlib.suppress(OSError):
                        total += entry.stat(follow_symlinks=False).st_blocks * 512
            self.peak = max(self.peak, total)

    def __enter__(self) -> DiskWatch:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def spawn_measured(cmd: Sequence[str], env: dict[str, str] | None = None, watch: Path | None = None,
                   cwd: Path = ROOT) -> Run:
    """Run ``cmd``: its wall time, peak RSS and CPU (user + system, from os.wait4), its output, and the
    peak of bytes allocated under ``watch`` while it ran."""
    watcher = DiskWatch(watch) if watch is not None else None
    if watcher is not None:
        watcher.__enter__()
    out_file = tempfile.TemporaryFile()
    err_file = tempfile.TemporaryFile()
    started = time.perf_counter()
    proc = subprocess.Popen(list(cmd), stdout=out_file, stderr=err_file, env=env, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if watcher is not None:
        watcher.__exit__()
    out_file.seek(0)
    err_file.seek(0)
    out, err = out_file.read().decode(), err_file.read().decode()
    if proc.returncode:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{err[-3000:]}")
    return Run(seconds, usage.ru_maxrss * 1024 / 1e6, usage.ru_utime + usage.ru_stime,
               watcher.peak if watcher else 0, out)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(MIB), b""):
            digest.update(block)
    return digest.hexdigest()


def make_source(path: Path, size_mib: int) -> None:
    block = os.urandom(8 * MIB)
    with path.open("wb") as out:
        for index in range(size_mib // 8):
            out.write(index.to_bytes(8, "big") + block[8:])
        out.write(block[: (size_mib % 8) * MIB])


class Client:
    """`sgsend` from ``root`` (this tree, or another one to compare) with its own data dir."""

    def __init__(self, root: Path, work: Path, workers: int) -> None:
        self.root, self.work, self.workers = root, work, workers
        self.count = 0
        # compiled once, as an installed app is (the peer's boto3 comes with its bytecode): with
        # PYTHONDONTWRITEBYTECODE set, every `sgsend` would compile its ~40 modules again at start
        subprocess.run([sys.executable, "-c", "import sgsend_desktop.cli"], env=self.env("compile"),
                       cwd=root, check=True)

    def env(self, tag: str) -> dict[str, str]:
        env = dict(os.environ, SGSEND_DATA_DIR=str(self.work / f"data-{tag}"), PYTHONPATH=str(self.root),
                   PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
                   PYTHONPYCACHEPREFIX=str(self.work / f"pycache-{self.root.name}"))
        env.pop("SGSEND_SERVER", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        return env

    def send(self, server: str, source: Path, tag: str) -> tuple[Run, str]:
        run = spawn_measured([sys.executable, "-m", "sgsend_desktop", "send", str(source), "--server", server,
                              "--workers", str(self.workers)], self.env(tag), cwd=self.root)
        return run, run.out.strip().splitlines()[-1]

    def get(self, server: str, link: str, tag: str, source: Path, check: bool) -> Run:
        self.count += 1
        dest = self.work / f"out-{tag}-{self.count}"
        run = spawn_measured([sys.executable, "-m", "sgsend_desktop", "get", link, "--server", server,
                              "-o", str(dest), "--workers", str(self.workers)], self.env(tag), watch=dest,
                             cwd=self.root)
        saved = Path(run.out.strip().splitlines()[-1])
        assert saved.stat().st_size == source.stat().st_size, "the received file has the wrong size"
        if check:
            assert sha256(saved) == sha256(source), "round trip is not byte-identical"
        shutil.rmtree(dest, ignore_errors=True)
        return run


def peer(store: SeaweedS3, mode: str, path: Path, workers: int) -> Run:
    return spawn_measured([sys.executable, "-c", PEER, store.endpoint, store.access_key, store.secret_key,
                           store.region, store.bucket, mode, str(path), str(workers), str(RANGE_SIZE)],
                          watch=path.parent if mode == "down" else None)


def ceiling(server: str, path: Path, workers: int) -> Run:
    return spawn_measured([sys.executable, "-c", CEILING, server, str(path), str(workers)])


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def drop_and_kill(client: Client, server: ServerProc, source: Path, work: Path) -> dict[str, float]:
    """A receive through a link that drops every 6 MB, and one killed (-9) mid-way then resumed:
    body bytes the storage sent beyond the payload."""
    run, link = client.send(server.url, source, "faults")
    del run
    results: dict[str, float] = {}
    with DropProxy(server.url, drop_every=6_000_000) as proxy:
        dest = work / "out-drop"
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "sgsend_desktop", "get", link, "--server", proxy.url,
                               "-o", str(dest), "--workers", str(client.workers)],
                              env=client.env("drop"), capture_output=True, text=True, timeout=1800,
                              cwd=client.root)
        results["drop_seconds"] = time.perf_counter() - started
        results["drop_ok"] = float(done.returncode == 0)
        payload = _payload_size(client.env("drop"))
        results["drop_refetched"] = proxy.body_bytes("GET", "/storage/") - payload
        results["drops"] = proxy.drops
        shutil.rmtree(dest, ignore_errors=True)
    with DropProxy(server.url) as proxy:
        dest = work / "out-kill"
        env = client.env("kill")
        proc = subprocess.Popen([sys.executable, "-m", "sgsend_desktop", "get", link, "--server", proxy.url,
                                 "-o", str(dest), "--workers", str(client.workers), "--limit", "40M"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                cwd=client.root)
        deadline = time.monotonic() + 300
        half = source.stat().st_size // 2
        while proxy.body_bytes("GET", "/storage/") < half and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.kill()
        proc.wait()
        resumed = subprocess.run([sys.executable, "-m", "sgsend_desktop", "resume", "--all", "--server",
                                  proxy.url, "--workers", str(client.workers)],
                                 env=env, capture_output=True, text=True, timeout=1800, cwd=client.root)
        results["kill_ok"] = float(resumed.returncode == 0)
        results["kill_refetched"] = proxy.body_bytes("GET", "/storage/") - _payload_size(env)
        shutil.rmtree(dest, ignore_errors=True)
    return results


def _payload_size(env: dict[str, str]) -> int:
    import sqlite3

    db = sqlite3.connect(Path(env["SGSEND_DATA_DIR"]) / "journal.sqlite3")
    try:
        found = db.execute("SELECT MAX(payload_size) FROM transfers WHERE direction='receive'").fetchone()
        return int(found[0])
    finally:
        db.close()


def one_run(number: int, client: Client, store: SeaweedS3, s3_server: ServerProc, disk_server: ServerProc,
            source: Path, work: Path, workers: int,
            before: Client | None = None) -> Iterator[tuple[str, Run]]:
    """One alternated run: ours and the peer on S3 (ours first on even runs), then ours on disk; with
    ``before``, an older client's send and get on S3 right after ours."""
    link: dict[str, str] = {}
    check = number == 0

    def ours_up(server: ServerProc, tag: str, who: Client = client) -> Run:
        run, link[tag] = who.send(server.url, source, tag)
        return run

    ours: list[tuple[str, Callable[[], Run]]] = [
        ("send S3 (ours)", lambda: ours_up(s3_server, "s3")),
        ("get S3 (ours)", lambda: client.get(s3_server.url, link["s3"], "s3", source, check))]
    if before is not None:
        older = before
        ours += [("send S3 (before)", lambda: ours_up(s3_server, "before", older)),
                 ("get S3 (before)",
                  lambda: older.get(s3_server.url, link["before"], "before", source, check))]
    peers: list[tuple[str, Callable[[], Run]]] = [
        ("send S3 (s3transfer)", lambda: peer(store, "up", source, workers)),
        ("get S3 (s3transfer)", lambda: peer(store, "down", work / "peer-out" / "peer.bin", workers)),
        ("send S3 (raw PUT ceiling)", lambda: ceiling(s3_server.url, source, workers))]
    disk: list[tuple[str, Callable[[], Run]]] = [
        ("send disk (ours)", lambda: ours_up(disk_server, "disk")),
        ("get disk (ours)", lambda: client.get(disk_server.url, link["disk"], "disk", source, check))]
    for name, step in (ours + peers if number % 2 == 0 else peers + ours) + disk:
        # the previous step's writes reach the disk now, not during this one (SeaweedFS's volume files and
        # the received file leave hundreds of MB dirty in the page cache): each step starts alike
        os.sync()
        yield name, step()
        shutil.rmtree(work / "peer-out", ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3, help="alternated runs of each measurement (medians)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="128 MiB, one run, RSS at 1 GiB only")
    parser.add_argument("--rss-mib", default="1024,4096", help="sizes of the peak-RSS points ('' for none)")
    parser.add_argument("--no-faults", action="store_true", help="skip the dropping link and the kill -9")
    parser.add_argument("--client-root", type=Path, default=ROOT,
                        help="run `sgsend` (client side) from this tree, e.g. an older checkout")
    parser.add_argument("--before", type=Path,
                        help="also run an older checkout's client in the same runs (before/after rows)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.quick:
        args.size_mib, args.runs, args.rss_mib = min(args.size_mib, 128), 1, "1024"
    work = Path(tempfile.mkdtemp(prefix="sgsend-transfer-bench-"))
    size = args.size_mib * MIB
    rss_sizes = [int(x) for x in args.rss_mib.split(",") if x.strip()]
    free = shutil.disk_usage(work).free
    skipped = [mib for mib in rss_sizes if 3.2 * mib * MIB > free]
    rss_sizes = [mib for mib in rss_sizes if mib not in skipped]
    results: dict[str, list[Run]] = {}

    def add(name: str, run: Run) -> None:
        results.setdefault(name, []).append(run)
        print(f"  {name:28} {size / run.seconds / 1e6 if 'rss' not in name else 0:7.0f} MB/s  "
              f"RSS {run.rss_mb:5.0f} MB  CPU {run.cpu:5.2f} s  disk peak {run.disk_peak / MIB:7.1f} MiB",
              flush=True)

    load_before = os.getloadavg()
    faults: dict[str, float] = {}
    try:
        source = work / "source.bin"
        make_source(source, args.size_mib)
        client = Client(args.client_root.resolve(), work, args.workers)
        before = Client(args.before.resolve(), work, args.workers) if args.before else None
        with seaweedfs_server(work / "seaweed") as store:
            s3_server = start_server(work / "srv-s3", backend="s3", s3=store, env={"SGSEND_TEST_HOOKS": "0"})
            disk_server = start_server(work / "srv-disk", env={"SGSEND_TEST_HOOKS": "0"})
            try:
                for number in range(args.runs):
                    print(f"run {number + 1}/{args.runs}", flush=True)
                    for name, run in one_run(number, client, store, s3_server, disk_server, source, work,
                                             args.workers, before):
                        add(name, run)
                if not args.no_faults:
                    print("faults: a link dropping every 6 MB, kill -9 mid-receive", flush=True)
                    faults = drop_and_kill(client, disk_server, source, work)
                for mib in rss_sizes:
                    big = work / f"rss-{mib}.bin"
                    make_source(big, mib)
                    run, big_link = client.send(disk_server.url, big, f"rss{mib}")
                    add(f"rss send {mib} MiB", run)
                    add(f"rss get {mib} MiB", client.get(disk_server.url, big_link, f"rss{mib}", big,
                                                         check=False))
                    big.unlink()
            finally:
                s3_server.stop()
                disk_server.stop()
        report(args, size, results, faults, rss_sizes, skipped, load_before)
        if args.json:
            args.json.write_text(json.dumps({k: [r.__dict__ for r in v] for k, v in results.items()}
                                            | {"faults": faults}, indent=1, default=str))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def report(args: argparse.Namespace, size: int, results: dict[str, list[Run]], faults: dict[str, float],
           rss_sizes: list[int], skipped: list[int], load_before: tuple[float, float, float]) -> None:
    def speed(name: str) -> float:
        return median([size / r.seconds / 1e6 for r in results.get(name, [])])

    def cpu(name: str) -> float:
        return median([r.cpu for r in results.get(name, [])])

    rows: list[tuple[str, str, bool | None]] = []
    def ratio(what: str, ours: str, peer: str, floor: float) -> None:
        mine, theirs = speed(ours), speed(peer)
        rows.append((what, f"{mine:.0f} / {theirs:.0f} MB/s = {mine / theirs:.2f}", mine / theirs >= floor))

    ratio("receive S3: ours / s3transfer download_file >= 1.0", "get S3 (ours)", "get S3 (s3transfer)", 1.0)
    ratio("receive disk backend: ours / s3transfer >= 1.0", "get disk (ours)", "get S3 (s3transfer)", 1.0)
    ratio("send S3: ours / s3transfer upload_file >= 1.0", "send S3 (ours)", "send S3 (s3transfer)", 1.0)
    ratio("send S3: ours / raw presigned-PUT ceiling >= 0.9", "send S3 (ours)", "send S3 (raw PUT ceiling)",
          0.9)
    ratio("send disk backend: ours / s3transfer upload_file", "send disk (ours)", "send S3 (s3transfer)", 0.0)
    if "send S3 (before)" in results:
        for what in ("send", "get"):
            now, then = speed(f"{what} S3 (ours)"), speed(f"{what} S3 (before)")
            rows.append((f"{what} S3: now / before ({args.before})", f"{now:.0f} / {then:.0f} MB/s = "
                         f"{now / then:.2f}", None))
    for mib in rss_sizes:
        for what in ("send", "get"):
            rss = median([r.rss_mb for r in results.get(f"rss {what} {mib} MiB", [])])
            rows.append((f"peak RSS {what} {mib} MiB < 100 MB", f"{rss:.0f} MB", rss < 100))
    for mib in skipped:
        rows.append((f"peak RSS at {mib} MiB", "skipped: not enough free disk space", None))
    ranges_allowed = 4 * RANGE_SIZE
    for name in ("get S3 (ours)", "get disk (ours)"):
        peak = max((r.disk_peak for r in results.get(name, [])), default=0)
        extra = peak - size
        rows.append((f"disk peak during {name.split(' (')[0]}: file + a few ranges",
                     f"{peak / MIB:.0f} MiB for a {size // MIB} MiB file (+{extra / MIB:.1f} MiB)",
                     extra <= ranges_allowed))
    peer_peak = max((r.disk_peak for r in results.get("get S3 (s3transfer)", [])), default=0)
    rows.append(("disk peak during s3transfer download_file (reference)", f"{peer_peak / MIB:.0f} MiB", None))
    if faults:
        drops = int(faults["drops"])
        rows.append(("link dropping every 6 MB: receive completes", "yes" if faults["drop_ok"] else "NO",
                     bool(faults["drop_ok"])))
        refetched = faults["drop_refetched"]
        rows.append(("  bytes fetched twice <= one read chunk per drop",
                     f"{refetched:.0f} B over {drops} drops (limit {drops * READ_CHUNK})",
                     bool(faults["drop_ok"]) and refetched <= drops * READ_CHUNK))
        limit = args.workers * RANGE_SIZE
        rows.append(("kill -9 mid-receive, resume: re-fetched <= workers x range",
                     f"{faults['kill_refetched'] / MIB:.1f} MiB (limit {limit / MIB:.0f} MiB)",
                     bool(faults["kill_ok"]) and faults["kill_refetched"] <= limit))
    print()
    print(f"file {args.size_mib} MiB, {args.workers} workers, {args.runs} alternated run(s) (medians), "
          f"{os.cpu_count()} cores shared by client, servers and SeaweedFS; load average before "
          f"{load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}")
    print(f"{'what':50} {'median MB/s':>11} {'runs MB/s':>22} {'CPU s':>6} {'RSS MB':>7}")
    for name, runs in results.items():
        if name.startswith("rss"):
            continue
        speeds = ", ".join(f"{size / r.seconds / 1e6:.0f}" for r in runs)
        print(f"{name:50} {speed(name):11.0f} {speeds:>22} {cpu(name):6.2f} "
              f"{median([r.rss_mb for r in runs]):7.0f}")
    print()
    print(f"{'target':58} {'figure':48} result")
    for what, figure, ok in rows:
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        print(f"{what:58} {figure:48} {verdict}")


if __name__ == "__main__":
    sys.exit(main())
