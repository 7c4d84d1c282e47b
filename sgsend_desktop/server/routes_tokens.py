"""The web UI's access-token routes: `check-token` (its access gate) and `validate-token` (download pages).

The upstream browser UI calls `GET /api/transfers/check-token/{token}` when a token is entered and on every
upload page load; without the route it accepts any token "optimistically" and the user only learns of a
wrong token after the file has been read and encrypted (the create call answers 401). Upstream answers,
without its admin token service (its env-var token mode), `{"valid": true, "status": "active"}`; with the
service, `{"valid": status == "active", "status", "remaining": usage_limit - usage_count}`, and an unknown
token is `{"valid": false, "reason": "not_found"}`; the UI shows `remaining` ("12 uses remaining"), and
-1 as unlimited. We answer alike (server/tokens.py):

- no token configured, or the ``--access-token`` one → `{"valid": true, "status": "active"}`;
- a token of the ``--tokens`` file → `{"valid", "status": active|exhausted|revoked, "remaining"}`
  (-1 = unlimited, 0 when revoked);
- anything else → `{"valid": false, "reason": "not_found"}`;
- the usage record cannot be read → 503 `{"detail": "Token validation service unavailable"}`.

Consumes nothing. `POST /api/transfers/validate-token/{token}` is what a download page with `?token=`
calls; downloads need no token here, so it always succeeds (as upstream's env-var mode does).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from sgsend_desktop.server.context import ServerContext
from sgsend_desktop.server.tokens import MAX_TOKEN_CHARS, remaining_of, status_of


def build_router(ctx: ServerContext) -> APIRouter:
    router = APIRouter(prefix="/api/transfers")

    @router.get("/check-token/{token_name}")
    async def check_token(token_name: str) -> dict[str, Any]:
        if not ctx.tokens.configured:
            return {"valid": True, "status": "active"}
        token = ctx.tokens.find(token_name[: MAX_TOKEN_CHARS + 1])
        if token is None:
            return {"valid": False, "reason": "not_found"}
        if not token.counted:  # --access-token: as before, and as upstream's env-var mode
            return {"valid": True, "status": "active"}
        used = await ctx.token_call(ctx.usage.used, token)
        status = status_of(token, used)
        remaining = 0 if token.revoked else remaining_of(token, used)
        return {"valid": status == "active", "status": status,
                "remaining": -1 if remaining is None else remaining}

    @router.post("/validate-token/{token_name}")
    async def validate_token(token_name: str) -> dict[str, Any]:
        return {"success": True}

    return router
