"""Download tickets: proof that a client already holds a counted download grant for one transfer.

``download-url`` hands one out next to the URL; ``download-url/refresh`` trades it for a fresh URL
without counting another download. A ticket is stateless (any server process sharing the secret checks
it) and opaque to clients:

    body   = 0x01 | transfer id (6 bytes, the 12 hex digits) | issued_at (8 bytes, big-endian Unix s)
             | nonce (16 random bytes)                                               (31 bytes)
    mac    = HMAC-SHA256(ticket_key, b"sgsend-download-ticket|" + body)              (32 bytes)
    ticket = base64url(body) "." base64url(mac)      (no padding; 42 + 1 + 43 = 86 characters)

``ticket_key = HMAC-SHA256(server secret, b"sgsend download ticket key v1")``: a key of its own, derived
from the server secret (the disk backend's URL-signing secret, or the S3 bucket's shared ticket secret),
so that a ticket can never be confused with a URL signature or the other way round.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time

VERSION = 1
BODY_LENGTH = 1 + 6 + 8 + 16
MAC_LENGTH = 32
MAX_TICKET_CHARS = 128  # requests carrying anything longer are refused by validation
DEFAULT_MAX_AGE = 7 * 24 * 3600
_KEY_LABEL = b"sgsend download ticket key v1"
_MAC_LABEL = b"sgsend-download-ticket|"
_CLOCK_SKEW = 300  # seconds a ticket may claim to come from the future (processes on other hosts)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None


class TicketSigner:
    def __init__(self, secret: bytes, max_age: int = DEFAULT_MAX_AGE) -> None:
        self._key = hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()
        self.max_age = max_age

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, _MAC_LABEL + body, hashlib.sha256).digest()

    def issue(self, transfer_id: str, now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        body = bytes([VERSION]) + bytes.fromhex(transfer_id) + issued.to_bytes(8, "big")
        body += secrets.token_bytes(16)
        return f"{_b64encode(body)}.{_b64encode(self._mac(body))}"

    def verify(self, ticket: str, transfer_id: str, now: float | None = None) -> bool:
        """True only for an untampered ticket of this server, for ``transfer_id``, not older than max_age.

        Never raises on malformed input; the MAC is compared in constant time before anything else
        in the body is trusted."""
        if len(ticket) > MAX_TICKET_CHARS or ticket.count(".") != 1:
            return False
        body_text, mac_text = ticket.split(".")
        try:
            body, mac = _b64decode(body_text), _b64decode(mac_text)
        except ValueError:
            return False
        if len(body) != BODY_LENGTH or len(mac) != MAC_LENGTH:
            return False
        if not hmac.compare_digest(self._mac(body), mac):
            return False
        if body[0] != VERSION or body[1:7].hex() != transfer_id:
            return False
        issued = int.from_bytes(body[7:15], "big")
        current = time.time() if now is None else now
        return issued - _CLOCK_SKEW <= current <= issued + self.max_age
