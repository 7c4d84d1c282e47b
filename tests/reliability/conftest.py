"""Fixtures shared with the engine integration tests: a real `sgsend serve` process and engines."""

from tests.integration.conftest import disk_server, make_engine, s3_server  # noqa: F401
