"""Issue 12: the client checks the access token before it sends, and says what the server's token words mean.

A send with an unknown, revoked or used-up token stops at once with one sentence (before a folder is zipped
or a file read), `TransferEngine.check_token()` gives the uses left to the front ends, `sgsend token-status`
prints them and `sgsend send` says them before sending. Against a real `sgsend serve --tokens FILE`."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from sgsend_desktop.core import config
from sgsend_desktop.core.api import TOKEN_SENTENCES, TOKEN_SERVICE_DOWN, TokenStatus, raise_for_status
from sgsend_desktop.core.engine import TransferEngine
from sgsend_desktop.core.errors import AccessTokenError, AuthError, TransientError
from sgsend_desktop.core.model import TransferState
from tests.helpers.servers import ServerProc, running_server
from tests.integration.conftest import FINISHED, make_file, run_cli, wait_state


class Tokens:
    def __init__(self, path: Path) -> None:
        tag = secrets.token_hex(4)
        names = ("two", "spent", "gone", "free")
        self.two, self.spent, self.revoked, self.free = (f"{n}-{tag}" for n in names)
        path.write_text(f"two {self.two} 2\nspent {self.spent} 1\ngone {self.revoked} revoked\n"
                        f"free {self.free} unlimited\n")


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProc, Tokens]]:
    base = tmp_path_factory.mktemp("token-server")
    tokens = Tokens(base / "tokens.txt")
    with running_server(base, extra_args=["--tokens", str(base / "tokens.txt")]) as server:
        spend = httpx.post(f"{server.url}/api/transfers/create", json={"file_size_bytes": 1},
                           headers={"x-sgraph-access-token": tokens.spent}, timeout=30).json()["transfer_id"]
        for step in ("upload", "complete"):
            assert httpx.post(f"{server.url}/api/transfers/{step}/{spend}", content=b"x" if step == "upload"
                              else None, headers={"x-sgraph-access-token": tokens.spent},
                              timeout=30).status_code == 200
        yield server, tokens


def test_engine_check_token_reports_uses_left(
        token_server: tuple[ServerProc, Tokens], make_engine: Callable[..., TransferEngine],
        tmp_path: Path) -> None:
    server, tokens = token_server
    assert make_engine(server.url, token=tokens.two).check_token() == TokenStatus(
        token_set=True, valid=True, status="active", remaining=2)
    free = make_engine(server.url, token=tokens.free, data_dir=tmp_path / "other").check_token()
    assert (free.valid, free.remaining, free.unlimited) == (True, None, True)
    assert free.message == "The access token is valid, with no usage limit."


@pytest.mark.parametrize(("which", "reason"), [("spent", "exhausted"), ("revoked", "revoked"),
                                               ("unknown", "invalid")])
def test_a_send_with_a_refused_token_stops_before_it_starts(
        token_server: tuple[ServerProc, Tokens], make_engine: Callable[..., TransferEngine], tmp_path: Path,
        which: str, reason: str) -> None:
    server, tokens = token_server
    token = {"spent": tokens.spent, "revoked": tokens.revoked, "unknown": "nobody-knows-me"}[which]
    engine = make_engine(server.url, token=token)
    status = engine.check_token()
    assert status.valid is False
    assert status.message == TOKEN_SENTENCES[reason]
    folder = tmp_path / "big folder"
    folder.mkdir()
    make_file(folder / "a.bin", 3 * 1024 * 1024)
    [local_id] = engine.send([folder])
    snap = wait_state(engine, local_id, FINISHED)
    assert snap.state is TransferState.FAILED
    assert snap.error == TOKEN_SENTENCES[reason]
    assert snap.transfer_id is None  # nothing was created on the server
    assert not list(config.temp_dir(tmp_path / "data").glob("*.zip"))  # and the folder was never zipped


def test_sgsend_token_status_and_send_say_the_uses_left(
        token_server: tuple[ServerProc, Tokens], tmp_path: Path) -> None:
    server, tokens = token_server
    status = run_cli(["token-status", "--token", tokens.two], tmp_path / "cli", server.url)
    assert (status.returncode, status.stdout.strip()) == (0, "The access token is valid: 2 uses left.")
    files = [make_file(tmp_path / f"f{n}.bin", 1000, seed=n) for n in range(3)]
    sent = run_cli(["send", "--token", tokens.two, *map(str, files)], tmp_path / "cli", server.url)
    assert "sgsend: access token: 2 uses left" in sent.stderr
    assert "3 sends need 3 uses: the server will refuse the last 1" in sent.stderr
    assert sent.returncode == 1  # two links, then the third refused in upstream's words, as a sentence
    assert len(sent.stdout.split()) == 2
    assert TOKEN_SENTENCES["exhausted"] in sent.stderr
    refused = run_cli(["send", "--token", tokens.two, str(files[0])], tmp_path / "cli", server.url)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == f"sgsend: {TOKEN_SENTENCES['exhausted']}"
    assert "sending" not in refused.stderr  # stopped before anything was queued
    after = run_cli(["token-status", "--token", tokens.two], tmp_path / "cli", server.url)
    assert (after.returncode, after.stdout.strip()) == (1, TOKEN_SENTENCES["exhausted"])


# upstream's words, as sentences (raise_for_status) -----------------------------------------------------
@pytest.mark.parametrize(("detail", "reason"), [
    ("Access token required", "required"),
    ("Invalid access token", "invalid"),
    ("Access token exhausted", "exhausted"),
    ("Access token revoked", "revoked"),
    ("Access token expired", "expired"),
])
def test_upstream_401_words_become_sentences(detail: str, reason: str) -> None:
    response = httpx.Response(401, json={"detail": detail})
    with pytest.raises(AccessTokenError) as raised:
        raise_for_status(response, "Creating the transfer")
    assert raised.value.reason == reason
    assert str(raised.value) == TOKEN_SENTENCES[reason]
    assert isinstance(raised.value, AuthError)  # one hierarchy: still an AuthError


def answer(status: int, detail: str) -> httpx.Response:
    return httpx.Response(status, json={"detail": detail})


def test_other_401s_and_the_token_service_503() -> None:
    with pytest.raises(AccessTokenError, match=r"refused this access token \(suspended\)"):
        raise_for_status(answer(401, "Access token suspended"), "Creating")
    with pytest.raises(AuthError) as other:
        raise_for_status(answer(403, "Delete authorisation does not match"), "Deleting")
    assert not isinstance(other.value, AccessTokenError)
    with pytest.raises(TransientError) as down:
        raise_for_status(answer(503, "Token validation service unavailable"), "Creating")
    assert str(down.value) == TOKEN_SERVICE_DOWN
