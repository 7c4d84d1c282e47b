"""Server fixtures: one `sgsend serve` subprocess per backend per module (both backends for every test)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.helpers.seaweed import SeaweedS3
from tests.helpers.servers import ServerProc, running_server


@pytest.fixture(scope="module", params=["disk", "s3"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def server(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ServerProc]:
    store: SeaweedS3 | None = request.getfixturevalue("seaweedfs") if backend == "s3" else None
    with running_server(tmp_path_factory.mktemp(f"serve-{backend}"), backend=backend, s3=store) as proc:
        yield proc


@pytest.fixture
def client(server: ServerProc) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http
