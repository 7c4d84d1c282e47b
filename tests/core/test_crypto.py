"""Crypto: keys, envelope forms, streaming payloads, tamper detection, file naming."""

from __future__ import annotations

import io
import json
import struct
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sgsend_desktop.core import crypto
from sgsend_desktop.core.envelope import EnvelopeReader, envelope_header
from sgsend_desktop.core.errors import IntegrityError, KeyFormatError

KEY = bytes(range(32))
names = st.one_of(st.none(), st.text(min_size=0, max_size=80))
boundary_sizes = st.sampled_from([0, 1, 15, 16, 17, crypto.CHUNK_SIZE - 1, crypto.CHUNK_SIZE,
                                  crypto.CHUNK_SIZE + 1, 2 * crypto.CHUNK_SIZE + 13])
sizes = st.one_of(boundary_sizes, st.integers(min_value=0, max_value=70_000))


def payload_of(content: bytes, name: str | None, chunk_size: int = crypto.CHUNK_SIZE,
               iv: bytes | None = None) -> bytes:
    return b"".join(crypto.iter_encrypted_payload(KEY, io.BytesIO(content), name, iv, chunk_size))


def decrypt_bytes(payload: bytes, key: bytes = KEY, step: int = 65_536) -> tuple[bytes, str | None]:
    decryptor = crypto.PayloadDecryptor(key)
    parts = [decryptor.feed(payload[i:i + step]) for i in range(0, len(payload), step)]
    parts.append(decryptor.finish())
    return b"".join(parts), decryptor.filename


def test_key_encoding_is_43_chars_base64url_without_padding() -> None:
    text = crypto.encode_key(KEY)
    assert len(text) == 43 and "=" not in text and "+" not in text and "/" not in text
    assert crypto.decode_key(text) == KEY
    assert crypto.decode_key(text + "=") == KEY


@pytest.mark.parametrize("bad", ["", "abc", "x" * 44, "!" * 43, "a+b/" + "A" * 39])
def test_bad_keys_are_rejected_with_a_clear_error(bad: str) -> None:
    with pytest.raises(KeyFormatError, match="43 characters"):
        crypto.decode_key(bad)


def test_friendly_check_value_from_the_spec() -> None:
    assert crypto.friendly_transfer_id("apple-mango-5623") == "4abd0a491ed3"
    assert crypto.encode_key(crypto.resolve_key("apple-mango-5623")) == (
        "5RrU12USo7kBvFH7BM8OJ4qOt-HGsXZbH3NwxIr3sy0")


def test_generated_friendly_tokens_have_the_upstream_shape() -> None:
    tokens = {crypto.generate_friendly_token() for _ in range(200)}
    assert all(crypto.is_friendly_token(t) for t in tokens)
    assert len(tokens) > 190


def test_delete_auth_is_sha256_of_hex_key_and_id() -> None:
    import hashlib

    da = crypto.delete_auth(KEY, "0123456789ab")
    assert da == hashlib.sha256((KEY.hex() + ":0123456789ab").encode()).hexdigest()
    assert crypto.delete_auth_hash(KEY, "0123456789ab") == hashlib.sha256(da.encode()).hexdigest()


def test_envelope_header_is_the_current_upstream_form() -> None:
    header = envelope_header("report.pdf")
    assert header == b"SGMETA" + struct.pack(">I", 25) + b'{"filename":"report.pdf"}'


def read_envelope(data: bytes, step: int = 3) -> tuple[bytes, str | None]:
    reader = EnvelopeReader()
    out = [reader.feed(data[i:i + step]) for i in range(0, len(data), step)]
    out.append(reader.finish())
    return b"".join(out), reader.filename


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (b"SGMETA" + struct.pack(">I", 20) + b'{"filename":"a.txt"}' + b"BODY", "a.txt"),
        (b'SGMETA\x00{"filename":"b}{.txt"}' + b"BODY", "b}{.txt"),
        (b"SGMETA\x00" + struct.pack(">I", 20) + b'{"filename":"c.txt"}' + b"BODY", "c.txt"),
        (b"BODY", None),
    ],
    ids=["current", "brace-json", "legacy-7-byte", "raw"],
)
def test_every_envelope_form_is_read(raw: bytes, name: str | None) -> None:
    for step in (1, 3, 1000):
        assert read_envelope(raw, step) == (b"BODY", name)


@pytest.mark.parametrize("length", [123, 0x17B])  # low byte is "{", which a naive reader would take
def test_legacy_7_byte_form_whose_length_looks_like_a_brace(length: int) -> None:
    stem = "x" * (length - 17)
    meta = ('{"filename":"' + stem + '.t"}').encode()
    assert len(meta) == length
    raw = b"SGMETA\x00" + struct.pack(">I", len(meta)) + meta + b"BODY"
    assert read_envelope(raw) == (b"BODY", stem + ".t")


def test_unreadable_metadata_keeps_every_byte_as_content() -> None:
    raw = b"SGMETA\x00\x00\x00\x05{oops" + b"BODY"
    assert read_envelope(raw) == (raw, None)


@pytest.mark.parametrize(
    ("raw", "content", "name"),
    [
        (b'SGMETA.{"filename":"foo.txt"}hello', b"hello", "foo.txt"),                # sgit's own example
        ('SGMETA.{"filename":"r\u00e9sum\u00e9 }{.txt"}'.encode() + b"\xff\x00BODY", b"\xff\x00BODY",
         "r\u00e9sum\u00e9 }{.txt"),                                                    # binary content after
        (b'SGMETA.{"filename":"a.txt","size":3}{"not":"metadata"}', b'{"not":"metadata"}', "a.txt"),
        (b'SGMETA.{"filename":"empty.txt"}', b"", "empty.txt"),
        (b'SGMETA.{"filename":"a\xffb"}xyz', b'SGMETA.{"filename":"a\xffb"}xyz', None),  # not UTF-8: raw
        (b'SGMETA.["filename"]xyz', b'SGMETA.["filename"]xyz', None),                    # not an object
        (b'SGMETA.{"filename":"cut', b'SGMETA.{"filename":"cut', None),                  # never ends
        (b"SGMETA.", b"SGMETA.", None),
    ],
    ids=["sgit-example", "binary-body", "json-after-json", "empty", "bad-utf8", "array", "truncated", "bare"],
)
def test_web_text_envelope_form_is_read(raw: bytes, content: bytes, name: str | None) -> None:
    for step in (1, 3, 7, 1000):
        assert read_envelope(raw, step) == (content, name)


def test_web_text_form_with_long_metadata_and_tiny_feeds() -> None:
    meta = json.dumps({"filename": "n.txt", "note": "}" * 200_000}).encode()
    raw = b"SGMETA." + meta + b"BODY"
    assert read_envelope(raw, step=7) == (b"BODY", "n.txt")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=names, size=sizes, chunk=st.sampled_from([1000, 65_536, crypto.CHUNK_SIZE]), data=st.data())
def test_payload_round_trip(name: str | None, size: int, chunk: int, data: st.DataObject) -> None:
    content = data.draw(st.binary(min_size=size, max_size=size)) if size < 5000 else bytes(size)
    payload = payload_of(content, name, chunk)
    assert len(payload) == crypto.payload_size(name, size)
    step = data.draw(st.sampled_from([1, 17, 4096, 1 << 20]))
    if step == 1 and len(payload) > 20_000:
        step = 4096
    assert decrypt_bytes(payload, step=step) == (content, name)


def test_same_key_iv_and_content_give_the_same_payload() -> None:
    iv = b"\x01" * 12
    assert payload_of(b"abc" * 1000, "n", iv=iv) == payload_of(b"abc" * 1000, "n", 7, iv=iv)
    assert payload_of(b"abc", "n") != payload_of(b"abc", "n")  # fresh IV each time


@settings(max_examples=200, deadline=None)
@given(content=st.binary(max_size=3000), name=names, position=st.integers(min_value=0), bit=st.integers(0, 7))
def test_any_flipped_bit_is_rejected(content: bytes, name: str | None, position: int, bit: int) -> None:
    payload = bytearray(payload_of(content, name))
    payload[position % len(payload)] ^= 1 << bit
    with pytest.raises(IntegrityError):
        decrypt_bytes(bytes(payload))


@settings(max_examples=100, deadline=None)
@given(content=st.binary(max_size=3000), cut=st.integers(min_value=1))
def test_any_truncation_is_rejected(content: bytes, cut: int) -> None:
    payload = payload_of(content, "t.bin")
    with pytest.raises(IntegrityError):
        decrypt_bytes(payload[: len(payload) - 1 - (cut % len(payload))])


def test_wrong_key_is_rejected() -> None:
    with pytest.raises(IntegrityError, match="key is wrong"):
        decrypt_bytes(payload_of(b"data", "a"), key=bytes(32))


def test_decrypt_file_writes_only_after_the_tag_verifies(tmp_path: Path) -> None:
    source = tmp_path / "in.txt"
    source.write_bytes(b"hello" * 1000)
    payload = tmp_path / "p.bin"
    crypto.encrypt_file(source, payload, KEY, "../../etc/evil name.txt")
    out = tmp_path / "out"
    saved = crypto.decrypt_file(payload, KEY, out)
    assert saved == out / "evil name.txt" and saved.read_bytes() == source.read_bytes()
    again = crypto.decrypt_file(payload, KEY, out)
    assert again.name == "evil name (1).txt"
    tampered = bytearray(payload.read_bytes())
    tampered[-1] ^= 1
    payload.write_bytes(bytes(tampered))
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(IntegrityError):
        crypto.decrypt_file(payload, KEY, out)
    assert sorted(p.name for p in out.iterdir()) == before  # no partial or final file left


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.txt", "a.txt"), ("../x", "x"), ("/etc/passwd", "passwd"), ("C:\\Users\\me\\f.doc", "f.doc"),
     ("..", "fb"), ("", "fb"), (None, "fb"), ("a\x00b\nc.txt", "a_b_c.txt"), ("CON", "_CON"),
     ("dots...", "dots")],
)
def test_safe_filename(name: str | None, expected: str) -> None:
    assert crypto.safe_filename(name, "fb") == expected


def test_safe_filename_caps_length_keeping_the_extension() -> None:
    name = crypto.safe_filename("é" * 300 + ".pdf", "fb")
    assert name.endswith(".pdf") and len(name.encode()) <= 255


class _Zeros(io.RawIOBase):
    """A readable stream of ``size`` zero bytes that never exists in memory whole."""

    def __init__(self, size: int) -> None:
        self.remaining = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = min(len(buffer), self.remaining)
        buffer[:count] = bytes(count)
        self.remaining -= count
        return count


def test_streaming_memory_is_bounded() -> None:
    size = 256 * 1024 * 1024
    tracemalloc.start()
    decryptor = crypto.PayloadDecryptor(KEY)
    total = 0
    for block in crypto.iter_encrypted_payload(KEY, _Zeros(size), "big.bin"):  # type: ignore[arg-type]
        total += len(decryptor.feed(block))
    total += len(decryptor.finish())
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert total == size
    assert peak < 16 * 1024 * 1024, f"peak traced memory {peak} bytes for a {size}-byte stream"
