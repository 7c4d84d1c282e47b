"""Test hooks, mounted only when the server process has `SGSEND_TEST_HOOKS=1`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from sgsend_desktop.server.context import ServerContext
from sgsend_desktop.server.storage.disk import DiskStore


class FaultsRequest(BaseModel):
    part_put_503: int = Field(default=0, ge=0, le=10_000)
    # disk backend: sleep this long before copying each part while assembling (widens the race window)
    assembly_part_delay: float = Field(default=0.0, ge=0.0, le=10.0)


def build_router(ctx: ServerContext) -> APIRouter:
    router = APIRouter(prefix="/api/_test")

    @router.get("/stats")
    async def stats() -> dict[str, Any]:
        return ctx.stats.as_dict()

    @router.post("/faults")
    async def faults(body: FaultsRequest) -> dict[str, Any]:
        ctx.stats.part_put_503 = body.part_put_503
        if isinstance(ctx.store, DiskStore):
            ctx.store.assembly_part_delay = body.assembly_part_delay
        return {"part_put_503": ctx.stats.part_put_503, "assembly_part_delay": body.assembly_part_delay}

    return router
