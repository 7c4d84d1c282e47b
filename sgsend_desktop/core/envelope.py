"""The SGMETA envelope that carries the (encrypted) file name in front of the file bytes.

Written form (current upstream)::  b"SGMETA" ‖ uint32 BE length ‖ JSON ‖ content

Read forms, told apart by the bytes after the magic (spec section 1):

* current: length at bytes 6..9, JSON from byte 10;
* ``SGMETA\\x00{...}``: a JSON object right after a zero byte, ending at its matching brace;
* ``SGMETA\\x00`` + length at bytes 7..10 + JSON from byte 11 (upstream UI v0.1.3–v0.2.x; the current
  upstream reader fails on it, we do not);
* ``SGMETA.`` + a JSON object + content, no length: the "web text" form the ``sgit`` CLI reads
  (``Transfer__Envelope.unpackage``: the JSON ends where a JSON decoder stops). Byte 6 is ``.`` (0x2E),
  which no other form has there (the current form would need a metadata length of at least 0x2E000000);
* no magic: raw content without a name. Unreadable metadata after the magic is treated the same way,
  so the user still gets every byte.

The reader retries an incomplete header only when its buffer has grown by half since the last try, so
feeding tiny pieces costs linear, not quadratic, work.
"""

from __future__ import annotations

import json
import struct

MAGIC = b"SGMETA"
MAX_METADATA = 1024 * 1024  # far above any real file name; bounds what we buffer
_BRACE = ord("{")
TEXT_MAGIC = MAGIC + b"."
_DECODER = json.JSONDecoder()


def envelope_header(filename: str | None) -> bytes:
    """The bytes that precede the content: magic, length, compact JSON (as JSON.stringify writes)."""
    metadata = {} if filename is None else {"filename": filename}
    body = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return MAGIC + struct.pack(">I", len(body)) + body


class _NeedMore(Exception):
    pass


def _json_object(raw: bytes | bytearray) -> dict[str, object] | None:
    try:
        value = json.loads(bytes(raw).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _length_form(buf: bytearray, length_at: int, final: bool) -> tuple[int, dict[str, object]] | None:
    """Envelope with a 4-byte length at ``length_at``: (header length, metadata) or None."""
    start = length_at + 4
    if len(buf) < start + 1:
        if final:
            return None
        raise _NeedMore
    (length,) = struct.unpack_from(">I", buf, length_at)
    if not 0 < length <= MAX_METADATA or buf[start] != _BRACE:
        return None
    if len(buf) < start + length:
        if final:
            return None
        raise _NeedMore
    metadata = _json_object(buf[start:start + length])
    return None if metadata is None else (start + length, metadata)


def _brace_form(buf: bytearray, final: bool) -> tuple[int, dict[str, object]] | None:
    """``SGMETA\\x00{...}``: try each closing brace until the JSON object parses."""
    if len(buf) < 8:
        if final:
            return None
        raise _NeedMore
    if buf[6] != 0 or buf[7] != _BRACE:
        return None
    position = buf.find(b"}", 8)
    while position != -1 and position < 7 + MAX_METADATA:
        metadata = _json_object(buf[7:position + 1])
        if metadata is not None:
            return position + 1, metadata
        position = buf.find(b"}", position + 1)
    if final or len(buf) >= 7 + MAX_METADATA:
        return None
    raise _NeedMore


def _text_form(buf: bytearray, final: bool) -> tuple[int, dict[str, object]] | None:
    """``SGMETA.{...}``: the JSON object ends where the decoder stops (as sgit's raw_decode does)."""
    start = len(TEXT_MAGIC)
    if len(buf) < start + 1:
        if final:
            return None
        raise _NeedMore
    if buf[start] != _BRACE:
        return None
    window = bytes(buf[start:start + MAX_METADATA])
    # surrogateescape: one character per undecodable byte, so character offsets map back to bytes
    text = window.decode("utf-8", "surrogateescape")
    try:
        value, end = _DECODER.raw_decode(text)
    except ValueError:
        if final or len(window) >= MAX_METADATA:
            return None
        raise _NeedMore from None
    raw = text[:end].encode("utf-8", "surrogateescape")
    metadata = _json_object(raw)  # strict UTF-8 this time: no lone surrogates in a file name
    if metadata is None or not isinstance(value, dict):
        return None
    return start + len(raw), metadata


class EnvelopeReader:
    """Incremental reader: feed decrypted bytes, get content bytes; ``filename`` once known."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._parsed = False
        self._retry_at = 0
        self.filename: str | None = None
        self.metadata: dict[str, object] = {}

    @property
    def parsed(self) -> bool:
        """The header is read (or there is none): every byte fed from now on is content."""
        return self._parsed

    def feed(self, data: bytes) -> bytes:
        if self._parsed:
            return data
        self._buffer += data
        if len(self._buffer) < self._retry_at:
            return b""
        return self._try_parse(final=False)

    def finish(self) -> bytes:
        if self._parsed:
            return b""
        return self._try_parse(final=True)

    def _try_parse(self, final: bool) -> bytes:
        buf = self._buffer
        if len(buf) < len(MAGIC) and not final:
            return b""
        result: tuple[int, dict[str, object]] | None = None
        if buf[: len(TEXT_MAGIC)] == TEXT_MAGIC:
            try:
                result = _text_form(buf, final)
            except _NeedMore:
                self._retry_at = len(buf) + max(64, len(buf) // 2)
                return b""
        elif buf[: len(MAGIC)] == MAGIC:
            try:
                result = (_brace_form(buf, final) or _length_form(buf, 6, final)
                          or (_length_form(buf, 7, final) if len(buf) > 6 and buf[6] == 0 else None))
            except _NeedMore:
                self._retry_at = len(buf) + max(64, len(buf) // 2)
                return b""
        header_length = 0
        if result is not None:
            header_length, self.metadata = result
            name = self.metadata.get("filename")
            self.filename = name if isinstance(name, str) else None
        self._parsed = True
        content = bytes(buf[header_length:])
        self._buffer = bytearray()
        return content
