"""Shared pieces of the seeded fault tests: the seed, "one clear sentence", finish-or-resume, checks."""

from __future__ import annotations

import os
import random
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.model import TransferSnapshot, TransferState
from sgsend_desktop.core.retry import RetryPolicy
from tests.integration.conftest import FINISHED, wait_state

SEED_VARIABLE = "SGSEND_TEST_SEED"
# counted retries as in the integration tests; outages probed every 0.2 s doubling to 1 s (quick tests)
CHAOS_RETRY = RetryPolicy(max_attempts=10, base_delay=0.05, max_delay=0.5, reconnect_base_delay=0.2,
                          reconnect_max_delay=1.0)
_REPR = re.compile(r"\b\w+(Error|Exception)\(|object at 0x|Traceback|\[Errno|^\w+Error:")


def test_seed(name: str) -> int:
    """``SGSEND_TEST_SEED`` when set (to replay a failure), else a fresh random seed; printed either way
    (pytest shows it with the failure: `-s` shows it always)."""
    text = os.environ.get(SEED_VARIABLE)
    seed = int(text) if text else random.SystemRandom().randrange(1, 2**31)
    print(f"\n{name}: seed {seed} (replay with {SEED_VARIABLE}={seed})")
    return seed


test_seed.__test__ = False  # type: ignore[attr-defined]


def is_one_sentence(text: str | None) -> bool:
    """A clear message for a person: one line, bounded, no Python repr or traceback."""
    return bool(text) and "\n" not in (text or "") and len(text or "") < 400 and not _REPR.search(text or "")


def finish(engine: TransferEngine, local_id: str, seed: int, resumes: int = 4,
           timeout: float = 120) -> tuple[TransferSnapshot, list[str]]:
    """Wait for the transfer; each time it fails, check the error is one sentence and resume it.
    Returns the final snapshot and the errors seen on the way."""
    errors: list[str] = []
    for _ in range(resumes + 1):
        snap = wait_state(engine, local_id, FINISHED, timeout)
        if snap.state is not TransferState.FAILED:
            return snap, errors
        assert is_one_sentence(snap.error), f"seed {seed}: not one clear sentence: {snap.error!r}"
        errors.append(snap.error or "")
        engine.resume(local_id)
    raise AssertionError(f"seed {seed}: {local_id} still failing after {resumes} resumes: {errors}")


def journal_is_sound(path: Path) -> list[tuple[str, str]]:
    """The journal opens read-only, passes SQLite's integrity check, and lists its transfers (id, state)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as db:
        [[verdict]] = db.execute("PRAGMA integrity_check").fetchall()
        assert verdict == "ok", verdict
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "transfers" not in tables:  # killed while the journal was being created: the next run makes it
            return []
        return [(str(a), str(b)) for a, b in db.execute("SELECT id, state FROM transfers").fetchall()]


def leftovers(folder: Path, keep: Sequence[str]) -> list[str]:
    """Files in a download folder other than the expected ones (partial / plaintext temp files...)."""
    return sorted(p.name for p in folder.iterdir() if p.name not in keep) if folder.exists() else []
