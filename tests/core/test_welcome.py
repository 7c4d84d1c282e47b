"""core/welcome.py: a welcome link's transfer holds an access token, fetched and decrypted as the web UI
does."""

from __future__ import annotations

import io
from collections.abc import Callable

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from sgsend_desktop.core import crypto
from sgsend_desktop.core.api import TOKEN_SENTENCES, SendApi, TokenStatus
from sgsend_desktop.core.envelope import EnvelopeReader
from sgsend_desktop.core.links import parse_link
from sgsend_desktop.core.welcome import WelcomeError, check_access_token, fetch_welcome_token

KEY = bytes(range(32))
TID = "0123456789ab"
LINK = f"https://send.sgraph.ai/en-gb/welcome/#{TID}/{crypto.encode_key(KEY)}"


def payload(plaintext: bytes, name: str | None = None, envelope: bool = True) -> bytes:
    if envelope:
        return b"".join(crypto.iter_encrypted_payload(KEY, io.BytesIO(plaintext), name))
    encryptor = Cipher(algorithms.AES(KEY), modes.GCM(b"\0" * 12)).encryptor()
    return b"\0" * 12 + encryptor.update(plaintext) + encryptor.finalize() + encryptor.tag


def api_serving(handler: Callable[[httpx.Request], httpx.Response]) -> SendApi:
    def as_sent(request: httpx.Request) -> httpx.Response:
        # a real transport hands over a stream, not an answer read already (the client reads it bounded)
        answer = handler(request)
        return httpx.Response(answer.status_code, headers=answer.headers,
                              stream=httpx.ByteStream(answer.content), request=request)

    api = SendApi("https://send.sgraph.ai", "the-configured-token")
    api._http = httpx.Client(transport=httpx.MockTransport(as_sent))
    return api


def serving(body: bytes, status: int = 200) -> SendApi:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/api/transfers/download/{TID}"
        return httpx.Response(status, content=body if status == 200 else b'{"detail":"Transfer not found"}')

    return api_serving(handler)


@pytest.mark.parametrize("body", [
    payload(b"team-token-42\n"),                                    # SGMETA envelope (current form)
    payload(b"team-token-42", "token.txt"),
    payload(b"  team-token-42  ", envelope=False),                  # raw plaintext, as upstream also reads
])
def test_the_token_comes_out_of_the_welcome_transfer(body: bytes) -> None:
    link = parse_link(LINK)
    assert link.is_welcome
    assert fetch_welcome_token(serving(body), link) == "team-token-42"


@pytest.mark.parametrize(("body", "status", "message"), [
    (b"", 404, "no longer on the server"),
    (b"", 410, "no longer on the server"),
    (payload(b"x" * 100_000), 200, "holds a file"),
    (payload(b"two words"), 200, "does not hold an access token"),
    (payload(b"\xff\xfe"), 200, "does not hold an access token"),
    (payload(b""), 200, "does not hold an access token"),
])
def test_what_is_not_a_token_says_so(body: bytes, status: int, message: str) -> None:
    with pytest.raises(WelcomeError, match=message):
        fetch_welcome_token(serving(body, status), parse_link(LINK))


def test_a_wrong_key_is_a_damaged_link() -> None:
    wrong = bytearray(payload(b"team-token-42"))
    wrong[-1] ^= 1
    with pytest.raises(WelcomeError, match="damaged"):
        fetch_welcome_token(serving(bytes(wrong)), parse_link(LINK))


@pytest.mark.parametrize(("answer", "expected"), [
    (httpx.Response(200, json={"valid": True, "status": "active"}), True),
    (httpx.Response(200, json={"valid": False, "reason": "not_found"}), False),
    (httpx.Response(404, json={"detail": "Not Found"}), None),
    (httpx.Response(500, text="oops"), None),
    (httpx.Response(200, text="not json"), None),
])
def test_check_access_token(answer: httpx.Response, expected: bool | None) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer

    assert check_access_token(api_serving(handler), "team token/42") is expected
    assert seen[0].url.raw_path == b"/api/transfers/check-token/team%20token%2F42"
    assert "x-sgraph-access-token" not in seen[0].headers


@pytest.mark.parametrize(("body", "expected", "message"), [
    ({"valid": True, "status": "active", "remaining": 12}, TokenStatus(True, True, "active", 12),
     "The access token is valid: 12 uses left."),
    ({"valid": True, "status": "active", "remaining": -1}, TokenStatus(True, True, "active", None, True),
     "The access token is valid, with no usage limit."),
    ({"valid": True, "status": "active"}, TokenStatus(True, True, "active"), "The access token is valid."),
    ({"valid": False, "status": "exhausted", "remaining": 0}, TokenStatus(True, False, "exhausted", 0),
     TOKEN_SENTENCES["exhausted"]),
    ({"valid": False, "status": "revoked", "remaining": 3}, TokenStatus(True, False, "revoked", 3),
     TOKEN_SENTENCES["revoked"]),
    ({"valid": False, "reason": "not_found"}, TokenStatus(True, False, "not_found"),
     TOKEN_SENTENCES["invalid"]),
    ({"valid": "yes", "remaining": True}, TokenStatus(True, None),
     "The server cannot tell whether the access token is valid; sending will find out."),
])
def test_send_api_check_token_reads_upstreams_whole_answer(
        body: dict[str, object], expected: TokenStatus, message: str) -> None:
    api = api_serving(lambda request: httpx.Response(200, json=body))
    status = api.check_token()  # the api's own token
    assert status == expected
    assert status.message == message


def test_without_a_token_nothing_is_asked() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    api = SendApi("https://send.sgraph.ai", None)
    api._http = httpx.Client(transport=httpx.MockTransport(handler))
    assert api.check_token() == TokenStatus(token_set=False, valid=None)
    assert api.check_token().message == "No access token is set for this server."


def test_check_access_token_unreachable_is_unknown() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    assert check_access_token(api_serving(handler), "t") is None


def test_envelope_reader_is_what_strips_the_token_envelope() -> None:  # (as send-welcome.js does)
    reader = EnvelopeReader()
    assert reader.feed(crypto.envelope_header("t.txt") + b"tok") + reader.finish() == b"tok"
