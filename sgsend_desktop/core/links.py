"""Share links: one value type, every upstream form parsed, combined and link-only forms written.

Forms accepted (spec section 2), with any locale, with or without the trailing slash::

    https://HOST/en-gb/download/#TRANSFER_ID/KEY        combined (route: download|view|browse|gallery|v)
    https://HOST/en-gb/download/#TRANSFER_ID            link only (key given separately)
    https://HOST/en-gb/download/#word-word-NNNN         friendly token (key and id derive from it)
    https://HOST/en-gb/download/?id=TRANSFER_ID         no fragment: the key comes separately
    TRANSFER_ID/KEY   or   word-word-NNNN               pasted alone
    sgsend://open?url=<percent-encoded link>            handed over by the OS / the download page
    sgsend://HOST/en-gb/download/#TRANSFER_ID/KEY       the same with the scheme swapped (https)

In the fragment every ``"`` and ``'`` is dropped and everything from the first ``|`` (a path inside a
zip payload) is ignored, as upstream does.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from sgsend_desktop.core import crypto
from sgsend_desktop.core.errors import KeyFormatError, LinkError

DEFAULT_LOCALE = "en-gb"
ROUTES = ("download", "view", "browse", "gallery", "v")
_ID_RE = re.compile(r"^[0-9a-f]{12}$")
_LOCALE_RE = re.compile(r"^[a-z]{2}(-[a-z]{2})?$")


class NotAShareLinkError(LinkError):
    pass


class MissingKeyError(LinkError):
    pass


class BadTransferIdError(LinkError):
    pass


@dataclass(frozen=True)
class ShareLink:
    """A parsed share link. ``key`` is None when the key travels separately and was not given."""

    base_url: str | None          # "https://host[:port]"; None for a bare ID/KEY or token pasted alone
    transfer_id: str
    key: bytes | None = None
    token: str | None = None      # friendly token (word-word-NNNN); the key derives from it (slowly,
                                  # 600k PBKDF2 rounds: only in require_key(), never while parsing)
    locale: str = DEFAULT_LOCALE
    route: str = "download"

    @property
    def key_text(self) -> str | None:
        """What the user shares as "the key": the friendly token, else base64url."""
        if self.token:
            return self.token
        return crypto.encode_key(self.key) if self.key is not None else None

    def _prefix(self, route: str) -> str:
        base = self.base_url or ""
        return f"{base}/{self.locale}/{route}/#"

    def combined(self) -> str:
        """The link that carries its key (the web UI's default share)."""
        if self.token:
            return self._prefix(self.route) + self.token
        if self.key is None:
            raise MissingKeyError("this link has no key, so only the link-only form can be written")
        return self._prefix(self.route) + f"{self.transfer_id}/{crypto.encode_key(self.key)}"

    def link_only(self) -> str:
        """The link without its key: send the key through another channel."""
        return self._prefix("download") + self.transfer_id

    def with_key(self, key: bytes) -> ShareLink:
        return ShareLink(self.base_url, self.transfer_id, key, None, self.locale, self.route)

    @property
    def has_key(self) -> bool:
        return self.key is not None or self.token is not None

    def require_key(self) -> bytes:
        """The 32-byte key; derives it from a friendly token (slow: call it off the GUI thread)."""
        if self.key is not None:
            return self.key
        if self.token is not None:
            return _friendly_key_cached(self.token)
        if self.key is None:
            raise MissingKeyError(
                "This link has no key. Ask the sender for the key, or paste the full link."
            )
        return self.key


@functools.lru_cache(maxsize=32)
def _friendly_key_cached(token: str) -> bytes:
    return crypto.friendly_key(token)


def make_link(base_url: str, transfer_id: str, key: bytes, token: str | None = None,
              locale: str = DEFAULT_LOCALE, route: str = "download") -> ShareLink:
    if not _ID_RE.match(transfer_id):
        raise BadTransferIdError(f"transfer id must be 12 lowercase hex characters, got {transfer_id!r}")
    return ShareLink(base_url.rstrip("/"), transfer_id, key, token, locale, route)


def parse_link(text: str, key: str | None = None) -> ShareLink:
    """Parse what a user pasted or clicked; ``key`` is a separately given key or friendly token."""
    text = (text or "").strip().strip("<>").strip()
    if not text:
        raise NotAShareLinkError("the link is empty: paste a SGraph Send share link")
    link = _parse(text)
    if key is not None and key.strip():
        key_text = key.strip().strip("\"'")
        if crypto.is_friendly_token(key_text):
            link = ShareLink(link.base_url, link.transfer_id, None, key_text, link.locale, link.route)
        else:
            link = link.with_key(crypto.decode_key(key_text))
    return link


def _parse(text: str) -> ShareLink:
    lowered = text.lower()
    if lowered.startswith("sgsend:"):
        return _parse_app_scheme(text)
    if lowered.startswith(("http://", "https://")):
        return _parse_url(text)
    if "://" in text:
        raise NotAShareLinkError("not a SGraph Send link: only https:// and sgsend:// links are understood")
    if text.startswith("#"):
        text = text[1:]
    return _parse_fragment(text, base_url=None, locale=DEFAULT_LOCALE, route="download", bare=True)


def _parse_app_scheme(text: str) -> ShareLink:
    parts = urlsplit(text)
    if parts.netloc.lower() == "open":
        urls = parse_qs(parts.query).get("url")
        if not urls:
            raise NotAShareLinkError("this sgsend:// link names no url to open")
        inner = urls[0]
        if not inner.lower().startswith(("http://", "https://")):
            raise NotAShareLinkError("not a SGraph Send link: the sgsend:// link holds no web address")
        return _parse_url(inner)
    return _parse_url("https:" + text[len("sgsend:"):])


def _parse_url(text: str) -> ShareLink:
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises on a bad port
    except ValueError as error:
        raise NotAShareLinkError(f"not a SGraph Send link: {error}") from None
    if not parts.hostname:
        raise NotAShareLinkError("not a SGraph Send link: it names no host")
    base_url = f"{parts.scheme.lower()}://{parts.netloc}"
    segments = [unquote(s) for s in parts.path.split("/") if s]
    locale, route = DEFAULT_LOCALE, "download"
    if segments and segments[-1] in ROUTES:
        route = segments[-1]
        if len(segments) >= 2 and _LOCALE_RE.match(segments[-2]):
            locale = segments[-2]
        elif len(segments) >= 2 or not segments:
            raise NotAShareLinkError("not a SGraph Send link: the path should look like /en-gb/download/")
    elif segments:
        raise NotAShareLinkError(
            "not a SGraph Send link: the path should look like /en-gb/download/ followed by #id/key"
        )
    fragment = unquote(parts.fragment)
    if not fragment.strip("\"' "):
        ids = parse_qs(parts.query).get("id")
        if ids:
            return ShareLink(base_url, _check_id(ids[0]), None, None, locale, route)
        raise MissingKeyError("no transfer id or key in this link: the part after '#' is missing")
    return _parse_fragment(fragment, base_url, locale, route, bare=False)


def _parse_fragment(fragment: str, base_url: str | None, locale: str, route: str, bare: bool) -> ShareLink:
    cleaned = fragment.replace('"', "").replace("'", "").split("|", 1)[0].strip()
    if crypto.is_friendly_token(cleaned):
        return ShareLink(base_url, crypto.friendly_transfer_id(cleaned), None, cleaned, locale, route)
    transfer_id, slash, key_text = cleaned.partition("/")
    if bare and not slash:
        if _ID_RE.match(transfer_id):
            return ShareLink(None, transfer_id, None, None, locale, route)
        raise NotAShareLinkError(
            "not a SGraph Send link: paste a link like https://host/en-gb/download/#id/key, "
            "an id/key pair or a friendly key like apple-mango-5623"
        )
    transfer_id = _check_id(transfer_id)
    key_text = key_text.strip("/")
    if not key_text:
        return ShareLink(base_url, transfer_id, None, None, locale, route)
    try:
        key = crypto.decode_key(key_text)
    except KeyFormatError as error:
        raise KeyFormatError(f"the key in this link is damaged: {error}") from None
    return ShareLink(base_url, transfer_id, key, None, locale, route)


def _check_id(transfer_id: str) -> str:
    transfer_id = transfer_id.strip()
    if not _ID_RE.match(transfer_id):
        shown = transfer_id if len(transfer_id) <= 40 else transfer_id[:37] + "..."
        raise BadTransferIdError(f"transfer id must be 12 lowercase hex characters, got {shown!r}")
    return transfer_id
