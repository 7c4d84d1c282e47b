"""Fixtures that run a real `sgsend serve` as a subprocess on loopback (and a real SeaweedFS).

with running_server(tmp_path) as server:          # disk backend
    httpx.get(f"{server.url}/api/presigned/capabilities")

with running_server(tmp_path, backend="s3", s3=store) as server: ...
"""

from __future__ import annotations

import os
import queue
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers.seaweed import SeaweedS3, seaweedfs_server

READY_PREFIX = "Serving on "
START_TIMEOUT = 30.0
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class ServerProc:
    url: str
    proc: subprocess.Popen[str]
    data_dir: Path
    output: list[str] = field(default_factory=list)  # stdout/stderr lines after the ready line

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait; returns the exit code (SIGKILL only if it hangs)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        return int(self.proc.returncode)


def server_command(
    data_dir: Path, backend: str, extra_args: Sequence[str], s3: SeaweedS3 | None, bucket: str | None = None
) -> list[str]:
    args = [sys.executable, "-m", "sgsend_desktop", "serve", "--host", "127.0.0.1", "--port", "0"]
    if backend == "s3":
        if s3 is None:
            raise ValueError("backend='s3' needs s3=<SeaweedS3> (the seaweedfs fixture)")
        args += s3.server_args(bucket)
    else:
        args += ["--data-dir", str(data_dir)]
    return args + list(extra_args)


def start_server(
    data_dir: Path,
    backend: str = "disk",
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    s3: SeaweedS3 | None = None,
    nofile: int | None = None,
    bucket: str | None = None,
) -> ServerProc:
    """``nofile`` caps the server's open files (soft and hard), ``bucket`` overrides the store's bucket."""
    data_dir.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    full_env.setdefault("SGSEND_TEST_HOOKS", "1")
    full_env["PYTHONUNBUFFERED"] = "1"
    full_env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + full_env.get("PYTHONPATH", "")
    if s3 is not None:
        full_env.update(s3.server_env())
    full_env.update(env or {})

    def limit_files() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    proc = subprocess.Popen(
        server_command(data_dir, backend, extra_args, s3, bucket),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=full_env,
        cwd=str(REPO_ROOT),
        preexec_fn=limit_files if nofile is not None else None,  # only setrlimit, before exec
    )
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
            output.append(line)
        lines.put(None)

    threading.Thread(target=pump, name="sgsend-serve-output", daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT
    seen: list[str] = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        if line is None:
            break
        seen.append(line)
        if line.startswith(READY_PREFIX):
            output.clear()
            return ServerProc(
                url=line[len(READY_PREFIX) :].strip(), proc=proc, data_dir=data_dir, output=output
            )
    proc.kill()
    proc.wait(timeout=5)
    raise RuntimeError("sgsend serve did not print its ready line; output:\n" + "".join(seen[-40:]))


@contextmanager
def running_server(
    tmp_path: Path,
    backend: str = "disk",
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    s3: SeaweedS3 | None = None,
    data_dir: Path | None = None,
) -> Iterator[ServerProc]:
    """Start `python -m sgsend_desktop serve --port 0 ...` and always stop it."""
    server = start_server(data_dir or tmp_path / "server-data", backend, extra_args, env, s3)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def seaweedfs(tmp_path_factory: object) -> Iterator[SeaweedS3]:
    """A SeaweedFS S3 server for a whole test session (see the `seaweedfs` fixture in tests/conftest.py)."""
    base = tmp_path_factory.mktemp("seaweedfs")  # type: ignore[attr-defined]
    with seaweedfs_server(Path(base)) as store:
        yield store
