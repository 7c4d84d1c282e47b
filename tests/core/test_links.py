"""Share links: every upstream form, clear errors, and property tests."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sgsend_desktop.core import crypto
from sgsend_desktop.core.errors import KeyFormatError, LinkError, SendError
from sgsend_desktop.core.links import (
    ROUTES,
    KeyMismatchError,
    MissingTransferIdError,
    ShareLink,
    VaultLinkError,
    make_link,
    not_found_message,
    parse_link,
)

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


# --- issue 12: every link form SGraph Send and its tools ever wrote (docs/interop.md, "Link forms") ------

STRONG = "acorn-agate-alder-amber-anvil-1234"


@pytest.mark.parametrize(
    ("text", "locale", "route", "has_key"),
    [
        (f"https://send.sgraph.ai/send/v0/v0.1/v0.1.8/download.html#{TID}/{KEY_TEXT}", "en-gb", "download",
         True),
        (f"https://send.sgraph.ai/send/v0/v0.1/v0.1.3/download.html#{TID}", "en-gb", "download", False),
        (f"https://send.sgraph.ai/send/v0/v0.1/v0.1.0/download.html?id={TID}", "en-gb", "download", False),
        (f"https://send.sgraph.ai/send/v0/v0.1/v0.1.0/download.html?id={TID}#{KEY_TEXT}", "en-gb", "download",
         True),
        (f"https://send.sgraph.ai/send/v0/v0.1/v0.1.3/download.html?token=community&id={TID}#{TID}/{KEY_TEXT}",
         "en-gb", "download", True),
        (f"https://send.sgraph.ai/en-gb/download/index.html#{TID}/{KEY_TEXT}", "en-gb", "download", True),
        (f"https://send.sgraph.ai/tlh/download/#{TID}/{KEY_TEXT}", "tlh", "download", True),
        (f"https://send.sgraph.ai/tlh/browse/index.html#{TID}/{KEY_TEXT}", "tlh", "browse", True),
        (f"https://send.sgraph.ai/#{TID}/{KEY_TEXT}", "en-gb", "download", True),
        (f"send.sgraph.ai/pt-br/download/#{TID}/{KEY_TEXT}", "pt-br", "download", True),
        (f"127.0.0.1:8080/en-gb/view/#{TID}/{KEY_TEXT}", "en-gb", "view", True),
        (f"https://send.sgraph.ai/en-gb/welcome/#{TID}/{KEY_TEXT}", "en-gb", "welcome", True),
        (f"https://send.sgraph.ai/de-ch/welcome#{TID}/{KEY_TEXT}", "de-ch", "welcome", True),
    ],
)
def test_every_link_form_upstream_wrote(text: str, locale: str, route: str, has_key: bool) -> None:
    link = parse_link(text)
    assert (link.transfer_id, link.locale, link.route) == (TID, locale, route)
    assert (link.key == KEY) if has_key else link.key is None


def test_welcome_links_are_a_kind_of_their_own() -> None:
    link = parse_link(f"https://send.sgraph.ai/fr-fr/welcome/#{TID}/{KEY_TEXT}")
    assert link.is_welcome and not parse_link(f"https://h/en-gb/download/#{TID}/{KEY_TEXT}").is_welcome
    assert parse_link(link.combined()) == link


@pytest.mark.parametrize(
    ("text", "token", "path"),
    [
        ("https://send.sgraph.ai/en-gb/browse/#apple-mango-5623|brief/_page.json", "apple-mango-5623",
         "brief/_page.json"),
        ("https://send.sgraph.ai/en-gb/browse/#apple-mango-5623|submission/my%20bio.md", "apple-mango-5623",
         "submission/my bio.md"),
        (f"https://send.sgraph.ai/en-gb/gallery/#{TID}/{KEY_TEXT}|__gallery__1d6b94eb/_manifest.json", None,
         "__gallery__1d6b94eb/_manifest.json"),
        (f"https://send.sgraph.ai/en-gb/gallery/#{TID}/{KEY_TEXT}|_gallery.1d6b94eb07927c1d/a.jpg", None,
         "_gallery.1d6b94eb07927c1d/a.jpg"),
        ("https://send.sgraph.ai/en-gb/browse/#apple-mango-5623|", "apple-mango-5623", None),
    ],
)
def test_deep_links_keep_their_path(text: str, token: str | None, path: str | None) -> None:
    link = parse_link(text)
    assert link.transfer_id == TID and link.token == token and link.path == path
    assert parse_link(link.combined()) == link


@pytest.mark.parametrize(
    "text",
    [
        "https://vault.sgraph.ai/en-gb/#apple-mango-5623",
        "https://dev.vault.sgraph.ai/en-gb/browse/#my passphrase:abcd1234",
        "https://send.sgraph.ai/en-gb/vault/#apple-mango-5623",
        "https://send.sgraph.ai/tlh/vault/",
        "https://send.sgraph.ai/send/v0/v0.1/v0.1.7/vault.html#x",
        "https://dev.send.sgraph.ai/en-gb/#apple-mango-5623",     # sgit's vault link on another host
        "https://dev.send.sgraph.ai/en-gb/#secret words:a1b2c3d4",
        "my secret words:a1b2c3d4",
        "apple-mango-5623:4abd0a491ed3",                        # sgit's full form of a simple-token vault key
    ],
)
def test_vault_links_and_keys_say_they_are_vaults(text: str) -> None:
    with pytest.raises(VaultLinkError, match="vault"):
        parse_link(text)


def test_a_vault_key_given_as_the_key_is_refused_too() -> None:
    with pytest.raises(VaultLinkError):
        parse_link(f"https://h/en-gb/download/#{TID}", key="correct horse:battery1")
    assert parse_link(f"https://send.sgraph.ai/en-gb/download/#{TID}/{KEY_TEXT}|x:y").path == "x:y"


def test_a_server_address_is_not_mistaken_for_a_vault_key() -> None:
    with pytest.raises(LinkError, match="server address"):
        parse_link("localhost:8080")


def test_a_404_for_a_friendly_key_mentions_vaults() -> None:
    assert "sgit vault" in not_found_message(parse_link("apple-mango-5623"))
    assert "vault" not in not_found_message(parse_link(f"{TID}/{KEY_TEXT}"))


def test_a_friendly_key_given_with_another_links_id_is_refused() -> None:
    with pytest.raises(KeyMismatchError, match="another transfer"):
        parse_link("https://h/en-gb/download/#0123456789ab", key="apple-mango-5623")
    with pytest.raises(KeyMismatchError):
        parse_link("https://h/send/v0/v0.1/v0.1.0/download.html?id=0123456789ab#apple-mango-5623")


def test_strong_links_carry_their_id_and_parse_without_a_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_kdf(token: str) -> bytes:
        raise AssertionError("parsing ran the KDF")

    monkeypatch.setattr(crypto, "_strong_material", no_kdf)
    link = parse_link(f"https://h/en-gb/download/#{TID}/{STRONG}")
    assert (link.transfer_id, link.token, link.key, link.is_strong) == (TID, STRONG, None, True)
    assert link.combined() == f"https://h/en-gb/download/#{TID}/{STRONG}"
    assert parse_link(link.link_only(), key=STRONG) == link
    with pytest.raises(MissingTransferIdError, match="whole link"):
        parse_link(STRONG)


def test_strong_key_checks_the_link_id_when_derived() -> None:
    real_id = crypto.friendly_transfer_id(STRONG)
    good = parse_link(f"https://h/en-gb/download/#{real_id}/{STRONG}")
    assert good.require_key() == crypto.friendly_key(STRONG)
    with pytest.raises(KeyMismatchError, match="does not belong"):
        parse_link(f"https://h/en-gb/download/#{TID}/{STRONG}").require_key()


def test_upper_case_locales_and_unknown_pages_are_not_links() -> None:
    for text in (f"https://h/EN-GB/download/#{TID}/{KEY_TEXT}", f"https://h/abcd/download/#{TID}/{KEY_TEXT}",
                 f"https://h/foo/download.html#{TID}/{KEY_TEXT}", f"https://h/en-gb/pricing/#{TID}/{KEY_TEXT}"):
        with pytest.raises(LinkError, match="not a SGraph Send link"):
            parse_link(text)


def test_friendly_tokens_use_ascii_digits_and_no_trailing_newline() -> None:
    assert not crypto.is_friendly_token("apple-mango-١٢٣٤")
    assert not crypto.is_friendly_token("apple-mango-5623\n")
    with pytest.raises(LinkError):
        parse_link("https://h/en-gb/download/#apple-mango-١٢٣٤")


all_locales = st.sampled_from(["en-gb", "en", "pt-br", "de", "tlh", "es-mx"])
paths = st.one_of(st.none(), st.text(alphabet=st.characters(blacklist_characters="\"'",
                                                            blacklist_categories=("Cs",)),
                                     min_size=1, max_size=40)
                  .map(lambda p: p.strip().lstrip("/")).filter(bool))
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8)


@settings(max_examples=300, deadline=None)
@given(base=hosts, tid=ids, key=st.binary(min_size=32, max_size=32), locale=all_locales,
       route=st.sampled_from((*ROUTES, "welcome")), path=paths)
def test_parse_of_format_round_trips_with_paths(base: str, tid: str, key: bytes, locale: str, route: str,
                                                path: str | None) -> None:
    link = make_link(base, tid, key, locale=locale, route=route, path=path)
    assert parse_link(link.combined()) == link


@settings(max_examples=200, deadline=None)
@given(base=hosts, tid=ids, ws=st.lists(words, min_size=2, max_size=8), digits=st.integers(0, 9999),
       locale=all_locales, route=st.sampled_from(ROUTES), path=paths)
def test_friendly_and_strong_links_round_trip(base: str, tid: str, ws: list[str], digits: int, locale: str,
                                              route: str, path: str | None) -> None:
    if len(ws) == 3:
        ws = ws[:2]
    token = "-".join(ws) + f"-{digits:04d}"
    strong = len(ws) >= 4
    link = ShareLink(base, tid if strong else crypto.friendly_transfer_id(token), None, token, locale, route,
                     path)
    assert parse_link(link.combined()) == link
    assert link.is_strong is strong


link_pieces = st.sampled_from([
    "https://", "http://", "sgsend://", "sgsend://open?url=", "send.sgraph.ai", "vault.sgraph.ai", "[::1]",
    ":8080", ":99999", "/", "en-gb", "tlh", "download", "download.html", "index.html", "welcome", "vault",
    "send/v0/v0.1/v0.1.3", "?id=", "&id=", "#", "|", ":", "%", "%7C", "%2F", "%ZZ", "'", '"', "\\", " ", "\n",
    TID, KEY_TEXT, KEY_TEXT[:-1], "apple-mango-5623", STRONG, "apple-mango", "x:abcd1234", "\x00", "١٢٣٤",
])


@settings(max_examples=1500, deadline=None)
@given(text=st.one_of(st.text(), st.lists(link_pieces, max_size=12).map("".join),
                      st.text(alphabet="htps:/#?=%&|'\"abcdef0123456789-_.gnwloadv[]@\\:;")),
       key=st.one_of(st.none(), st.text(max_size=50), st.sampled_from([KEY_TEXT, "apple-mango-5623", STRONG,
                                                                         "a:bcde", " "])))
def test_any_string_parses_or_raises_a_link_error(text: str, key: str | None) -> None:
    try:
        link = parse_link(text, key=key)
    except LinkError:
        return
    except SendError as error:  # pragma: no cover - the assertion below says which
        raise AssertionError(f"{type(error).__name__} is not a LinkError") from error
    assert isinstance(link, ShareLink) and len(link.transfer_id) == 12


def test_our_servers_pages_take_the_same_locales() -> None:
    from sgsend_desktop.server.routes_pages import LOCALE

    for locale in ("en", "en-gb", "tlh", "pt-br"):
        assert LOCALE.fullmatch(locale)
        assert parse_link(f"https://h/{locale}/download/#{TID}/{KEY_TEXT}").locale == locale
    for bad in ("e", "engb", "en-gbr", "EN"):
        assert not LOCALE.fullmatch(bad)


def test_a_links_repr_shows_no_secret() -> None:
    for link in (parse_link(f"{TID}/{KEY_TEXT}"), parse_link("apple-mango-5623")):
        assert KEY_TEXT not in repr(link) and "apple-mango" not in repr(link) and str(KEY) not in repr(link)
