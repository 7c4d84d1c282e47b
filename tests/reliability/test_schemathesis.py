"""Issue 9: schemathesis against the server's own OpenAPI schema, on a real `sgsend serve` (disk) on
127.0.0.1, for about 60 s: no 5xx answer, no traceback in the server's output.

The server is seeded first with real resources (a completed transfer, a pending one, a multipart upload
with a part in, a deleted one, a download ticket, signed storage URLs) that `schemathesis_hooks.py` mixes
into the generated requests, so they reach past the id checks. Event streams are left out (they never
end: schemathesis would wait for a body; `test_server_event_streams.py` covers them). One worker: with two,
CPython 3.11's AST constructor is not thread-safe (schemathesis compiles code as it generates:
"SystemError: AST constructor recursion depth mismatch", python/cpython#106905), a failure of the tool."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.helpers.servers import REPO_ROOT, running_server
from tests.reliability.chaos import test_seed
from tests.reliability.server_helpers import DELETE_HASH, DELETE_HEADERS, assert_clean_log

FUZZ_SECONDS = 60
MiB = 1024 * 1024


def _known_resources(url: str) -> dict[str, list[object]]:
    known: dict[str, list[object]] = {"transfer_id": [], "upload_id": [], "download_ticket": [],
                                      "signed_queries": []}
    with httpx.Client(base_url=url, timeout=30) as client:
        def create(size: int) -> str:
            answer = client.post("/api/transfers/create", json={"file_size_bytes": size,
                                                                "delete_auth_hash": DELETE_HASH})
            assert answer.status_code == 200, answer.text
            return str(answer.json()["transfer_id"])

        done = create(4096)
        uploaded = client.post(f"/api/transfers/upload/{done}", content=secrets.token_bytes(4096))
        assert uploaded.status_code == 200
        assert client.post(f"/api/transfers/complete/{done}").status_code == 200
        grant = client.get(f"/api/presigned/download-url/{done}").json()
        known["download_ticket"].append(grant["download_ticket"])
        known["signed_queries"].append(dict(parse_qsl(urlsplit(grant["download_url"]).query)))
        pending = create(1000)
        multipart = create(12 * MiB)
        started = client.post("/api/presigned/initiate", json={"transfer_id": multipart,
                                                               "file_size_bytes": 12 * MiB, "num_parts": 3})
        assert started.status_code == 200, started.text
        upload_id = started.json()["upload_id"]
        first = started.json()["part_urls"][0]["upload_url"]
        assert httpx.put(first, content=secrets.token_bytes(5 * MiB)).status_code == 200
        known["signed_queries"] += [dict(parse_qsl(urlsplit(p["upload_url"]).query))
                                    for p in started.json()["part_urls"]]
        deleted = create(100)
        assert client.post(f"/api/transfers/upload/{deleted}", content=b"x" * 100).status_code == 200
        assert client.delete(f"/api/transfers/delete/{deleted}", headers=DELETE_HEADERS).status_code == 200
        known["transfer_id"] += [done, pending, multipart, deleted]
        known["upload_id"].append(upload_id)
    return known


@pytest.mark.slow
def test_schemathesis_finds_no_server_error(tmp_path: Path) -> None:
    tool = Path(sys.executable).parent / "schemathesis"
    assert tool.exists(), "schemathesis is missing: install the test extra (pip install -e '.[test]')"
    seed = test_seed("schemathesis")
    with running_server(tmp_path, env={"SGSEND_TEST_HOOKS": "0"}) as server:
        known = _known_resources(server.url)
        env = dict(os.environ, SCHEMATHESIS_HOOKS="tests.reliability.schemathesis_hooks",
                   SGSEND_FUZZ_KNOWN=json.dumps(known),
                   PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        command = [str(tool), "run", f"{server.url}/openapi.json",
                   "--checks", "not_a_server_error", "--max-time", str(FUZZ_SECONDS), "--seed", str(seed),
                   "--workers", "1", "--request-timeout", "20", "--exclude-path-regex", "/events/",
                   "--generation-database", "none", "--no-color", "--report", "junit",
                   "--report-dir", str(tmp_path / "report")]
        run = subprocess.run(command, capture_output=True, text=True, env=env, cwd=str(REPO_ROOT),
                             timeout=FUZZ_SECONDS + 120)
        summary = "\n".join(run.stdout.splitlines()[-40:])
        assert run.returncode == 0, f"seed {seed}:\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
        assert_clean_log(server)
        # the real ids reached the code behind the id checks: the completed transfer was downloaded
        info = httpx.get(f"{server.url}/api/transfers/info/{known['transfer_id'][0]}").json()
        assert info.get("download_count", 0) > 1, info
    cases = re.search(r"(\d+) generated", run.stdout)
    assert cases and int(cases.group(1)) > 200, summary
    print(f"{summary}\ndownload-url calls on the seeded completed transfer: {info.get('download_count')}")
