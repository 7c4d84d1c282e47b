"""Issue 9: `kill -9` of the client at 20 seeded random points of a send and of a receive, each resumed by
`sgsend resume --all`: 20/20 byte-identical, and the journal usable after every kill (SQLite's integrity
check, the Journal opens, `sgsend list` lists the transfers).

Each round runs a `sgsend send` and a `sgsend get` at once, in one data dir (one journal, two processes),
both at 4 MiB/s through a recording proxy (`fault_proxy.py`, no faults) that counts the bytes each way.
Each process is killed at its own seeded point:

* ``bytes``: after a random number of payload bytes went through the proxy (mid-part, mid-range...);
* ``delay``: a random time after its transfer appeared in the journal (any phase: create, parts,
  complete, decryption, the rename...);
* ``early``: a random 0.05–1.5 s after the process started (start-up, journal creation); when the
  transfer was not journaled yet there is nothing to resume, and the command is simply run again.
"""

from __future__ import annotations

import random
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sgsend_desktop.cli import main as sgsend_main
from sgsend_desktop.core.engine import TransferEngine, share_link_for
from sgsend_desktop.core.journal import Journal
from sgsend_desktop.core.model import Direction, TransferState
from sgsend_desktop.core.secrets import SecretStore
from tests.helpers.servers import ServerProc
from tests.integration.conftest import MiB, make_file, run_cli, sha256, start_cli
from tests.reliability.chaos import CHAOS_RETRY, finish, journal_is_sound, leftovers, test_seed
from tests.reliability.fault_proxy import Exchange, FaultProxy

ROUNDS = 20
LIMIT = "4M"
MODES = ("bytes", "delay", "early")


class KillSwitch:
    """Kills a process once the proxy relayed ``threshold`` payload bytes in one direction."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: dict[str, tuple[int, subprocess.Popen[str]]] = {}
        self._moved = {"up": 0, "down": 0}

    def arm(self, direction: str, threshold: int, proc: subprocess.Popen[str]) -> None:
        with self._lock:
            self._moved[direction] = 0
            self._armed[direction] = (threshold, proc)

    def disarm(self) -> None:
        with self._lock:
            self._armed.clear()

    def on_body(self, exchange: Exchange, direction: str, count: int) -> None:
        if not exchange.path.startswith("/storage/"):
            return
        with self._lock:
            self._moved[direction] += count
            armed = self._armed.get(direction)
            if armed is not None and self._moved[direction] >= armed[0]:
                del self._armed[direction]
                if armed[1].poll() is None:
                    armed[1].kill()


def _rows(journal_file: Path) -> list[tuple[str, str, str]]:
    """(id, direction, state) of every transfer, read-only; [] while the journal does not exist yet."""
    if not journal_file.exists():
        return []
    try:
        with sqlite3.connect(f"file:{journal_file}?mode=ro", uri=True, timeout=5) as db:
            return [(str(a), str(b), str(c))
                    for a, b, c in db.execute("SELECT id, direction, state FROM transfers").fetchall()]
    except sqlite3.OperationalError:
        return []


def _kill_later(proc: subprocess.Popen[str], journal_file: Path, direction: str, delay: float,
                after_journaled: bool) -> threading.Thread:
    def run() -> None:
        if after_journaled:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None and not any(
                    d == direction for _, d, _ in _rows(journal_file)):
                time.sleep(0.02)
        time.sleep(delay)
        if proc.poll() is None:
            proc.kill()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def recording_proxy(disk_server: ServerProc) -> Iterator[tuple[FaultProxy, KillSwitch]]:
    switch = KillSwitch()
    with FaultProxy(disk_server.url, on_body=switch.on_body) as proxy:
        yield proxy, switch


def _sgsend_list(data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    """`sgsend list` (the CLI's own entry point, in this process: no 1 s interpreter start per round).
    (It reads what was printed before; the seed is printed again with the report at the end.)"""
    monkeypatch.setenv("SGSEND_DATA_DIR", str(data))
    capsys.readouterr()
    assert sgsend_main(["list"]) == 0
    return capsys.readouterr().out


@pytest.mark.slow
def test_kill9_at_20_random_points_of_a_send_and_a_receive_then_resume(
        recording_proxy: tuple[FaultProxy, KillSwitch], make_engine: Callable[..., TransferEngine],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    proxy, switch = recording_proxy
    seed = test_seed("kill -9 of sgsend send / get")
    rng = random.Random(seed)
    uploader = make_engine(proxy.url, data_dir=tmp_path / "uploader", retry=CHAOS_RETRY)
    offered = [make_file(tmp_path / "offered-large.bin", 11 * MiB + 7, seed=seed % 1009),
               make_file(tmp_path / "offered-small.txt", 3 * MiB + 1, seed=seed % 1013)]
    links = []
    for local_id in uploader.send(offered):
        snap, _ = finish(uploader, local_id, seed)
        assert snap.share_link
        links.append(snap.share_link)
    checker = make_engine(proxy.url, data_dir=tmp_path / "checker", retry=CHAOS_RETRY)

    report: list[str] = []
    for round_ in range(ROUNDS):
        data = tmp_path / f"round-{round_}"
        out = tmp_path / f"received-{round_}"
        journal_file = data / "journal.sqlite3"
        size = (rng.randint(100, 4000) * 1024 if rng.random() < 0.3
                else rng.randint(6, 14) * MiB + rng.randint(0, 99_999))
        source = make_file(tmp_path / f"sent-{round_}.bin", size, seed=seed % 997 + round_)
        wanted = offered[round_ % 2]
        modes = {"send": rng.choice(MODES), "receive": rng.choice(MODES)}
        fractions = {"send": rng.random(), "receive": rng.random()}
        send_args = ["send", str(source), "--limit", LIMIT]
        get_args = ["get", links[round_ % 2], "-o", str(out), "--limit", LIMIT]
        procs = {"send": start_cli(send_args, data, proxy.url),
                 "receive": start_cli(get_args, data, proxy.url)}
        payload = {"send": size, "receive": wanted.stat().st_size}
        points = {}
        for what, proc in procs.items():
            mode = modes[what]
            if mode == "bytes":
                points[what] = f"after {int(payload[what] * fractions[what])} bytes"
                switch.arm("up" if what == "send" else "down", int(payload[what] * fractions[what]), proc)
            else:
                delay = (0.05 + 1.45 * fractions[what]) if mode == "early" else 3.0 * fractions[what]
                points[what] = f"{mode} +{delay:.2f}s"
                _kill_later(proc, journal_file, what, delay, after_journaled=mode == "delay")
        codes, errors = {}, {}
        for what, proc in procs.items():
            try:
                proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise AssertionError(f"seed {seed} round {round_}: {what} hung") from None
            codes[what] = proc.returncode
            errors[what] = proc.communicate()[1][-1500:]
        switch.disarm()
        where = f"seed {seed} round {round_} ({points})"
        for what, code in codes.items():
            assert code in (0, -9), f"{where}: {what} exited {code}: {errors[what]}"

        # the journal after the kills: sound, opens, listed
        rows = _rows(journal_file)
        if journal_file.exists():
            assert len(journal_is_sound(journal_file)) == len(rows)
        journal = Journal(journal_file)
        assert {r.id for r in journal.all()} == {r for r, _, _ in rows}
        journal.close()
        listing = _sgsend_list(data, monkeypatch, capsys)
        assert all(local_id in listing for local_id, _, _ in rows), f"{where}: {listing}"

        resumed = run_cli(["resume", "--all"], data, proxy.url)
        assert resumed.returncode == 0, f"{where}: {resumed.stderr}"
        directions = {d for _, d, _ in _rows(journal_file)}
        rerun = [what for what in ("send", "receive") if what not in directions]
        for what in rerun:  # killed before its transfer was journaled: the user runs it again
            again = run_cli(send_args if what == "send" else get_args, data, proxy.url)
            assert again.returncode == 0, f"{where}: {again.stderr}"

        # 20/20: everything done, byte-identical, nothing left behind
        journal = Journal(journal_file)
        secrets = SecretStore(data)
        try:
            done = journal.all()
            assert sorted(r.direction.value for r in done) == ["receive", "send"], f"{where}: {done}"
            for row in done:
                assert row.state is TransferState.DONE, f"{where}: {row.id} {row.state} {row.error}"
                if row.direction is Direction.RECEIVE:
                    assert row.saved_path and Path(row.saved_path).name == wanted.name, f"{where}: {row}"
                    assert sha256(Path(row.saved_path)) == sha256(wanted), f"{where}: received bytes differ"
                else:
                    key_text = secrets.get(row.id)
                    assert key_text and row.transfer_id, f"{where}: the key of the send is lost"
                    link = share_link_for(row.server_url, row.transfer_id, key_text).combined()
                    check_id = checker.receive(link, dest_dir=tmp_path / f"check-{round_}")
                    fetched, _ = finish(checker, check_id, seed)
                    assert sha256(Path(fetched.saved_path or "")) == sha256(source), \
                        f"{where}: sent bytes differ"
        finally:
            journal.close()
        assert leftovers(out, [wanted.name]) == [], f"{where}: temp files left behind"
        after = {d: s for _, d, s in rows}
        report.append(f"round {round_}: send {size} B {points['send']} → rc {codes['send']} "
                      f"({after.get('send', 'not journaled')}), receive {points['receive']} → "
                      f"rc {codes['receive']} ({after.get('receive', 'not journaled')})"
                      + (f", re-run: {rerun}" if rerun else ""))
    print("\n".join([f"kill -9 of sgsend send / get: seed {seed}", *report]))
    killed = sum(line.count("rc -9") for line in report)
    print(f"{killed} of {2 * ROUNDS} processes were killed mid-way (the others had finished first)")
    assert killed >= ROUNDS, f"seed {seed}: too few kills landed mid-transfer: the test lost its point"
