"""Share links: one value type, every form SGraph Send and its tools ever wrote, clear errors.

Forms accepted (docs/interop.md has the full table, with the test of each), with or without the trailing
slash or a trailing ``index.html``::

    https://HOST/en-gb/download/#TRANSFER_ID/KEY        combined (route: download|view|browse|gallery|v)
    https://HOST/en-gb/download/#TRANSFER_ID            link only (key given separately)
    https://HOST/en-gb/download/#word-word-NNNN         friendly token (key and id derive from it)
    https://HOST/en-gb/browse/#TOKEN|folder/file.md     deep link to a file inside a zip (``path``)
    https://HOST/en-gb/download/#TRANSFER_ID/w-w-w-w-w-NNNN   strong friendly key (ours, app to app)
    https://HOST/tlh/download/#…                        any locale: 2 or 3 letters, optional -cc
    https://HOST/#…                                     no path (what ``sgit publish`` prints)
    https://HOST/en-gb/welcome/#TRANSFER_ID/KEY         welcome link: the transfer holds an access token
    https://HOST/send/v0/v0.1/v0.1.8/download.html#ID/KEY   UI v0.1.x (also ``download.html?id=ID``)
    https://HOST/en-gb/download/?id=TRANSFER_ID         no fragment: the key comes separately
    TRANSFER_ID/KEY   or   word-word-NNNN   or   host/en-gb/download/#…   pasted alone
    sgsend://open?url=<percent-encoded link>            handed over by the OS / the download page
    sgsend://HOST/en-gb/download/#TRANSFER_ID/KEY       the same with the scheme swapped (https)

Refused with a sentence that says why (``VaultLinkError``): vault links (``vault.sgraph.ai``,
``/LOCALE/vault/``, ``vault.html``, ``/LOCALE/#vault-key``) and vault keys ``passphrase:vault_id``. A vault
key of the simple-token form ``word-word-NNNN`` cannot be told from a friendly transfer key by its shape:
a 404 for one says so (``not_found_message``).

In the fragment every ``"`` and ``'`` is dropped and everything from the first ``|`` is the path of a file
inside a zip payload, as upstream does.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qs, quote, unquote, urlsplit

from sgsend_desktop.core import crypto
from sgsend_desktop.core.errors import KeyFormatError, LinkError

DEFAULT_LOCALE = "en-gb"
ROUTES = ("download", "view", "browse", "gallery", "v")  # the transfer delivery views
WELCOME_ROUTE = "welcome"
VAULT_ROUTES = ("vault", "vaults")
_ID_RE = re.compile(r"[0-9a-f]{12}")
_LOCALE_RE = re.compile(r"[a-z]{2,3}(-[a-z]{2})?")           # en, en-gb, tlh (upstream's Klingon pages)
_VERSION_SEGMENT_RE = re.compile(r"send|v[0-9]+(\.[0-9]+){0,2}")  # /send/v0/v0.1/v0.1.8/download.html
_VAULT_KEY_RE = re.compile(r"(?P<passphrase>[\x20-\x7e]+):(?P<vault_id>[a-z0-9]{4,24})")
_HOST_PORT_RE = re.compile(r"[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]")
_SCHEMELESS_RE = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+(:[0-9]{1,5})?/|"
                            r"(localhost|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?/")
_VAULT_HOST_RE = re.compile(r"(.+\.)?vault\.sgraph\.ai")
# the URL fragment's percent-encode set, plus '%' so that unquote() gives back exactly what was written
_PATH_SAFE = "!$&()*+,/:;=?@[]^_{|}~-.#\\"


class NotAShareLinkError(LinkError):
    pass


class MissingKeyError(LinkError):
    pass


class BadTransferIdError(LinkError):
    pass


class MissingTransferIdError(LinkError):
    """A strong friendly key alone: its transfer id needs the link (or a slow scrypt, never while parsing)."""


class VaultLinkError(LinkError):
    """A SGraph vault link or vault key: vaults are not transfers (open them with sgit or the vault app)."""


class KeyMismatchError(KeyFormatError):
    """A friendly key that names another transfer than the link it was given with."""


VAULT_MESSAGE = (
    "This is a SGraph vault link, not a file transfer: open it with sgit or the vault web app "
    "(vault.sgraph.ai)."
)
VAULT_KEY_MESSAGE = (
    "This looks like a SGraph vault key (passphrase:vault-id), not a file transfer: open it with sgit "
    "or the vault web app (vault.sgraph.ai)."
)


@dataclass(frozen=True)
class ShareLink:
    """A parsed share link. ``key`` is None when the key travels separately and was not given."""

    base_url: str | None          # "https://host[:port]"; None for a bare ID/KEY or token pasted alone
    transfer_id: str
    key: bytes | None = field(default=None, repr=False)   # (not in repr: a logged link shows no secret)
    token: str | None = field(default=None, repr=False)   # friendly token (word-word-NNNN, or our strong
                                  # form); the key derives from it slowly (PBKDF2 / scrypt): only in
                                  # require_key(), never while parsing
    locale: str = DEFAULT_LOCALE
    route: str = "download"       # a delivery view (ROUTES), or "welcome"
    path: str | None = None       # "|path" deep link: a file inside the zip payload (browse/gallery)

    @property
    def is_welcome(self) -> bool:
        """A welcome link: the transfer's plaintext is an access token to import (``core/welcome.py``)."""
        return self.route == WELCOME_ROUTE

    @property
    def is_strong(self) -> bool:
        return self.token is not None and crypto.is_strong_token(self.token)

    @property
    def key_text(self) -> str | None:
        """What the user shares as "the key": the friendly token, else base64url."""
        if self.token:
            return self.token
        return crypto.encode_key(self.key) if self.key is not None else None

    def _prefix(self, route: str) -> str:
        base = self.base_url or ""
        return f"{base}/{self.locale}/{route}/#"

    def _suffix(self) -> str:
        return "|" + quote(self.path, safe=_PATH_SAFE) if self.path else ""

    def combined(self) -> str:
        """The link that carries its key (the web UI's default share)."""
        if self.token and not self.is_strong:
            return self._prefix(self.route) + self.token + self._suffix()
        if self.token:  # strong: the id travels too, so that reading the link needs no scrypt
            return self._prefix(self.route) + f"{self.transfer_id}/{self.token}" + self._suffix()
        if self.key is None:
            raise MissingKeyError("this link has no key, so only the link-only form can be written")
        return self._prefix(self.route) + f"{self.transfer_id}/{crypto.encode_key(self.key)}" + self._suffix()

    def link_only(self) -> str:
        """The link without its key: send the key through another channel."""
        return self._prefix("download") + self.transfer_id

    def with_key(self, key: bytes) -> ShareLink:
        return replace(self, key=key, token=None)

    @property
    def has_key(self) -> bool:
        return self.key is not None or self.token is not None

    def require_key(self) -> bytes:
        """The 32-byte key; derives it from a friendly token (slow: call it off the GUI thread).

        A strong token is checked against the link's transfer id here (the check needs the scrypt):
        a mistyped word fails now, with a sentence, instead of as a 404 or a failed decryption."""
        if self.key is not None:
            return self.key
        if self.token is not None:
            key = _friendly_key_cached(self.token)
            if self.is_strong and crypto.friendly_transfer_id(self.token) != self.transfer_id:
                raise KeyMismatchError(
                    "This key does not belong to this link: check each word and the number."
                )
            return key
        raise MissingKeyError("This link has no key. Ask the sender for the key, or paste the full link.")


@functools.lru_cache(maxsize=32)
def _friendly_key_cached(token: str) -> bytes:
    return crypto.friendly_key(token)


def make_link(base_url: str, transfer_id: str, key: bytes, token: str | None = None,
              locale: str = DEFAULT_LOCALE, route: str = "download", path: str | None = None) -> ShareLink:
    if not _ID_RE.fullmatch(transfer_id):
        raise BadTransferIdError(f"transfer id must be 12 lowercase hex characters, got {transfer_id!r}")
    return ShareLink(base_url.rstrip("/"), transfer_id, key, token, locale, route, path or None)


def not_found_message(link: ShareLink) -> str:
    """What to tell the user when the server has no transfer under the link's id (404).

    An upstream-form friendly key has the shape of an sgit simple-token vault key (both are
    ``word-word-NNNN``): only the 404 tells them apart, so the sentence names both."""
    if link.token is not None and crypto.is_upstream_token(link.token):
        return (
            "No file transfer has this friendly key: it expired, was deleted or is mistyped. If it is an "
            "sgit vault key (vaults use the same word-word-NNNN form), open it with sgit instead."
        )
    return "No file transfer has this id: it expired, was deleted, or the link is incomplete."


def parse_link(text: str, key: str | None = None) -> ShareLink:
    """Parse what a user pasted or clicked; ``key`` is a separately given key or friendly token.

    Never slow (no key derivation) and never raises anything but ``LinkError``."""
    text = (text or "").strip().strip("<>").strip()
    if not text:
        raise NotAShareLinkError("the link is empty: paste a SGraph Send share link")
    link = _parse(text)
    if key is not None and key.strip():
        key_text = key.strip().strip("\"'").strip()
        if _VAULT_KEY_RE.fullmatch(key_text) and not crypto.is_friendly_token(key_text):
            raise VaultLinkError(VAULT_KEY_MESSAGE)
        if crypto.is_upstream_token(key_text):
            _check_token_id(key_text, link.transfer_id)
            link = replace(link, key=None, token=key_text)
        elif crypto.is_strong_token(key_text):
            link = replace(link, key=None, token=key_text)
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
    if _SCHEMELESS_RE.match(text):  # send.sgraph.ai/en-gb/download/#… pasted without its https://
        return _parse_url("https://" + text)
    if text.startswith("#"):
        text = text[1:]
    return _parse_fragment(text, base_url=None, locale=DEFAULT_LOCALE, route="download", bare=True)


def _parse_app_scheme(text: str) -> ShareLink:
    try:
        parts = urlsplit(text)
    except ValueError as error:
        raise NotAShareLinkError(f"not a SGraph Send link: {error}") from None
    if parts.netloc.lower() == "open":
        urls = parse_qs(parts.query).get("url")
        if not urls:
            raise NotAShareLinkError("this sgsend:// link names no url to open")
        inner = urls[0]
        if not inner.lower().startswith(("http://", "https://")):
            raise NotAShareLinkError("not a SGraph Send link: the sgsend:// link holds no web address")
        return _parse_url(inner)
    return _parse_url("https:" + text[len("sgsend:"):])


def _route_of(segments: list[str]) -> tuple[str, str] | None:
    """(locale, route) of a link's path; None for a bare ``/LOCALE/`` (the upload page)."""
    if segments and segments[-1].lower() == "index.html":
        segments = segments[:-1]
    if not segments:
        return DEFAULT_LOCALE, "download"
    last = segments[-1]
    if last == "vault.html" or last in VAULT_ROUTES:
        raise VaultLinkError(VAULT_MESSAGE)
    if last == "download.html":  # UI v0.1.x: /send/v0/v0.1/v0.1.N/download.html
        if all(_VERSION_SEGMENT_RE.fullmatch(s) for s in segments[:-1]):
            return DEFAULT_LOCALE, "download"
        raise NotAShareLinkError(
            "not a SGraph Send link: the path should look like /en-gb/download/ followed by #id/key"
        )
    if last in ROUTES or last == WELCOME_ROUTE:
        if len(segments) == 1:
            return DEFAULT_LOCALE, last
        if _LOCALE_RE.fullmatch(segments[-2]):
            return segments[-2], last
        raise NotAShareLinkError("not a SGraph Send link: the path should look like /en-gb/download/")
    if len(segments) == 1 and _LOCALE_RE.fullmatch(last):
        return None
    raise NotAShareLinkError(
        "not a SGraph Send link: the path should look like /en-gb/download/ followed by #id/key"
    )


def _parse_url(text: str) -> ShareLink:
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises on a bad port
    except ValueError as error:
        raise NotAShareLinkError(f"not a SGraph Send link: {error}") from None
    if not parts.hostname:
        raise NotAShareLinkError("not a SGraph Send link: it names no host")
    if _VAULT_HOST_RE.fullmatch(parts.hostname):
        raise VaultLinkError(VAULT_MESSAGE)
    base_url = f"{parts.scheme.lower()}://{parts.netloc}"
    segments = [unquote(s) for s in parts.path.split("/") if s]
    fragment = unquote(parts.fragment)
    located = _route_of(segments)
    if located is None:
        # /LOCALE/#… : the send UI never writes it; sgit prints vault links this way on other hosts
        main = _main_part(fragment)
        if _VAULT_KEY_RE.fullmatch(main) or crypto.is_upstream_token(main):
            raise VaultLinkError(VAULT_MESSAGE)
        located = (segments[0], "download")
    locale, route = located
    ids = parse_qs(parts.query).get("id")
    query_id = ids[0].strip() if ids else None
    if not fragment.strip("\"' "):
        if query_id is not None:
            return ShareLink(base_url, _check_id(query_id), None, None, locale, route)
        raise MissingKeyError("no transfer id or key in this link: the part after '#' is missing")
    return _parse_fragment(fragment, base_url, locale, route, bare=False, query_id=query_id)


def _main_part(fragment: str) -> str:
    return fragment.split("|", 1)[0].replace('"', "").replace("'", "").strip()


def _parse_fragment(fragment: str, base_url: str | None, locale: str, route: str, bare: bool,
                    query_id: str | None = None) -> ShareLink:
    main = _main_part(fragment)
    _, bar, path_text = fragment.partition("|")
    path = path_text.replace('"', "").replace("'", "").strip().lstrip("/") if bar else ""
    link = ShareLink(base_url, "", None, None, locale, route, path or None)
    if ":" in main and _VAULT_KEY_RE.fullmatch(main):
        passphrase, vault_id = main.rsplit(":", 1)
        if bare and vault_id.isdigit() and _HOST_PORT_RE.fullmatch(passphrase):
            raise NotAShareLinkError("not a SGraph Send link: this is a server address; paste a share link")
        raise VaultLinkError(VAULT_KEY_MESSAGE)
    if crypto.is_upstream_token(main):
        transfer_id = crypto.friendly_transfer_id(main)
        if query_id is not None:
            _check_token_id(main, _check_id(query_id))
        return replace(link, transfer_id=transfer_id, token=main)
    if crypto.is_strong_token(main):
        if query_id is None:
            raise MissingTransferIdError(
                "A long friendly key (five words) does not name its transfer by itself: paste the whole "
                "link it came with, or that link and this key."
            )
        return replace(link, transfer_id=_check_id(query_id), token=main)
    transfer_id, slash, key_text = main.partition("/")
    if not slash:
        if query_id is not None and transfer_id != query_id:  # download.html?id=ID#KEY
            return replace(link, transfer_id=_check_id(query_id), key=_link_key(transfer_id))
        if bare and not _ID_RE.fullmatch(transfer_id):
            raise NotAShareLinkError(
                "not a SGraph Send link: paste a link like https://host/en-gb/download/#id/key, "
                "an id/key pair or a friendly key like apple-mango-5623"
            )
    link = replace(link, transfer_id=_check_id(transfer_id))
    key_text = key_text.strip("/").strip()
    if not key_text:
        return link
    if crypto.is_upstream_token(key_text):
        _check_token_id(key_text, link.transfer_id)
        return replace(link, token=key_text)
    if crypto.is_strong_token(key_text):
        return replace(link, token=key_text)
    return replace(link, key=_link_key(key_text))


def _link_key(key_text: str) -> bytes:
    try:
        return crypto.decode_key(key_text)
    except KeyFormatError as error:
        raise KeyFormatError(f"the key in this link is damaged: {error}") from None


def _check_token_id(token: str, transfer_id: str) -> None:
    if crypto.friendly_transfer_id(token) != transfer_id:
        raise KeyMismatchError(
            f"The friendly key {token} belongs to another transfer than this link's ({transfer_id}): "
            "check the key, or paste the link it came with."
        )


def _check_id(transfer_id: str) -> str:
    transfer_id = transfer_id.strip()
    if not _ID_RE.fullmatch(transfer_id):
        shown = transfer_id if len(transfer_id) <= 40 else transfer_id[:37] + "..."
        raise BadTransferIdError(f"transfer id must be 12 lowercase hex characters, got {shown!r}")
    return transfer_id
