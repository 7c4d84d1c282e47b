"""Bounds on what the API reads from a request body, enforced before (and while) it is read.

- Every JSON route reads at most ``JSON_BODY_LIMIT`` bytes (``LIST_BODY_LIMIT`` for `presigned/complete`
  and `presigned/part-urls`, whose lists may hold 10 000 entries), with or without Lambda limits: a body
  is parsed whole, so an unbounded one is unbounded memory.
- Under Lambda limits (the default) every `/api/` request is also capped at AWS Lambda's 6 MB.
- The direct upload (`/api/transfers/upload/{id}`) is streamed to storage and bounded by its route
  (the declared size); the `/storage/` endpoints stand in for S3 and bound their own bodies.

Content-Length is checked up front; without it the body is counted as it streams in, and reading stops
at the limit. Either way the answer is a 413 with a JSON `detail`.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_BODY_LIMIT = 64 * 1024  # create, initiate, download-url/refresh, ...: a few hundred bytes
LIST_BODY_LIMIT = 1024 * 1024  # up to 10 000 parts: complete's {"part_number", "etag"} are ~600 KB
LIST_ROUTES = ("/api/presigned/complete", "/api/presigned/part-urls")
UPLOAD_PREFIX = "/api/transfers/upload/"


def too_large_detail(limit: int) -> str:
    return (
        f"Request body too large: the limit is {limit} bytes (as on AWS Lambda). "
        "Upload large payloads with the presigned multipart flow (/api/presigned/initiate)."
    )


def json_too_large_detail(limit: int) -> str:
    return f"Request body too large: this route reads at most {limit} bytes of JSON."


class BodyTooLarge(HTTPException):
    """An HTTPException, so FastAPI's handlers answer it as 413 JSON wherever the body is read."""

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=413, detail=detail)


def body_limit(path: str, lambda_limits: bool, lambda_limit: int) -> tuple[int, str] | None:
    """(limit, detail) for a request to ``path``; None: not bounded here."""
    if not path.startswith("/api/"):
        return None
    if path.startswith(UPLOAD_PREFIX):
        return (lambda_limit, too_large_detail(lambda_limit)) if lambda_limits else None
    limit = LIST_BODY_LIMIT if path.rstrip("/") in LIST_ROUTES else JSON_BODY_LIMIT
    if lambda_limits and lambda_limit < limit:
        return lambda_limit, too_large_detail(lambda_limit)
    return limit, json_too_large_detail(limit)


class RequestSizeLimit:
    """413 with a JSON error for API request bodies over their route's limit (see ``body_limit``)."""

    def __init__(self, app: ASGIApp, lambda_limits: bool, lambda_limit: int) -> None:
        self.app = app
        self.lambda_limits = lambda_limits
        self.lambda_limit = lambda_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        bound = None
        if scope["type"] == "http":
            bound = body_limit(scope["path"], self.lambda_limits, self.lambda_limit)
        if bound is None:
            await self.app(scope, receive, send)
            return
        limit, detail = bound
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._reject(send, detail)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(detail)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reject(send, detail)

    async def _reject(self, send: Send, detail: str) -> None:
        body: dict[str, Any] = {"detail": detail}
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
