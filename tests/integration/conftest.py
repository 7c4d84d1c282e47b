"""Fixtures for the engine against a real `sgsend serve` subprocess (disk and SeaweedFS S3)."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.model import TransferSnapshot, TransferState
from sgsend_desktop.core.retry import RetryPolicy
from tests.helpers.seaweed import SeaweedS3
from tests.helpers.servers import REPO_ROOT, ServerProc, running_server

MiB = 1024 * 1024
FAST_RETRY = RetryPolicy(max_attempts=10, base_delay=0.05, max_delay=0.5)


def make_file(path: Path, size: int, seed: int = 1) -> Path:
    """Pseudo-random content, quick to write: one random MiB block, each copy stamped with a counter."""
    block = random.Random(seed).randbytes(MiB)
    with open(path, "wb") as out:
        written, counter = 0, 0
        while written < size:
            chunk = counter.to_bytes(8, "big") + block[8:]
            piece = chunk[: min(MiB, size - written)]
            out.write(piece)
            written += len(piece)
            counter += 1
    return path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(MiB), b""):
            digest.update(chunk)
    return digest.hexdigest()


def test_stats(server: ServerProc) -> dict[str, Any]:
    result: dict[str, Any] = httpx.get(f"{server.url}/api/_test/stats", timeout=10).json()
    return result


test_stats.__test__ = False  # type: ignore[attr-defined]


def cli_env(data_dir: Path, server_url: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"SGSEND_DATA_DIR": str(data_dir), "PYTHONPATH": str(REPO_ROOT),
                "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", "PYTHONUNBUFFERED": "1"})
    env.pop("SGSEND_TOKEN", None)
    if server_url:
        env["SGSEND_SERVER"] = server_url
    else:
        env.pop("SGSEND_SERVER", None)
    return env


def run_cli(args: Sequence[str], data_dir: Path, server_url: str | None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sgsend_desktop", *args], capture_output=True, text=True,
                          env=cli_env(data_dir, server_url), timeout=timeout, cwd=str(REPO_ROOT))


def start_cli(args: Sequence[str], data_dir: Path, server_url: str | None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "sgsend_desktop", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli_env(data_dir, server_url),
                            cwd=str(REPO_ROOT))


def wait_for(condition: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def wait_state(engine: TransferEngine, local_id: str, states: Sequence[TransferState],
               timeout: float = 120) -> TransferSnapshot:
    wait_for(lambda: engine.snapshot(local_id).state in states, timeout,
             f"{local_id} to reach {[s.value for s in states]} (now {engine.snapshot(local_id)})")
    return engine.snapshot(local_id)


FINISHED = (TransferState.DONE, TransferState.FAILED, TransferState.CANCELLED)


@pytest.fixture(scope="module")
def disk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    with running_server(tmp_path_factory.mktemp("disk-server")) as server:
        yield server


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory, seaweedfs: SeaweedS3) -> Iterator[ServerProc]:
    with running_server(tmp_path_factory.mktemp("s3-server"), backend="s3", s3=seaweedfs) as server:
        yield server


@pytest.fixture(params=["disk", "s3"])
def any_server(request: pytest.FixtureRequest) -> ServerProc:
    name = "disk_server" if request.param == "disk" else "s3_server"
    server: ServerProc = request.getfixturevalue(name)
    return server


@pytest.fixture
def make_engine(tmp_path: Path) -> Iterator[Callable[..., TransferEngine]]:
    engines: list[TransferEngine] = []

    def factory(server_url: str, data_dir: Path | None = None, **kwargs: Any) -> TransferEngine:
        kwargs.setdefault("retry", FAST_RETRY)
        engine = TransferEngine(data_dir or tmp_path / "data", server_url, **kwargs)
        engine.start()
        engines.append(engine)
        return engine

    yield factory
    for engine in engines:
        engine.close()


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def hide_capabilities(monkeypatch: pytest.MonkeyPatch, **flags: bool) -> None:
    """Make the client see a server without some extensions (as upstream), e.g. events=False."""
    import dataclasses

    from sgsend_desktop.core.api import Capabilities, SendApi

    original = SendApi.capabilities

    def reduced(self: SendApi, refresh: bool = False) -> Capabilities:
        return dataclasses.replace(original(self, refresh), **flags)

    monkeypatch.setattr(SendApi, "capabilities", reduced)
