"""Welcome links: ``https://HOST/LOCALE/welcome/#TRANSFER_ID/KEY`` hands a new user their access token.

Upstream (``send-welcome.js``, UI v0.2.0 and v0.3.0; the landing page after a Stripe checkout) makes the
token an ordinary transfer: the access token string is the plaintext, encrypted like any file, optionally
inside an SGMETA envelope. The page downloads the payload with the direct ``download`` route, decrypts it,
strips the envelope, trims whitespace, asks ``check-token`` whether the token is valid (an unreachable
check is ignored), and stores it as the access token. ``fetch_welcome_token`` and ``check_access_token``
do the same for the desktop front ends; saving the token (keyring, settings) is theirs to do.
"""

from __future__ import annotations

import re

from sgsend_desktop.core import crypto
from sgsend_desktop.core.api import SendApi
from sgsend_desktop.core.errors import GoneError, IntegrityError, NotFoundError, SendError
from sgsend_desktop.core.links import ShareLink

MAX_TOKEN_PAYLOAD = 64 * 1024   # a token is a few dozen bytes; refuse to buffer more than this
_TOKEN_RE = re.compile(r"[\x21-\x7e]{1,512}")  # what an HTTP header value can carry as is


class WelcomeError(SendError):
    """A welcome link whose token cannot be fetched, decrypted or used."""


def fetch_welcome_token(api: SendApi, link: ShareLink) -> str:
    """Download and decrypt the access token a welcome link carries; return it (stripped).

    Network and a key derivation (for a friendly key): call it off the GUI thread. Each call counts as
    one download of the transfer, as the web page's does."""
    key = link.require_key()
    decryptor = crypto.PayloadDecryptor(key)
    plain = bytearray()
    try:
        with api.download(link.transfer_id) as response:
            for chunk in response.iter_bytes():
                if decryptor.bytes_in + len(chunk) > MAX_TOKEN_PAYLOAD + crypto.OVERHEAD:
                    raise WelcomeError("This welcome link holds a file, not an access token.")
                plain += decryptor.feed(chunk)
        plain += decryptor.finish()
    except (NotFoundError, GoneError):
        raise WelcomeError(
            "This welcome link's token is no longer on the server: it was already collected, it expired "
            "or it was deleted. Ask for a new one."
        ) from None
    except IntegrityError:
        raise WelcomeError("This welcome link's key does not open its token: the link is damaged.") from None
    try:
        token = plain.decode("utf-8").strip()
    except UnicodeDecodeError:
        token = ""
    if not _TOKEN_RE.fullmatch(token):
        raise WelcomeError("This welcome link does not hold an access token.")
    return token


def check_access_token(api: SendApi, token: str) -> bool | None:
    """Ask the server's ``check-token`` route (as the web UI's access gate does) whether ``token`` is
    valid: True or False, or None when the server cannot say (no such route, or unreachable).
    ``SendApi.check_token`` gives the whole answer (status, uses left)."""
    return api.check_token(token).valid if token else None
