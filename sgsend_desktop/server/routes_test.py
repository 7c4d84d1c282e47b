"""Test hooks, mounted only when the server process has `SGSEND_TEST_HOOKS=1`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from sgsend_desktop.server.context import ServerContext


class FaultsRequest(BaseModel):
    part_put_503: int = Field(default=0, ge=0, le=10_000)


def build_router(ctx: ServerContext) -> APIRouter:
    router = APIRouter(prefix="/api/_test")

    @router.get("/stats")
    async def stats() -> dict[str, Any]:
        return ctx.stats.as_dict()

    @router.post("/faults")
    async def faults(body: FaultsRequest) -> dict[str, Any]:
        ctx.stats.part_put_503 = body.part_put_503
        return {"part_put_503": ctx.stats.part_put_503}

    return router
