"""The forms upstream's MCP tools use to move payloads as JSON text (no raw bytes in a tool call).

Upstream (``Routes__Transfers``) takes, on `POST /api/transfers/upload/{id}`:

1. the raw payload as the body (the browser UI, CLIs);
2. ``?data=<base64>`` — the tool parameter (then the body is ignored);
3. a JSON body ``{"data": "<base64>"}`` — older MCP clients: a body that starts with ``{`` and parses as a
   JSON object with ``data`` is unwrapped; anything else is the raw payload.

and answers `GET /api/transfers/download-base64/{id}` with ``{transfer_id, data, file_size_bytes}``.

Here a raw body is streamed to storage as before. A body whose first byte is ``{`` is held back (at most
``JSON_FORM_LIMIT`` bytes, and never more than the base64 of the declared size could take) until it is
known to be the JSON form; a ciphertext that happens to start with ``{`` is written as it is.
The base64 download is streamed too (its JSON is produced chunk by chunk).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator

from fastapi import HTTPException, Request
from starlette.requests import ClientDisconnect

from sgsend_desktop.server.context import WRITE_BATCH, receive_body
from sgsend_desktop.server.storage.base import PayloadWriter
from sgsend_desktop.server.timing import in_thread

JSON_FORM_LIMIT = 8 * 1024 * 1024  # above AWS Lambda's 6 MB: no MCP client of the real service sends more
BASE64_DOWNLOAD_LAMBDA_LIMIT = 3_750_000  # upstream: the base64 answer must stay under Lambda's limit
_LOOKS_LIKE_JSON = re.compile(rb'\s*\{\s*"')
_WHITESPACE = re.compile(rb"\s+")


def base64_size(size: int) -> int:
    return 4 * -(-size // 3)


def decode_base64(text: str | bytes, what: str) -> bytes:
    """Standard base64 (whitespace ignored, padding required, nothing else accepted) → 400 otherwise."""
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    try:
        return base64.b64decode(_WHITESPACE.sub(b"", raw), validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(status_code=400, detail=f"{what} is not base64") from None


def _unwrap(body: bytes) -> bytes | None:
    """The payload of a ``{"data": "<base64>"}`` body, or None when the body is no such JSON object."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(parsed, dict) or "data" not in parsed:
        return None
    data = parsed["data"]
    if not isinstance(data, str):
        raise HTTPException(status_code=400, detail='The JSON upload body\'s "data" must be a base64 string')
    return decode_base64(data, 'The JSON upload body\'s "data"')


async def _write(writer: PayloadWriter, data: bytes) -> None:
    for start in range(0, len(data), WRITE_BATCH):
        await in_thread(writer.write, data[start:start + WRITE_BATCH])


async def write_payload(writer: PayloadWriter, payload: bytes, limit: int, too_large: str) -> None:
    if len(payload) > limit:
        raise HTTPException(status_code=400, detail=too_large)
    await _write(writer, payload)


async def receive_upload(request: Request, writer: PayloadWriter, limit: int, too_large: str) -> None:
    """The body of a direct upload: raw (streamed), or the JSON ``{"data": base64}`` form (unwrapped)."""
    stream = request.stream()
    held = bytearray()
    # the JSON form of a payload of at most `limit` bytes, with room for whitespace and other keys
    json_cap = min(JSON_FORM_LIMIT, base64_size(limit) + 64 * 1024)
    try:
        async for chunk in stream:
            if not chunk:
                continue
            held += chunk
            if held[:1] != b"{":
                break  # the usual case: a raw payload
            if len(held) > json_cap:
                if _LOOKS_LIKE_JSON.match(held[:64]):
                    raise HTTPException(
                        status_code=413,
                        detail=f'A JSON {{"data": base64}} upload body is limited to {json_cap} bytes here; '
                        "send the raw bytes instead.",
                    )
                break  # a ciphertext that starts with "{": raw after all
        else:  # the whole body is held: the JSON form, or a short raw payload starting with "{"
            payload = _unwrap(bytes(held)) if held[:1] == b"{" else None
            await write_payload(writer, bytes(held) if payload is None else payload, limit, too_large)
            return
    except ClientDisconnect:
        raise HTTPException(status_code=400, detail="Client disconnected during the upload") from None
    # raw: what is held, then the rest of the stream
    await write_payload(writer, bytes(held), limit, too_large)
    await receive_body(request, writer, limit, too_large, rest=stream)


def base64_json_chunks(transfer_id: str, file_size_bytes: int, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``{"transfer_id": ..., "data": "<base64>", "file_size_bytes": N}``, produced as the payload is read."""
    yield f'{{"transfer_id":"{transfer_id}","data":"'.encode()
    carry = b""
    for chunk in chunks:
        block = carry + chunk
        cut = len(block) - len(block) % 3
        carry = block[cut:]
        if cut:
            yield base64.b64encode(block[:cut])
    if carry:
        yield base64.b64encode(carry)
    yield f'","file_size_bytes":{int(file_size_bytes)}}}'.encode()


def base64_json_length(transfer_id: str, file_size_bytes: int, payload_size: int) -> int:
    head = f'{{"transfer_id":"{transfer_id}","data":"'
    tail = f'","file_size_bytes":{int(file_size_bytes)}}}'
    return len(head) + base64_size(payload_size) + len(tail)
