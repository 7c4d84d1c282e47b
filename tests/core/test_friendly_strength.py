"""Issue 9 item 1: the upstream friendly key falls to brute force from its transfer id; the strong form
does not.

docs/format.md, "Friendly keys", has the arithmetic at full scale. Here the weakness is shown at small scale
(a word list cut to 10 words: 10 x 10 x 10^4 = 10^6 tokens, searched in about a second), end to end:
from nothing but the transfer id and the payload to the decrypted file.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import secrets
from pathlib import Path

import pytest

from sgsend_desktop.cli import transfers
from sgsend_desktop.core import crypto
from sgsend_desktop.core.errors import KeyFormatError
from sgsend_desktop.core.model import TransferOptions
from sgsend_desktop.core.wordlist import WORDS

STRONG = "acorn-agate-alder-amber-anvil-1234"


def search_upstream_token(transfer_id: str, words: tuple[str, ...]) -> str | None:
    """What an attacker who knows a transfer id runs: one SHA-256 per candidate token."""
    wanted = bytes.fromhex(transfer_id)
    digits = [f"{n:04d}".encode() for n in range(10_000)]
    for first in words:
        for second in words:
            prefix = hashlib.sha256(f"{first}-{second}-".encode())
            for number in digits:
                candidate = prefix.copy()
                candidate.update(number)
                if candidate.digest()[:6] == wanted:
                    return f"{first}-{second}-{number.decode()}"
    return None


def test_upstream_friendly_key_is_recovered_from_its_transfer_id_alone() -> None:
    words = WORDS[:10]
    token = f"{secrets.choice(words)}-{secrets.choice(words)}-{secrets.randbelow(10_000):04d}"
    payload = b"".join(crypto.iter_encrypted_payload(crypto.friendly_key(token), io.BytesIO(b"secret plans"),
                                                     "plans.txt"))
    transfer_id = crypto.friendly_transfer_id(token)  # all the server (or a key-less link) shows

    found = search_upstream_token(transfer_id, words)

    assert found == token
    decryptor = crypto.PayloadDecryptor(crypto.friendly_key(found))
    assert decryptor.feed(payload) + decryptor.finish() == b"secret plans"


def test_strong_form_id_is_not_a_fast_hash_of_the_token() -> None:
    transfer_id = crypto.friendly_transfer_id(STRONG)
    for fast in (hashlib.sha256, hashlib.sha512, hashlib.sha1, hashlib.md5, hashlib.blake2b,
                 hashlib.sha3_256):
        assert fast(STRONG.encode()).hexdigest()[:12] != transfer_id
    assert hashlib.sha256((STRONG + "\n").encode()).hexdigest()[:12] != transfer_id
    # ...it is the tail of one scrypt (N=2^17, r=8: 128 MiB per guess), checked with hashlib's own scrypt
    material = hashlib.scrypt(STRONG.encode(), salt=crypto.STRONG_SALT, n=2**17, r=8, p=1,
                              maxmem=256 * 1024 * 1024, dklen=38)
    assert transfer_id == material[32:].hex() == "b4fc63f35e1b"
    assert crypto.friendly_key(STRONG) == material[:32]
    assert crypto.encode_key(material[:32]) == "_yO4K8-OObVbGITcKnin2-ScNNSRjO97XcmNGtR0lWg"


def test_strong_form_parameters_make_each_guess_expensive() -> None:
    assert crypto.STRONG_SCRYPT_N * crypto.STRONG_SCRYPT_R * 128 == 128 * 1024 * 1024  # bytes per guess
    assert crypto.STRONG_WORDS == 5 and len(WORDS) == 320
    assert len(WORDS) ** crypto.STRONG_WORDS * 10_000 > 3.3e16  # ~2^55 tokens


def test_generated_tokens_come_from_the_web_uis_word_list() -> None:
    assert (WORDS[0], WORDS[1], WORDS[-1], len(WORDS)) == ("acorn", "agate", "zone", 320)  # upload-crypto.js
    for _ in range(50):
        weak, strong = crypto.generate_friendly_token(), crypto.generate_strong_token()
        assert crypto.is_upstream_token(weak) and not crypto.is_strong_token(weak)
        assert crypto.is_strong_token(strong) and not crypto.is_upstream_token(strong)
        assert all(word in WORDS for word in weak.split("-")[:2])
        assert all(word in WORDS for word in strong.split("-")[:5]) and len(strong.split("-")) == 6


def test_both_forms_are_friendly_key_text_and_three_words_are_neither() -> None:
    assert crypto.is_friendly_token("apple-mango-5623") and crypto.is_friendly_token(STRONG)
    assert not crypto.is_friendly_token("apple-mango-kiwi-5623")
    assert not crypto.is_friendly_token("a-b-c-d-e-f-g-h-i-1234")  # more than 8 words
    with pytest.raises(KeyFormatError):
        crypto.friendly_transfer_id("apple-mango-kiwi-5623")


def _send_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    transfers.register(parser.add_subparsers())
    return parser.parse_args(["send", *argv])


@pytest.mark.parametrize(("argv", "form", "paths", "line"), [
    (["a.txt"], None, ["a.txt"], None),
    (["a.txt", "--friendly"], "web", ["a.txt"], transfers.FRIENDLY_WARNING),
    (["--friendly", "a.txt", "b.txt"], "web", ["a.txt", "b.txt"], transfers.FRIENDLY_WARNING),
    (["--friendly=web", "a.txt"], "web", ["a.txt"], transfers.FRIENDLY_WARNING),
    (["--friendly=strong", "a.txt"], "strong", ["a.txt"], transfers.STRONG_NOTE),
])
def test_cli_friendly_option_warns_on_stderr(argv: list[str], form: str | None, paths: list[str],
                                             line: str | None, monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[TransferOptions] = []

    class Stop(Exception):
        pass

    def no_server(args: argparse.Namespace, data_dir: Path) -> None:
        raise Stop

    real_options = transfers.TransferOptions

    def record(**kwargs: object) -> TransferOptions:
        seen.append(real_options(**kwargs))  # type: ignore[arg-type]
        return seen[-1]

    monkeypatch.setenv("SGSEND_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(transfers, "_server", no_server)
    monkeypatch.setattr(transfers, "TransferOptions", record)
    args = _send_args(argv)
    with pytest.raises(Stop):
        transfers.run_send(args)
    assert [str(p) for p in args.paths] == paths
    assert (seen[0].friendly_key, seen[0].strong_friendly) == (form is not None, form == "strong")
    err = capsys.readouterr().err
    assert (line in err.splitlines()) if line else "warning" not in err
    if form == "web":
        assert "guessed in minutes" in err and "--friendly=strong" in err
