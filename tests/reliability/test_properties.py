"""Issue 9: property tests of what a stranger controls — the name inside a payload (`safe_filename`) and
the share link a user pastes (`parse_link`; tests/core/test_links.py has the round trips of links we
write and "any string raises only LinkError": here, what it lacked)."""

from __future__ import annotations

import os
import struct
import unicodedata
from pathlib import Path
from urllib.parse import quote

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sgsend_desktop.core import crypto
from sgsend_desktop.core.errors import LinkError
from sgsend_desktop.core.filenames import CLASH_ROOM, NAME_MAX, safe_filename, split_suffix
from sgsend_desktop.core.links import parse_link
from tests.core.test_links import KEY_TEXT, STRONG, link_pieces

UNSAFE_CATEGORIES = ("Cc", "Cf", "Zl", "Zp", "Cs")
name_pieces = st.sampled_from([
    ".", "..", "/", "\\", " ", "\t", "\n", "\x00", "\x7f", "\u202e", "\u2066", "\u200b", "\u2028", "\u2029",
    "\ufeff", "\u00a0", "\u3000", "\u180e", "\U000e0001", "é", "e\u0301", "\u0345", "Å", "ﬁ", "日本", "😀",
    "a", "txt", ".tar.gz", ".pdf", "CON", "nul", "com1", ":", "*", "?", '"', "<", "|", "x" * 40, "é" * 90,
])
names = st.one_of(
    st.text(max_size=300),
    st.lists(name_pieces, max_size=30).map("".join),
    st.text(min_size=100, max_size=1200).map(lambda text: text + ".pdf"),
    st.tuples(st.text(max_size=600), st.text(max_size=60)).map(".".join),
)


def _problems(name: str) -> list[str]:
    found = []
    if not name:
        found.append("empty")
    if "/" in name or "\\" in name:
        found.append("a path separator")
    if name.startswith("."):
        found.append("a leading dot")
    if name in (".", ".."):
        found.append("a dot name")
    if any(unicodedata.category(c) in UNSAFE_CATEGORIES for c in name):
        found.append("a control, format or surrogate character")
    stem, suffix = split_suffix(name)
    if len(f"{stem} (10000){suffix}".encode()) > NAME_MAX or len(name.encode()) + CLASH_ROOM > NAME_MAX:
        found.append("no room for ' (N)' within 255 bytes")
    return found


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=names)
def test_a_saved_name_is_always_one_safe_component(name: str) -> None:
    saved = safe_filename(name, "fallback.bin")
    assert _problems(saved) == [], (name, saved)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=names)
@example(name="0\u00a0.")                                 # a no-break space left at the end by rstrip(". ")
@example(name="a" * 230 + "...." + "x" * 40)              # the cut exposes a new short suffix
def test_saving_a_saved_name_keeps_it(name: str) -> None:
    """Idempotent: a name we wrote is kept as is when it comes back (a file sent on, a second pass)."""
    saved = safe_filename(name, "fallback.bin")
    assert safe_filename(saved, "other.bin") == saved, (name, saved)


@settings(max_examples=500, deadline=None)
@given(name=st.lists(st.one_of(name_pieces, st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)),
                     min_size=1, max_size=12).map("".join))
@example(name="\ud800.txt")
def test_a_name_with_a_lone_surrogate_is_made_safe_too(name: str) -> None:
    """JSON lets a sender write "\\ud800" in SGMETA: json.loads gives a lone surrogate, which UTF-8 (and
    so every file system call) cannot encode."""
    saved = safe_filename(name, "fallback.bin")
    saved.encode("utf-8")
    assert _problems(saved) == [], (name, saved)


def test_a_payload_named_with_an_escaped_lone_surrogate_is_saved(tmp_path: Path) -> None:
    """End to end: the payload verifies, so the file must be saved (under a safe name), not lost to a
    UnicodeEncodeError that the engine shows as "Unexpected error: UnicodeEncodeError(...)"."""
    key, iv = crypto.generate_key(), os.urandom(crypto.IV_SIZE)
    metadata = b'{"filename":"\\ud800 report.txt"}'
    plaintext = b"SGMETA" + struct.pack(">I", len(metadata)) + metadata + b"the content"
    payload = tmp_path / "payload.enc"
    payload.write_bytes(iv + AESGCM(key).encrypt(iv, plaintext, None))
    saved = crypto.decrypt_file(payload, key, tmp_path / "out")
    assert saved.read_bytes() == b"the content" and saved.name.endswith(" report.txt")


# --- links --------------------------------------------------------------------------------------------

link_texts = st.one_of(
    st.lists(link_pieces, max_size=14).map("".join),
    st.text(alphabet="htps:/#?=%&|'\"abcdef0123456789-_.gnwloadv[]@\\:; ", max_size=80)
    .map(lambda tail: "https://h/en-gb/download/#" + tail),
)
separate_keys = st.one_of(st.none(), st.sampled_from([KEY_TEXT, "apple-mango-5623", STRONG]))
wrappers = st.sampled_from([("", ""), (" ", "\n"), ("\n\t", " "), ('"', '"'), ("'", "'"), ("<", ">")])


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=link_texts, key=separate_keys, wrap=wrappers)
def test_any_accepted_link_is_well_formed_and_writes_itself_back(text: str, key: str | None,
                                                                 wrap: tuple[str, str]) -> None:
    """Whatever parses: a 12-hex id, a 32-byte key or a friendly token (never both); its combined form
    (also wrapped in spaces, quotes or <>, or handed over as sgsend://open?url=) parses to the same link;
    its link-only form holds no key and, with the key given apart, names the same transfer and key."""
    try:
        link = parse_link(text, key=key)
    except LinkError:
        return
    assert len(link.transfer_id) == 12
    assert link.key is None or len(link.key) == 32
    assert link.token is None or crypto.is_friendly_token(link.token)
    assert link.key is None or link.token is None
    if not link.has_key or not link.base_url:  # (a bare id/key has no host to write a whole link with)
        return
    combined = link.combined()
    for variant in (combined, wrap[0] + combined + wrap[1], "sgsend://open?url=" + quote(combined, safe="")):
        assert parse_link(variant) == link, variant
    alone = link.link_only()
    assert (link.key_text or "?") not in alone
    apart = parse_link(alone, key=link.key_text)
    assert (apart.base_url, apart.transfer_id, apart.key, apart.token, apart.locale) == (
        link.base_url, link.transfer_id, link.key, link.token, link.locale)
