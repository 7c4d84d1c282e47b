"""Issue 12: named access tokens with usage limits (`sgsend serve --tokens FILE`), on disk and on S3.

`check-token` answers `{valid, status, remaining}` as upstream's admin token service does; each `complete`
uses one (once per transfer, even when retried); an exhausted, revoked or unknown token is refused with
upstream's 401 words; counts are durable (a restart keeps them; S3: every process on the bucket counts
against the same total, with compare-and-swap writes) and the file is re-read when it changes."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from sgsend_desktop.server.tokens import TokenFileError, parse_tokens
from tests.helpers.seaweed import SeaweedS3
from tests.helpers.servers import REPO_ROOT, ServerProc, running_server

TOKEN_HEADER = "x-sgraph-access-token"


class Tokens:
    """A token file with fresh tokens (S3 records are keyed by the token: no clash between runs)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        tag = secrets.token_hex(4)
        self.alice, self.ci, self.bob, self.race = (f"{n}-{tag}" for n in ("alice", "ci", "bob", "race"))
        self.write(alice_uses=2)

    def write(self, alice_uses: int) -> None:
        self.path.write_text(
            "# name token uses\n"
            f"alice {self.alice} {alice_uses}\n"
            f"ci    {self.ci}    unlimited   # a build machine\n"
            f"bob   {self.bob}   revoked\n"
            f"race  {self.race}  6\n"
        )


@contextmanager
def token_servers(tmp: Path, backend: str, store: SeaweedS3 | None, tokens: Tokens,
                  count: int = 1) -> Iterator[list[ServerProc]]:
    """``count`` servers on one store (disk: one data dir; S3: one bucket and prefix)."""
    extra = ["--tokens", str(tokens.path)]
    if backend == "s3":
        extra += ["--s3-prefix", f"tokens-{secrets.token_hex(4)}"]
    with ExitStack() as stack:
        yield [stack.enter_context(running_server(tmp, backend=backend, s3=store, extra_args=extra,
                                                  data_dir=tmp / "data"))
               for _ in range(count)]


@pytest.fixture
def store(backend: str, request: pytest.FixtureRequest) -> SeaweedS3 | None:
    return request.getfixturevalue("seaweedfs") if backend == "s3" else None


def check(server: ServerProc, token: str) -> dict[str, object]:
    response = httpx.get(f"{server.url}/api/transfers/check-token/{token}", timeout=30)
    assert response.status_code == 200, response.text
    return dict(response.json())


def create(server: ServerProc, token: str | None, size: int = 10) -> httpx.Response:
    headers = {TOKEN_HEADER: token} if token else {}
    return httpx.post(f"{server.url}/api/transfers/create", json={"file_size_bytes": size},
                      headers=headers, timeout=30)


def uploaded(server: ServerProc, token: str) -> str:
    """A transfer created and uploaded, not completed."""
    created = create(server, token)
    assert created.status_code == 200, created.text
    transfer_id = str(created.json()["transfer_id"])
    put = httpx.post(f"{server.url}/api/transfers/upload/{transfer_id}", content=b"p" * 10,
                     headers={TOKEN_HEADER: token}, timeout=30)
    assert put.status_code == 200, put.text
    return transfer_id


def complete(server: ServerProc, token: str, transfer_id: str) -> httpx.Response:
    return httpx.post(f"{server.url}/api/transfers/complete/{transfer_id}", headers={TOKEN_HEADER: token},
                      timeout=30)


def test_check_token_answers_like_upstreams_token_service(
        tmp_path: Path, backend: str, store: SeaweedS3 | None) -> None:
    tokens = Tokens(tmp_path / "tokens.txt")
    with token_servers(tmp_path, backend, store, tokens) as (server,):
        assert check(server, tokens.alice) == {"valid": True, "status": "active", "remaining": 2}
        assert check(server, tokens.ci) == {"valid": True, "status": "active", "remaining": -1}
        assert check(server, tokens.bob) == {"valid": False, "status": "revoked", "remaining": 0}
        assert check(server, "someone-else") == {"valid": False, "reason": "not_found"}


def test_each_complete_uses_one_and_an_exhausted_token_is_refused(
        tmp_path: Path, backend: str, store: SeaweedS3 | None) -> None:
    tokens = Tokens(tmp_path / "tokens.txt")
    with token_servers(tmp_path, backend, store, tokens) as (server,):
        first = uploaded(server, tokens.alice)
        assert complete(server, tokens.alice, first).status_code == 200
        assert check(server, tokens.alice) == {"valid": True, "status": "active", "remaining": 1}
        assert complete(server, tokens.alice, first).status_code == 200  # idempotent: not counted again
        assert check(server, tokens.alice)["remaining"] == 1
        # upstream's MCP form: the token as ?access_token= (no header), on upload and complete
        second = str(create(server, tokens.alice).json()["transfer_id"])
        url = f"{server.url}/api/transfers"
        assert httpx.post(f"{url}/upload/{second}", params={"access_token": tokens.alice},
                          content=b"q" * 10, timeout=30).status_code == 200
        assert httpx.post(f"{url}/complete/{second}", params={"access_token": tokens.alice},
                          timeout=30).status_code == 200
        assert check(server, tokens.alice) == {"valid": False, "status": "exhausted", "remaining": 0}
        refused = create(server, tokens.alice)
        assert (refused.status_code, refused.json()) == (401, {"detail": "Access token exhausted"})
        # the other refusals, in upstream's words
        assert create(server, tokens.bob).json() == {"detail": "Access token revoked"}
        assert create(server, "someone-else").json() == {"detail": "Invalid access token"}
        assert create(server, None).json() == {"detail": "Access token required"}
        # unlimited: never exhausted, nothing counted
        for _ in range(3):
            assert complete(server, tokens.ci, uploaded(server, tokens.ci)).status_code == 200
        assert check(server, tokens.ci)["remaining"] == -1


def test_a_transfer_in_flight_when_the_last_use_goes_cannot_complete(
        tmp_path: Path, backend: str, store: SeaweedS3 | None) -> None:
    tokens = Tokens(tmp_path / "tokens.txt")
    tokens.write(alice_uses=1)
    with token_servers(tmp_path, backend, store, tokens) as (server,):
        one, two = uploaded(server, tokens.alice), uploaded(server, tokens.alice)
        assert complete(server, tokens.alice, one).status_code == 200
        late = complete(server, tokens.alice, two)
        assert (late.status_code, late.json()) == (401, {"detail": "Access token exhausted"})
        info = httpx.get(f"{server.url}/api/transfers/info/{two}", timeout=30).json()
        assert info["status"] == "pending"  # nothing changed: more uses in the file let it complete


def test_concurrent_completes_never_exceed_the_limit(
        tmp_path: Path, backend: str, store: SeaweedS3 | None) -> None:
    """10 sends racing for 6 uses: exactly 6 complete. On S3 two processes share the bucket's count."""
    tokens = Tokens(tmp_path / "tokens.txt")
    with token_servers(tmp_path, backend, store, tokens, count=2 if backend == "s3" else 1) as servers:
        ids = [uploaded(servers[0], tokens.race) for _ in range(10)]
        with ThreadPoolExecutor(max_workers=10) as pool:
            answers = list(pool.map(lambda n: complete(servers[n % len(servers)], tokens.race, ids[n]),
                                    range(10)))
        codes = sorted(answer.status_code for answer in answers)
        assert codes == [200] * 6 + [401] * 4, [a.text for a in answers]
        for server in servers:
            assert check(server, tokens.race) == {"valid": False, "status": "exhausted", "remaining": 0}


def test_counts_survive_a_restart_and_an_edited_file_takes_effect(
        tmp_path: Path, backend: str, store: SeaweedS3 | None) -> None:
    tokens = Tokens(tmp_path / "tokens.txt")
    prefix = ["--s3-prefix", f"tokens-{secrets.token_hex(4)}"] if backend == "s3" else []
    extra = ["--tokens", str(tokens.path), *prefix]
    with running_server(tmp_path, backend=backend, s3=store, extra_args=extra) as server:
        for _ in range(2):
            assert complete(server, tokens.alice, uploaded(server, tokens.alice)).status_code == 200
        assert check(server, tokens.alice)["status"] == "exhausted"
    with running_server(tmp_path, backend=backend, s3=store, extra_args=extra) as server:
        assert check(server, tokens.alice) == {"valid": False, "status": "exhausted", "remaining": 0}
        tokens.write(alice_uses=5)  # the team owner gives alice more uses: no restart needed
        deadline = time.monotonic() + 10
        while check(server, tokens.alice)["status"] != "active":
            assert time.monotonic() < deadline, "the edited token file was not re-read"
            time.sleep(0.3)
        assert check(server, tokens.alice) == {"valid": True, "status": "active", "remaining": 3}
        assert complete(server, tokens.alice, uploaded(server, tokens.alice)).status_code == 200
        assert check(server, tokens.alice)["remaining"] == 2


# the token file itself ------------------------------------------------------------------------------------
def test_token_file_forms() -> None:
    lines = parse_tokens("a tok-a 3\nb tok-b\n\n# note\nc tok-c unlimited\nd tok-d 0\ne tok-e revoked\n")
    assert [(t.name, t.uses, t.revoked) for t in lines] == [
        ("a", 3, False), ("b", None, False), ("c", None, False), ("d", None, False), ("e", None, True)]
    as_json = parse_tokens('{"tokens": [{"name": "a", "token": "tok-a", "uses": 3},'
                           ' {"name": "b", "token": "tok-b", "uses": null, "revoked": true}]}')
    assert [(t.name, t.token, t.uses, t.revoked) for t in as_json] == [
        ("a", "tok-a", 3, False), ("b", "tok-b", None, True)]
    assert "tok-a" not in repr(as_json[0])  # a token never shows in a log line


@pytest.mark.parametrize(("text", "message"), [
    ("a tok 3 extra\n", "line 1: expected 'name token uses'"),
    ("a tok lots\n", "line 1: uses must be a number"),
    ("a tok 3\nb tok 4\n", "appears twice"),
    ("a/b tok 3\n", "a name is"),
    ('{"tokens": [{"name": "a"}]}', "token 1: a token is"),
    ('{"tokens": [', "not valid JSON"),
])
def test_a_bad_token_file_is_one_sentence(text: str, message: str) -> None:
    with pytest.raises(TokenFileError, match=message):
        parse_tokens(text)


def test_serve_refuses_a_bad_token_file_at_start(tmp_path: Path) -> None:
    bad = tmp_path / "tokens.txt"
    bad.write_text("alice alice-tok many\n")
    result = subprocess.run(
        [sys.executable, "-m", "sgsend_desktop", "serve", "--port", "0", "--data-dir", str(tmp_path / "d"),
         "--tokens", str(bad)],
        capture_output=True, text=True, timeout=60, cwd=str(REPO_ROOT))
    assert result.returncode == 1
    assert "line 1: uses must be a number" in result.stderr
    assert "Traceback" not in result.stderr
