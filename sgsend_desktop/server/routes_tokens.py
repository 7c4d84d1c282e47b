"""The web UI's access-token routes: `check-token` (its access gate) and `validate-token` (download pages).

The upstream browser UI calls `GET /api/transfers/check-token/{token}` when a token is entered and on every
upload page load; without the route it accepts any token "optimistically" and the user only learns of a
wrong token after the file has been read and encrypted (the create call answers 401). Upstream answers,
without its admin token service (its env-var token mode), `{"valid": true, "status": "active"}`; with the
service, an unknown token is `{"valid": false, "reason": "not_found"}`. We answer from our one configured
token: no token configured, or the right one → valid; anything else → not_found. Consumes nothing.

`POST /api/transfers/validate-token/{token}` is what a download page with `?token=` calls; downloads need no
token here, so it always succeeds (as upstream's env-var mode does).
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter

from sgsend_desktop.server.context import ServerContext

MAX_TOKEN_CHARS = 256


def build_router(ctx: ServerContext) -> APIRouter:
    router = APIRouter(prefix="/api/transfers")

    @router.get("/check-token/{token_name}")
    async def check_token(token_name: str) -> dict[str, Any]:
        expected = ctx.config.access_token
        if not expected:
            return {"valid": True, "status": "active"}
        given = token_name[:MAX_TOKEN_CHARS]
        if hmac.compare_digest(given.encode(), expected.encode()):
            return {"valid": True, "status": "active"}
        return {"valid": False, "reason": "not_found"}

    @router.post("/validate-token/{token_name}")
    async def validate_token(token_name: str) -> dict[str, Any]:
        return {"success": True}

    return router
