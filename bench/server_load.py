"""`sgsend serve --storage s3` under a team's load: one instance, then two on one bucket (issue 10).

Run:  .venv/bin/python bench/server_load.py [--clients 50] [--files 20] [--big-clients 4] [--big-mib 256]
      .venv/bin/python bench/server_load.py --quick        (10 clients x 5 files, 4 x 32 MiB: ~1 minute)
      .venv/bin/python bench/server_load.py --json figures.json

Starts a real SeaweedFS (`weed server -s3`, tests/helpers/seaweed.py) and real `sgsend serve --storage s3
--access-token ...` processes, everything on 127.0.0.1, then runs two phases on one bucket:

* phase A: one instance;
* phase B: two instances on the same bucket (fresh processes). Clients are split evenly across them as
  behind a load balancer: client ``i`` has instance ``i % 2`` as its home; half of the clients are *sticky*
  (every request to their home), the other half go *round-robin per request* (a non-sticky balancer), so
  their create / upload / complete / info / download of one transfer alternate between the two processes.
  The big clients send through one instance and receive through the other.

Each phase's load, all at once:

* ``--clients`` small clients (asyncio + httpx, in ``--client-procs`` processes), each with its own
  keep-alive connections. A client sends ``--files`` files of 2 KiB to 1 MiB (log-uniform, fixed seed),
  each encrypted with the project's own crypto (`core/crypto.py`: a fresh key, the SGMETA envelope, real
  AES-GCM ciphertext) through the direct API path: `create` → `upload` (raw body) → `complete`; then
  receives every one: `info`, then the payload — even files by the direct route
  (`GET /api/transfers/download/{id}`, streamed through the server), odd files as the desktop client
  does (`GET /api/presigned/download-url/{id}`, then the presigned GET straight from SeaweedFS) —,
  decrypts it, checks the tag and compares name and SHA-256 with what was sent. Clients are closed-loop
  with no think time: the next request leaves as soon as the previous answer is read (with
  ``--think-ms``, each client pauses a random time of that mean before each file: people, not a loop).
* ``--big-clients`` real desktop clients: `sgsend send FILE --workers 4` (encrypt, presigned multipart
  PUTs straight to S3, complete, events stream) then `sgsend get LINK` (download-url, ranged GETs,
  decrypt, verify, fsync), subprocesses with their own journal. Files are written to disk beforehand in
  8 MiB blocks (never held whole in memory) and compared by SHA-256 after the phase.

Measured: every small-client request's latency as the client sees it (request sent → whole answer read),
grouped by route template, with count, p50/p95/p99/max (ms) and errors (transport errors, HTTP >= 400,
wrong answers, failed decryption or comparison); API requests per second over the small clients' window
(first request to last answer); the big transfers' MB/s (payload bytes / wall time of each subprocess);
CPU seconds of each process group (servers, SeaweedFS, small clients, big clients); load average and
machine CPU use; and the small clients' event-loop lag (how late a 10 ms timer fires: latency added by the
client itself). Then the scaling from one instance to two (requests/s and p99).

Caveats, to state with the figures: everything shares the machine's cores — SeaweedFS, the servers, the
load generator and the big clients' encryption. On a 2-core machine the client processes and SeaweedFS
take a large share of the CPU, so a second server process adds no cores: what "two instances" shows here
is that the design scales out without errors and what one more process costs, not the throughput of two
machines. Latency is measured client-side and includes client-side queueing (see the loop lag).
Each phase uses its own `--s3-prefix` in the same bucket (a new process's first abandoned-upload sweep
runs 5 s after start; the load starts after it, on an empty prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import io
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MIB = 1024 * 1024
TOKEN = "bench-load-token-0123456789"
TOKEN_HEADER = "x-sgraph-access-token"
P99_LIMIT_MS = 200.0
S3_ROUTE = "GET {s3}/…/payload (presigned, not API)"
VERIFY = "receive: decrypt + compare"
ROUTE_ORDER = [
    "POST /api/transfers/create",
    "POST /api/transfers/upload/{id}",
    "POST /api/transfers/complete/{id}",
    "GET /api/transfers/info/{id}",
    "GET /api/transfers/download/{id}",
    "GET /api/presigned/download-url/{id}",
    S3_ROUTE,
]


# --- the load generator (runs in --client-procs worker processes) -----------------------------------


def file_sizes(seed: int, clients: int, files: int, low: int, high: int) -> list[list[int]]:
    """Per client, per file: log-uniform sizes in [low, high] bytes (the same for every phase)."""
    rng = random.Random(seed)
    return [[int(math.exp(rng.uniform(math.log(low), math.log(high)))) for _ in range(files)]
            for _ in range(clients)]


# route, instance, start (s), ms, status, error, then the server's Server-Timing: ms in the store, ms
# waiting for a worker thread, ms to the answer's headers
Sample = tuple[str, int, float, float, int, str, float, float, float]


class Worker:
    """Small clients in one process: each a closed loop of real requests, every one timed."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.urls: list[str] = spec["urls"]
        self.samples: list[Sample] = []
        self.lag: list[float] = []
        self.block = random.Random(spec["seed"]).randbytes(spec["max_bytes"] + 8192)
        self.t0 = 0.0

    def plain(self, client: int, index: int, size: int) -> bytes:
        """Distinct bytes for every file, cheaply: a header and a slice of one random block."""
        head = f"{client}:{index}:".encode()
        return (head + self.block[client * 7919 % 4096 + index:])[:size]

    async def request(self, http: Any, route: str, inst: int, method: str, url: str,
                      expect: int = 200, **options: Any) -> Any:
        started = time.perf_counter()
        status, error, response = 0, "", None
        try:
            response = await http.request(method, url, **options)
            status = response.status_code
            if status != expect:
                error = f"HTTP {status}: {response.text[:120]}"
        except Exception as exc:  # transport errors, timeouts: one error each
            error = f"{type(exc).__name__}: {exc}"[:160]
        elapsed = (time.perf_counter() - started) * 1000
        timing = server_timing(response)
        self.samples.append((route, inst, started - self.t0, elapsed, status, error, *timing))
        if error:
            raise LoadError(error)
        return response

    def fail(self, route: str, inst: int, why: str) -> None:
        self.samples.append((route, inst, time.perf_counter() - self.t0, 0.0, 0, why, 0.0, 0.0, 0.0))

    async def client(self, number: int, sizes: list[int]) -> None:
        import httpx

        from sgsend_desktop.core import crypto

        count = len(self.urls)
        home = number % count
        sticky = count == 1 or (number // count) % 2 == 0
        turn = [home]

        def pick() -> int:
            if sticky:
                return home
            turn[0] = (turn[0] + 1) % count
            return turn[0]

        think = float(self.spec.get("think_ms") or 0.0) / 1000
        pauses = random.Random(self.spec["seed"] * 1000 + number)

        async def pause() -> None:  # a person between two files (--think-ms)
            if think > 0:
                await asyncio.sleep(pauses.expovariate(1 / think))

        write_headers = {TOKEN_HEADER: self.spec["token"]}
        sent: list[tuple[str, bytes, str, str, int]] = []
        limits = httpx.Limits(max_connections=count + 2, max_keepalive_connections=count + 2)
        # verify=False: plain http on loopback; it also spares each client loading the CA bundle
        async with httpx.AsyncClient(timeout=120, limits=limits, verify=False) as http:
            for index, size in enumerate(sizes):
                await pause()
                data = self.plain(number, index, size)
                key = crypto.generate_key()
                name = f"client{number}-file{index}.bin"
                payload = b"".join(crypto.iter_encrypted_payload(key, io.BytesIO(data), name))
                try:
                    inst = pick()
                    answer = await self.request(
                        http, "POST /api/transfers/create", inst, "POST",
                        f"{self.urls[inst]}/api/transfers/create", headers=write_headers,
                        json={"file_size_bytes": len(payload),
                              "content_type_hint": "application/octet-stream"})
                    transfer_id = str(answer.json()["transfer_id"])
                    inst = pick()
                    await self.request(http, "POST /api/transfers/upload/{id}", inst, "POST",
                                       f"{self.urls[inst]}/api/transfers/upload/{transfer_id}",
                                       content=payload,
                                       headers={**write_headers, "content-type": "application/octet-stream"})
                    inst = pick()
                    await self.request(http, "POST /api/transfers/complete/{id}", inst, "POST",
                                       f"{self.urls[inst]}/api/transfers/complete/{transfer_id}",
                                       headers=write_headers)
                except LoadError:
                    continue
                sent.append((transfer_id, key, name, hashlib.sha256(data).hexdigest(), len(payload)))
            for index, (transfer_id, key, name, digest, size) in enumerate(sent):
                await pause()
                try:
                    inst = pick()
                    info = (await self.request(http, "GET /api/transfers/info/{id}", inst, "GET",
                                               f"{self.urls[inst]}/api/transfers/info/{transfer_id}")).json()
                    if info.get("status") != "completed" or info.get("file_size_bytes") != size:
                        self.fail("GET /api/transfers/info/{id}", inst, f"info says {info}"[:160])
                        continue
                    inst = pick()
                    if index % 2 == 0:
                        body = (await self.request(
                            http, "GET /api/transfers/download/{id}", inst, "GET",
                            f"{self.urls[inst]}/api/transfers/download/{transfer_id}")).content
                    else:
                        granted = (await self.request(
                            http, "GET /api/presigned/download-url/{id}", inst, "GET",
                            f"{self.urls[inst]}/api/presigned/download-url/{transfer_id}")).json()
                        url = granted["download_url"]
                        body = (await self.request(http, S3_ROUTE, -1, "GET", url)).content
                except LoadError:
                    continue
                try:
                    decryptor = crypto.PayloadDecryptor(key)
                    content = decryptor.feed(body) + decryptor.finish()
                    if decryptor.filename != name or hashlib.sha256(content).hexdigest() != digest:
                        self.fail(VERIFY, inst, "received file differs from the file sent")
                    else:
                        self.samples.append((VERIFY, inst, time.perf_counter() - self.t0, 0.0, 200, "",
                                             0.0, 0.0, 0.0))
                except Exception as exc:
                    self.fail(VERIFY, inst, f"{type(exc).__name__}: {exc}"[:160])

    async def watch_lag(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            due = loop.time() + 0.01
            await asyncio.sleep(0.01)
            self.lag.append((loop.time() - due) * 1000)

    async def run(self) -> None:
        stop = asyncio.Event()
        watcher = asyncio.create_task(self.watch_lag(stop))
        sizes = self.spec["sizes"]
        self.t0 = time.perf_counter()
        await asyncio.gather(*(self.client(n, sizes[n]) for n in self.spec["clients"]))
        stop.set()
        await watcher


class LoadError(Exception):
    pass


SERVER_TIMING = re.compile(r"(?:^|,)\s*(store|wait|app);dur=([0-9.]+)")


def server_timing(response: Any) -> tuple[float, float, float]:
    """The server's own count (its Server-Timing header, server/timing.py) of the milliseconds this
    request spent in the store, waiting for a worker thread, and in all until its answer's headers;
    zeros for an answer without one (the presigned GETs from S3)."""
    header = response.headers.get("server-timing", "") if response is not None else ""
    found = dict(SERVER_TIMING.findall(header))
    return float(found.get("store", 0)), float(found.get("wait", 0)), float(found.get("app", 0))


def worker_main(spec_path: Path, out_path: Path) -> int:
    spec = json.loads(spec_path.read_text())
    worker = Worker(spec)
    import httpx  # noqa: F401  (imported before "ready": start-up is not part of the load)

    import sgsend_desktop.core.crypto  # noqa: F401

    print("ready", flush=True)
    sys.stdin.readline()  # "go"
    started = time.time()
    asyncio.run(worker.run())
    out_path.write_text(json.dumps({"started": started, "samples": worker.samples, "lag": worker.lag}))
    return 0


# --- the orchestrator --------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """user + system CPU of a live process (and its waited-for children), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / ticks


def run_queue_wait(pid: int) -> float:
    """Seconds the threads of a live process have spent runnable but waiting for a CPU (schedstat)."""
    total = 0
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, IndexError, ValueError):
                total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def weed_pid() -> int | None:
    """The `weed server` process (a child of this process)."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            stat = (entry / "stat").read_text()
            comm = stat[stat.index("(") + 1: stat.rindex(")")]
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if comm == "weed" and ppid == me:
                return int(entry.name)
    return None


def make_big_file(path: Path, size: int, seed: int) -> str:
    """Write ``size`` bytes of distinct pseudo-random data in 8 MiB blocks; return its SHA-256."""
    rng = random.Random(seed)
    block = rng.randbytes(8 * MIB)
    digest = hashlib.sha256()
    with path.open("wb") as out:
        written, index = 0, 0
        while written < size:
            piece = (index.to_bytes(8, "big") + block[8:])[: size - written]
            out.write(piece)
            digest.update(piece)
            written += len(piece)
            index += 1
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(4 * MIB):
            digest.update(block)
    return digest.hexdigest()


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


@dataclass
class BigResult:
    number: int
    size: int
    send_inst: int
    get_inst: int
    send_s: float = 0.0
    get_s: float = 0.0
    cpu_s: float = 0.0
    ok: bool = False
    error: str = ""
    saved: str = ""
    until: float = 0.0  # time.time() when its send and get were over


@dataclass
class Phase:
    name: str
    instances: int
    wall_s: float = 0.0
    window_s: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)
    probe: list[tuple[float, float, float]] = field(default_factory=list)  # time.time(), PUT ms, GET ms
    big: list[BigResult] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)
    waits: dict[str, float] = field(default_factory=dict)  # run-queue wait (s): ready, but no free core
    machine_busy: float = 0.0
    load: list[float] = field(default_factory=list)
    server_log_lines: list[str] = field(default_factory=list)

    def routes(self) -> dict[str, dict[str, Any]]:
        by_route: dict[str, list[tuple[float, str, float]]] = defaultdict(list)
        for route, _inst, _t, ms, _status, error, store, _wait, _app in self.samples:
            by_route[route].append((ms, error, store))
        table: dict[str, dict[str, Any]] = {}
        for route in sorted(by_route, key=lambda r: ROUTE_ORDER.index(r) if r in ROUTE_ORDER else 99):
            rows = by_route[route]
            timed = sorted(ms for ms, _, _ in rows if ms > 0)
            beside_store = sorted(ms - store for ms, _, store in rows if ms > 0)
            errors = [e for _, e, _ in rows if e]
            table[route] = {"count": len(rows), "p50": percentile(timed, 0.50),
                            "p95": percentile(timed, 0.95), "p99": percentile(timed, 0.99),
                            "p99_less_store": percentile(beside_store, 0.99),
                            "max": timed[-1] if timed else float("nan"),
                            "errors": len(errors), "error_kinds": dict(Counter(e[:60] for e in errors))}
        return table

    def api_samples(self) -> list[Sample]:
        return [s for s in self.samples if s[0] not in (S3_ROUTE, VERIFY)]

    def api_rps(self) -> float:
        return len(self.api_samples()) / self.window_s if self.window_s else float("nan")

    def api_p99(self) -> float:
        return percentile(sorted(s[3] for s in self.api_samples()), 0.99)

    def per_instance(self) -> list[int]:
        counts = Counter(s[1] for s in self.api_samples())
        return [counts.get(i, 0) for i in range(self.instances)]


def spawn_workers(args: argparse.Namespace, urls: list[str], sizes: list[list[int]], work: Path,
                  tag: str) -> list[tuple[subprocess.Popen[str], Path, Path]]:
    procs = []
    count = max(1, min(args.client_procs, args.clients))
    for w in range(count):
        spec = {"urls": urls, "token": TOKEN, "seed": args.seed + w, "sizes": sizes,
                "clients": list(range(w, args.clients, count)), "max_bytes": args.max_kib * 1024,
                "think_ms": args.think_ms}
        spec_path = work / f"spec-{tag}-{w}.json"
        out_path = work / f"samples-{tag}-{w}.json"
        spec_path.write_text(json.dumps(spec))
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(spec_path), str(out_path)]
        proc = subprocess.Popen(niced(args, cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        procs.append((proc, spec_path, out_path))
    for proc, _, _ in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            raise SystemExit(f"load worker did not start: {line!r}")
    return procs


def niced(args: argparse.Namespace, cmd: list[str]) -> list[str]:
    """A load generator's command, at ``--clients-nice`` (clients elsewhere, as on a team's network)."""
    return ["nice", "-n", str(args.clients_nice), *cmd] if args.clients_nice else cmd


def client_env(work: Path, tag: str) -> dict[str, str]:
    env = dict(os.environ, SGSEND_DATA_DIR=str(work / f"client-{tag}"), PYTHONPATH=str(ROOT),
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
               PYTHONPYCACHEPREFIX=str(work / "pycache"))
    env.pop("SGSEND_SERVER", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[int, float, float, str, str]:
    """(exit code, wall seconds, CPU seconds, stdout, stderr) of ``cmd``."""
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    out.seek(0)
    err.seek(0)
    return (os.waitstatus_to_exitcode(status), seconds, usage.ru_utime + usage.ru_stime,
            out.read().decode(), err.read().decode())


def big_client(result: BigResult, source: Path, urls: list[str], work: Path, tag: str,
               workers: int, prefix: list[str], limit: str) -> None:
    try:
        big_transfer(result, source, urls, work, tag, workers, prefix, limit)
    finally:
        result.until = time.time()


def big_transfer(result: BigResult, source: Path, urls: list[str], work: Path, tag: str,
                 workers: int, prefix: list[str], limit: str) -> None:
    env = client_env(work, f"{tag}-big{result.number}")
    base = [*prefix, sys.executable, "-m", "sgsend_desktop"]
    limited = ["--limit", limit] if limit else []  # the app's own bandwidth limit: a user's real link
    code, seconds, cpu, out, err = run_measured(
        [*base, "send", str(source), "--server", urls[result.send_inst], "--token", TOKEN,
         "--workers", str(workers), *limited], env)
    result.send_s, result.cpu_s = seconds, cpu
    if code:
        result.error = f"send exit {code}: {err.strip()[-300:]}"
        return
    link = out.strip().splitlines()[-1]
    dest = work / f"out-{tag}-big{result.number}"
    code, seconds, cpu, out, err = run_measured(
        [*base, "get", link, "--server", urls[result.get_inst], "--token", TOKEN, "-o", str(dest),
         "--workers", str(workers), *limited], env)
    result.get_s, result.cpu_s = seconds, result.cpu_s + cpu
    if code:
        result.error = f"get exit {code}: {err.strip()[-300:]}"
        return
    result.saved = out.strip().splitlines()[-1]


def run_phase(args: argparse.Namespace, store: Any, phase: Phase, sizes: list[list[int]],
              big_sources: list[tuple[Path, str]], work: Path) -> None:
    from tests.helpers.servers import start_server

    tag = phase.name
    prefix = f"bench-{tag}-{int(time.time())}"
    servers = []
    up_since = time.monotonic()
    try:
        for i in range(phase.instances):
            servers.append(start_server(
                work / f"srv-{tag}-{i}", backend="s3", s3=store,
                extra_args=["--access-token", TOKEN, "--s3-prefix", prefix, "--log-level", "warning"],
                env={"SGSEND_TEST_HOOKS": "0", **dict(kv.split("=", 1) for kv in args.server_env)}))
        urls = [server.url for server in servers]
        print(f"phase {tag}: {phase.instances} instance(s) {' '.join(urls)}, prefix {prefix}", flush=True)
        workers = spawn_workers(args, urls, sizes, work, tag)
        time.sleep(max(0.0, up_since + 6.5 - time.monotonic()))  # past the first sweep (5 s after start)
        weed = weed_pid()
        watched: dict[str, list[int]] = {f"server {i}": [s.proc.pid] for i, s in enumerate(servers)}
        if weed:
            watched["SeaweedFS"] = [weed]
        cpu_before = {name: sum(cpu_seconds(p) for p in pids) for name, pids in watched.items()}
        wait_before = {name: sum(run_queue_wait(p) for p in pids) for name, pids in watched.items()}
        self_before = time.process_time()
        busy_before = machine_busy()
        load: list[float] = []
        stop_sampling = threading.Event()

        def sample_load() -> None:
            while not stop_sampling.wait(1.0):
                load.append(os.getloadavg()[0])

        sampler = threading.Thread(target=sample_load, daemon=True)
        sampler.start()
        prober = threading.Thread(target=probe_store, args=(store, prefix, phase.probe, stop_sampling),
                                  daemon=True)
        prober.start()
        spies = []
        if args.py_spy:  # profile each server while the load runs (collapsed stacks, for flame graphs)
            args.py_spy.mkdir(parents=True, exist_ok=True)
            for i, server in enumerate(servers):
                spies.append(subprocess.Popen(
                    [str(Path(sys.executable).with_name("py-spy")), "record", "--format", "raw",
                     "--rate", "200", "--pid", str(server.proc.pid),
                     "-o", str(args.py_spy / f"server-{tag}-{i}.txt")],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        bigs = [BigResult(k, path.stat().st_size, k % phase.instances, (k + 1) % phase.instances)
                for k, (path, _) in enumerate(big_sources)]
        threads = [threading.Thread(target=big_client, args=(b, big_sources[b.number][0], urls, work, tag,
                                                             args.big_workers, niced(args, []),
                                                             args.big_limit))
                   for b in bigs]
        started = time.perf_counter()
        for proc, _, _ in workers:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for thread in threads:
            thread.start()
        worker_cpu = 0.0
        window_end = 0.0
        starts: list[float] = []
        for proc, _, out_path in workers:
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            worker_cpu += usage.ru_utime + usage.ru_stime
            if proc.returncode:
                raise SystemExit(f"load worker failed with {proc.returncode}")
            result = json.loads(out_path.read_text())
            starts.append(result["started"])
            # sample times made absolute (time.time()): comparable with the big transfers and the probe
            phase.samples += [(s[0], s[1], result["started"] + s[2], *s[3:]) for s in result["samples"]]
            phase.lag += result["lag"]
        window_end = time.perf_counter()
        for thread in threads:
            thread.join()
        phase.wall_s = time.perf_counter() - started
        for spy in spies:
            spy.send_signal(2)  # SIGINT: py-spy writes its file
            spy.wait(timeout=30)
        stop_sampling.set()
        sampler.join()
        prober.join()
        # the small clients' window: from the first worker's start to the last answer
        phase.window_s = window_end - started
        busy_after = machine_busy()
        phase.machine_busy = ((busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1]))
        phase.cpu = {name: sum(cpu_seconds(p) for p in pids) - cpu_before[name]
                     for name, pids in watched.items()}
        phase.waits = {name: sum(run_queue_wait(p) for p in pids) - wait_before[name]
                       for name, pids in watched.items()}
        phase.cpu["small clients"] = worker_cpu
        phase.cpu["big clients (sgsend send + get)"] = sum(b.cpu_s for b in bigs)
        phase.cpu["this script"] = time.process_time() - self_before
        cores = os.cpu_count() or 1
        ours = sum(phase.cpu.values())
        other = phase.machine_busy * cores * phase.wall_s - ours
        phase.cpu["other processes on the machine"] = max(0.0, other)
        phase.load = load
        for b in bigs:  # verify after the clock stopped: hashing is not part of the load
            if not b.error:
                saved = Path(b.saved)
                digest = big_sources[b.number][1]
                b.ok = saved.exists() and sha256_file(saved) == digest
                if not b.ok:
                    b.error = "received file differs from the file sent"
                shutil.rmtree(saved.parent, ignore_errors=True)
        phase.big = bigs
    finally:
        for server in servers:
            server.stop()
    for i, server in enumerate(servers):
        phase.server_log_lines += [f"server {i}: {line.rstrip()}" for line in server.output if line.strip()]


PROBE_EVERY = 0.25  # seconds between two probes of the store


def probe_store(store: Any, prefix: str, found: list[tuple[float, float, float]],
                stop: threading.Event) -> None:
    """The store's own latency while the load runs: a 1 KiB PutObject and a GetObject of it (boto3, from
    this script) every PROBE_EVERY s — what every write route waits for, without the server around it."""
    client = store.client()
    body = os.urandom(1024)
    count = 0
    while not stop.wait(PROBE_EVERY):
        key = f"{prefix}/probe/{count % 50}"
        count += 1
        began = time.perf_counter()
        client.put_object(Bucket=store.bucket, Key=key, Body=body)
        put_ms = (time.perf_counter() - began) * 1000
        began = time.perf_counter()
        client.get_object(Bucket=store.bucket, Key=key)["Body"].read()
        found.append((time.time(), put_ms, (time.perf_counter() - began) * 1000))


WRITE_ROUTES = ("POST /api/transfers/create", "POST /api/transfers/upload/{id}",
                "POST /api/transfers/complete/{id}")


def split_by_big(phase: Phase) -> dict[str, dict[str, float]]:
    """p50/p99 of the API's write and read routes and of the store probe, while the big transfers ran
    and after them."""
    busy_until = max((b.until for b in phase.big), default=0.0)
    groups: dict[str, list[float]] = defaultdict(list)
    for route, _inst, at, ms, _status, error, store, wait, app in phase.api_samples():
        if ms > 0 and not error:
            when = "during" if at < busy_until else "after"
            kind = "writes" if route in WRITE_ROUTES else "reads"
            groups[f"{kind} {when}"].append(ms)
            groups[f"{kind} less store {when}"].append(ms - store)
            groups[f"{kind} outside the handler {when}"].append(ms - app)  # network, queues, the client
            groups[f"{kind} thread wait {when}"].append(wait)
            groups[f"{kind} handler less store {when}"].append(app - store - wait)
    for at, put_ms, get_ms in phase.probe:
        when = "during" if at < busy_until else "after"
        groups[f"store PUT {when}"].append(put_ms)
        groups[f"store GET {when}"].append(get_ms)
    return {name: {"count": len(values), "p50": percentile(sorted(values), .5),
                   "p99": percentile(sorted(values), .99)} for name, values in groups.items()}


def fmt(value: float) -> str:
    return "-" if value != value else f"{value:.1f}"


def report(args: argparse.Namespace, phases: list[Phase], wall: float,
           load_before: tuple[float, ...]) -> dict[str, Any]:
    arguments = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    figures: dict[str, Any] = {"args": arguments, "cores": os.cpu_count(), "load_before": load_before,
                               "phases": {}}
    all_ok = True
    own_ok = True  # the server's own share: each route's p99 less the time its requests spent in the store
    for phase in phases:
        table = phase.routes()
        print()
        print(f"== phase {phase.name}: {phase.instances} instance(s) of `sgsend serve --storage s3` on one "
              f"SeaweedFS bucket; {args.clients} clients x {args.files} files ({args.min_kib} KiB.."
              f"{args.max_kib} KiB) + {args.big_clients} x {args.big_mib} MiB; wall {phase.wall_s:.1f} s"
              + (f"; think {args.think_ms:.0f} ms" if args.think_ms else "")
              + (f"; clients at nice {args.clients_nice}" if args.clients_nice else "")
              + (f"; big clients limited to {args.big_limit}B/s each" if args.big_limit else ""))
        print(f"{'route':42} {'count':>6} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>7} {'errors':>6}  "
              f"{'p99<200ms':9} {'no error':8} {'p99 less store':>14}")
        for route, row in table.items():
            api = route not in (S3_ROUTE, VERIFY)
            p99_ok = row["p99"] < P99_LIMIT_MS
            timed = route != VERIFY
            verdict_p99 = ("PASS" if p99_ok else "FAIL") if api else ("" if not timed else "(n/a)")
            verdict_err = "PASS" if row["errors"] == 0 else "FAIL"
            if api:
                all_ok &= p99_ok
                own_ok &= row["p99_less_store"] < P99_LIMIT_MS
            all_ok &= row["errors"] == 0
            if timed:
                print(f"{route:42} {row['count']:6d} {fmt(row['p50']):>7} {fmt(row['p95']):>7} "
                      f"{fmt(row['p99']):>7} {fmt(row['max']):>7} {row['errors']:6d}  {verdict_p99:9} "
                      f"{verdict_err:8} {fmt(row['p99_less_store']) if api else '':>14}")
            else:
                print(f"{route:42} {row['count']:6d} {'':>7} {'':>7} {'':>7} {'':>7} {row['errors']:6d}  "
                      f"{'':9} {verdict_err:8}")
            for kind, count in row["error_kinds"].items():
                print(f"    {count} x {kind}")
        api_ms = sorted(s[3] for s in phase.api_samples())
        print(f"{'all API routes':42} {len(api_ms):6d} {fmt(percentile(api_ms, .5)):>7} "
              f"{fmt(percentile(api_ms, .95)):>7} {fmt(percentile(api_ms, .99)):>7} "
              f"{fmt(api_ms[-1] if api_ms else float('nan')):>7}")
        print(f"API requests/s: {phase.api_rps():.1f} over the small clients' {phase.window_s:.1f} s "
              f"(per instance: {', '.join(str(c) for c in phase.per_instance())} requests)")
        for b in phase.big:
            mb = b.size / 1e6
            state = "verified" if b.ok else f"ERROR {b.error}"
            all_ok &= b.ok
            print(f"big client {b.number}: send via instance {b.send_inst} "
                  f"{mb / b.send_s if b.send_s else 0:6.1f} MB/s ({b.send_s:.1f} s), "
                  f"get via instance {b.get_inst} "
                  f"{mb / b.get_s if b.get_s else 0:6.1f} MB/s ({b.get_s:.1f} s); {state}")
        lag = sorted(phase.lag)
        print(f"client event-loop lag (ms): p50 {fmt(percentile(lag, .5))} p99 {fmt(percentile(lag, .99))} "
              f"max {fmt(lag[-1] if lag else float('nan'))}")
        cpu = ", ".join(f"{name} {value:.1f}" for name, value in phase.cpu.items())
        load_mean = statistics.mean(phase.load) if phase.load else float("nan")
        print(f"CPU seconds: {cpu}; machine CPU busy {phase.machine_busy * 100:.0f} % of {os.cpu_count()} "
              f"cores; 1-min load average mean {load_mean:.2f}, "
              f"max {max(phase.load, default=float('nan')):.2f}")
        waits = ", ".join(f"{name} {value:.1f}" for name, value in phase.waits.items())
        print(f"waiting for a free core (run queue, s): {waits}")
        split = split_by_big(phase)
        if phase.big:
            print("while the big transfers ran / after them (p50 / p99 ms, count):")
            for what in ("writes", "writes less store", "writes outside the handler", "writes thread wait",
                         "writes handler less store", "reads", "reads less store", "store PUT",
                         "store GET"):
                cells = []
                for when in ("during", "after"):
                    row = split.get(f"{what} {when}")
                    cells.append(f"{fmt(row['p50'])} / {fmt(row['p99'])} ({row['count']})" if row else "-")
                label = {"writes": "API writes (create, upload, complete)",
                         "writes less store": "  less their store time (Server-Timing)",
                         "writes outside the handler": "    of it outside the handler (net, queues)",
                         "writes thread wait": "    of it waiting for a worker thread",
                         "writes handler less store": "    of it the handler's own work",
                         "reads": "API reads (info, download, download-url)",
                         "reads less store": "  less their store time (Server-Timing)",
                         "store PUT": "store probe: 1 KiB PutObject",
                         "store GET": "store probe: GetObject"}[what]
                print(f"    {label:42} {cells[0]:>26}   {cells[1]:>26}")
        if phase.server_log_lines:
            print(f"server log: {len(phase.server_log_lines)} line(s), e.g.:")
            for line in phase.server_log_lines[:8]:
                print(f"    {line[:160]}")
        figures["phases"][phase.name] = {
            "instances": phase.instances, "wall_s": phase.wall_s, "window_s": phase.window_s,
            "api_rps": phase.api_rps(), "api_p99_ms": phase.api_p99(), "per_instance": phase.per_instance(),
            "routes": table, "big": [asdict(b) for b in phase.big],
            "loop_lag_ms": {"p50": percentile(lag, .5), "p99": percentile(lag, .99)},
            "cpu_s": phase.cpu, "run_queue_wait_s": phase.waits, "machine_busy": phase.machine_busy,
            "load_avg": phase.load, "during_and_after_big": split,
            "server_log_lines": phase.server_log_lines[:50]}
    if len(phases) == 2:
        one, two = phases
        print()
        print(f"== scaling, {two.instances} instances / {one.instances}")
        print(f"{'':42} {'A':>9} {'B':>9} {'B/A':>6}")
        print(f"{'API requests/s':42} {one.api_rps():9.1f} {two.api_rps():9.1f} "
              f"{two.api_rps() / one.api_rps():6.2f}")
        print(f"{'p99 all API routes (ms)':42} {one.api_p99():9.1f} {two.api_p99():9.1f} "
              f"{two.api_p99() / one.api_p99():6.2f}")
        ta, tb = one.routes(), two.routes()
        for route in ta:
            if route in tb and route not in (VERIFY,):
                print(f"{'p99 ' + route:42} {ta[route]['p99']:9.1f} {tb[route]['p99']:9.1f} "
                      f"{tb[route]['p99'] / ta[route]['p99']:6.2f}")
        big_a = [b.size / b.send_s / 1e6 for b in one.big if b.send_s]
        big_b = [b.size / b.send_s / 1e6 for b in two.big if b.send_s]
        if big_a and big_b:
            print(f"{'big send MB/s (median)':42} {statistics.median(big_a):9.1f} "
                  f"{statistics.median(big_b):9.1f}")
        get_a = [b.size / b.get_s / 1e6 for b in one.big if b.get_s]
        get_b = [b.size / b.get_s / 1e6 for b in two.big if b.get_s]
        if get_a and get_b:
            print(f"{'big get MB/s (median)':42} {statistics.median(get_a):9.1f} "
                  f"{statistics.median(get_b):9.1f}")
        figures["scaling"] = {"rps_ratio": two.api_rps() / one.api_rps(),
                              "p99_ratio": two.api_p99() / one.api_p99()}
    print()
    print(f"overall: {'PASS' if all_ok else 'FAIL'} (no error anywhere, p99 < {P99_LIMIT_MS:.0f} ms on "
          f"every API route); {os.cpu_count()} cores shared by SeaweedFS, the servers and all clients; load "
          f"average before {load_before[0]:.2f}; total wall time {wall:.0f} s")
    print(f"the server's own share: {'PASS' if own_ok else 'FAIL'} (p99 < {P99_LIMIT_MS:.0f} ms on every API "
          f"route, less the time each request spent in the store by the server's Server-Timing)")
    figures["pass"] = all_ok
    figures["own_share_pass"] = own_ok
    figures["wall_s"] = wall
    return figures


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        return worker_main(Path(sys.argv[2]), Path(sys.argv[3]))
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50, help="small clients (default 50)")
    parser.add_argument("--files", type=int, default=20, help="files each small client sends and receives")
    parser.add_argument("--min-kib", type=int, default=2)
    parser.add_argument("--max-kib", type=int, default=1024)
    parser.add_argument("--big-clients", type=int, default=4)
    parser.add_argument("--big-mib", type=int, default=256)
    parser.add_argument("--big-workers", type=int, default=4, help="`sgsend send/get --workers`")
    parser.add_argument("--big-limit", default="", metavar="RATE",
                        help="`sgsend send/get --limit RATE` for each big client (e.g. 12.5M: a 100 Mbit/s "
                             "link); default: no limit, as fast as loopback and the shared cores allow")
    parser.add_argument("--client-procs", type=int, default=2, help="processes the small clients run in")
    parser.add_argument("--phases", default="1,2", help="instances per phase (default 1,2)")
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--think-ms", type=float, default=0.0,
                        help="mean pause of each small client before each file it sends or receives "
                             "(exponential; 0: closed loop, the next request as soon as an answer is read)")
    parser.add_argument("--clients-nice", type=int, default=0, metavar="N",
                        help="run the small and big clients at nice N: on a team's deployment they are other "
                             "machines, so the servers and SeaweedFS get the cores first (0: all equal)")
    parser.add_argument("--quick", action="store_true", help="10 clients x 5 files, 4 x 32 MiB")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                        help="an environment variable for the servers (repeatable)")
    parser.add_argument("--py-spy", type=Path, metavar="DIR",
                        help="profile every server with py-spy during the load (collapsed stacks in DIR)")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.files = min(args.clients, 10), min(args.files, 5)
        args.big_mib = min(args.big_mib, 32)
    from tests.helpers.seaweed import seaweedfs_server

    began = time.perf_counter()
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="sgsend-server-load-"))
    try:
        subprocess.run([sys.executable, "-c", "import sgsend_desktop.cli"], env=client_env(work, "compile"),
                       cwd=ROOT, check=True)
        sizes = file_sizes(args.seed, args.clients, args.files, args.min_kib * 1024, args.max_kib * 1024)
        big_sources = []
        for k in range(args.big_clients):
            path = work / f"big-{k}.bin"
            big_sources.append((path, make_big_file(path, args.big_mib * MIB, args.seed * 100 + k)))
        phases: list[Phase] = []
        with seaweedfs_server(work / "seaweed") as store:
            for count in [int(c) for c in args.phases.split(",") if c.strip()]:
                name = "AB"[len(phases)] if len(phases) < 2 else str(len(phases) + 1)
                phase = Phase(name=name, instances=count)
                run_phase(args, store, phase, sizes, big_sources, work)
                phases.append(phase)
        figures = report(args, phases, time.perf_counter() - began, load_before)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=1, default=str))
        return 0 if figures["pass"] else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
