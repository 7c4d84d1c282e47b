"""Signed URLs for the disk backend's storage endpoints (its stand-in for S3 presigned URLs).

sig = hex HMAC-SHA256(secret, f"{METHOD}|{path}|{expires}") where path includes the query parameters
that select the object (``uploadId``, ``partNumber``) in a fixed order; ``expires`` is a Unix time.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

SECRET_FILE = "signing.key"


def load_or_create_secret(data_dir: Path) -> bytes:
    """The secret lives in the data dir (mode 0600) so that URLs survive a restart."""
    path = data_dir / SECRET_FILE
    try:
        with open(path, "rb") as handle:
            secret = handle.read()
        if len(secret) >= 32:
            return secret
    except FileNotFoundError:
        pass
    secret = secrets.token_bytes(32)
    data_dir.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
    os.replace(temp, path)
    return secret


class UrlSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @property
    def secret(self) -> bytes:
        return self._secret

    def signature(self, method: str, resource: str, expires: int) -> str:
        message = f"{method.upper()}|{resource}|{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def sign(self, method: str, resource: str, lifetime: int) -> tuple[int, str]:
        expires = int(time.time()) + lifetime
        return expires, self.signature(method, resource, expires)

    def verify(self, method: str, resource: str, expires: str | None, sig: str | None) -> bool:
        """Constant-time check; False for a missing, malformed, tampered or expired signature."""
        if not expires or not sig or not (expires.isascii() and expires.isdigit()) or len(expires) > 12:
            return False
        expected = self.signature(method, resource, int(expires))
        if not hmac.compare_digest(expected, sig):
            return False
        return int(expires) >= int(time.time())
