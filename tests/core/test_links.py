"""Share links: every upstream form, clear errors, and property tests."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgsend_desktop.core import crypto
from sgsend_desktop.core.errors import KeyFormatError, LinkError
from sgsend_desktop.core.links import ROUTES, ShareLink, make_link, parse_link

KEY = bytes(range(32))
KEY_TEXT = crypto.encode_key(KEY)
TID = "4abd0a491ed3"


@pytest.mark.parametrize(
    "text",
    [
        f"https://send.sgraph.ai/en-gb/download/#{TID}/{KEY_TEXT}",
        f"https://send.sgraph.ai/en-gb/download#{TID}/{KEY_TEXT}",
        f"https://send.sgraph.ai/pt-br/view/#{TID}/{KEY_TEXT}",
        f"https://send.sgraph.ai/de/gallery/#{TID}/{KEY_TEXT}|photos/cat.jpg",
        f"  https://send.sgraph.ai/en-gb/browse/#'{TID}/{KEY_TEXT}'  ",
        f'https://send.sgraph.ai/en-gb/v/#"{TID}/{KEY_TEXT}"',
        f"{TID}/{KEY_TEXT}",
        f"#{TID}/{KEY_TEXT}",
        f"sgsend://open?url=https%3A%2F%2Fsend.sgraph.ai%2Fen-gb%2Fdownload%2F%23{TID}%2F{KEY_TEXT}",
        f"sgsend://send.sgraph.ai/en-gb/download/#{TID}/{KEY_TEXT}",
    ],
)
def test_combined_forms(text: str) -> None:
    link = parse_link(text)
    assert link.transfer_id == TID and link.key == KEY


def test_locale_and_route_are_kept() -> None:
    link = parse_link(f"http://127.0.0.1:8080/fr/gallery/#{TID}/{KEY_TEXT}")
    assert (link.base_url, link.locale, link.route) == ("http://127.0.0.1:8080", "fr", "gallery")
    assert link.combined() == f"http://127.0.0.1:8080/fr/gallery/#{TID}/{KEY_TEXT}"


def test_link_only_plus_separate_key() -> None:
    link = parse_link(f"https://send.sgraph.ai/en-gb/download/#{TID}")
    assert link.key is None and not link.has_key
    with pytest.raises(LinkError, match="no key"):
        link.require_key()
    assert parse_link(link.link_only(), key=KEY_TEXT).key == KEY


def test_query_id_form_needs_the_key_separately() -> None:
    link = parse_link(f"https://send.sgraph.ai/en-gb/download/?id={TID}", key=KEY_TEXT)
    assert (link.transfer_id, link.key) == (TID, KEY)


def test_friendly_token_links() -> None:
    for text in ("apple-mango-5623", "https://send.sgraph.ai/en-gb/download/#apple-mango-5623"):
        link = parse_link(text)
        assert link.transfer_id == "4abd0a491ed3" and link.token == "apple-mango-5623"
        assert crypto.encode_key(link.require_key()) == "5RrU12USo7kBvFH7BM8OJ4qOt-HGsXZbH3NwxIr3sy0"
        assert link.key_text == "apple-mango-5623"
    link = parse_link(f"https://h/en-gb/download/#{TID}", key="apple-mango-5623")
    assert link.token == "apple-mango-5623"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("hello world", "not a SGraph Send link"),
        ("ftp://host/en-gb/download/#x", "not a SGraph Send link"),
        ("https://send.sgraph.ai/en-gb/download/", "no transfer id or key"),
        ("https://send.sgraph.ai/en-gb/download/#ABCDEF012345/" + KEY_TEXT, "12 lowercase hex"),
        (f"https://send.sgraph.ai/en-gb/download/#{TID[:-1]}/{KEY_TEXT}", "12 lowercase hex"),
        (f"https://send.sgraph.ai/en-gb/download/#{TID}/short", "key in this link is damaged"),
        (f"https://send.sgraph.ai/some/other/page#{TID}/{KEY_TEXT}", "not a SGraph Send link"),
        ("sgsend://open?nothing=1", "no url"),
    ],
)
def test_bad_links_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(LinkError, match=message):
        parse_link(text)


def test_bad_separate_key() -> None:
    with pytest.raises(KeyFormatError):
        parse_link(f"https://h/en-gb/download/#{TID}", key="not-a-key")


ids = st.text(alphabet="0123456789abcdef", min_size=12, max_size=12)
hosts = st.sampled_from(["https://send.sgraph.ai", "http://127.0.0.1:8080", "https://x.example:8443"])
locales = st.sampled_from(["en-gb", "en", "pt-br", "de"])


@settings(max_examples=200, deadline=None)
@given(base=hosts, tid=ids, key=st.binary(min_size=32, max_size=32), locale=locales,
       route=st.sampled_from(ROUTES))
def test_parse_of_format_is_identity(base: str, tid: str, key: bytes, locale: str, route: str) -> None:
    link = make_link(base, tid, key, locale=locale, route=route)
    assert parse_link(link.combined()) == link
    assert parse_link(link.link_only(), key=crypto.encode_key(key)) == ShareLink(base, tid, key, None, locale,
                                                                               "download")


@settings(max_examples=60, deadline=None)
@given(base=hosts, word1=st.sampled_from(["apple", "zebra"]), word2=st.sampled_from(["mango", "kiwi"]),
       digits=st.integers(0, 9999))
def test_friendly_parse_of_format_is_identity(base: str, word1: str, word2: str, digits: int) -> None:
    token = f"{word1}-{word2}-{digits:04d}"
    link = parse_link(f"{base}/en-gb/download/#{token}")
    assert parse_link(link.combined()) == link


@settings(max_examples=1000, deadline=None)
@given(text=st.one_of(st.text(), st.text(alphabet="htps:/#?=%&|'\"abcdef0123456789-_.gnwloadv ")))
def test_random_strings_only_raise_link_errors(text: str) -> None:
    with contextlib.suppress(LinkError):
        parse_link(text)
