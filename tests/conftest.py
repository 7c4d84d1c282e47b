"""Root test configuration: everything runs offscreen and on loopback."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never touch the real user's keyring or data dir from a test.
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")

from collections.abc import Iterator

import pytest

from tests.helpers.seaweed import SeaweedS3
from tests.helpers.servers import seaweedfs as _seaweedfs


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """A real SeaweedFS S3 server on loopback, started once per test session (fails if `weed` is missing).

    Gives `.endpoint`, `.bucket`, `.access_key`, `.secret_key`, `.region`, `.client()`, `.server_args()`,
    `.server_env()` and `.new_bucket(name)`.
    """
    with _seaweedfs(tmp_path_factory) as store:
        yield store
