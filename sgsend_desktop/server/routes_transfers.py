"""Upstream `/api/transfers/*`: create, direct upload, complete, info, download, delete."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import iterate_in_threadpool

from sgsend_desktop.server.config import LAMBDA_DOWNLOAD_LIMIT
from sgsend_desktop.server.context import ServerContext, check_downloadable, count_download
from sgsend_desktop.server.meta import COMPLETED, DELETED, PENDING, TransferMeta, hash_ip, now_iso
from sgsend_desktop.server.storage.base import StoreError
from sgsend_desktop.server.timing import in_thread
from sgsend_desktop.server.upload_forms import (
    BASE64_DOWNLOAD_LAMBDA_LIMIT,
    base64_json_chunks,
    base64_json_length,
    decode_base64,
    receive_upload,
    write_payload,
)
from sgsend_desktop.server.validation import (
    ENVELOPE_SLACK,
    MAX_FILE_SIZE,
    check_transfer_id,
    parse_expires_at,
    size_allowed,
)

DELETE_AUTH_HEADER = "x-sgraph-transfer-delete-auth"
# upstream's MCP tool parameters (query parameters): declared so that /docs and MCP tool generators list
# them; ServerContext.require_token reads ?access_token= itself (also on the presigned routes)
MCP_TOKEN = Query(default="", max_length=256, description="access token (when no header can be set)")
MCP_DATA = Query(default="", description="the payload as base64 (MCP tools); the body is then ignored")


class CreateRequest(BaseModel):
    file_size_bytes: int = Field(default=0, ge=0, le=MAX_FILE_SIZE)
    content_type_hint: str = Field(default="", max_length=255)
    transfer_id: str = Field(default="", max_length=64)
    max_downloads: int = Field(default=0, ge=0, le=1_000_000)
    auto_delete: bool = False
    expires_at: str = Field(default="", max_length=64)
    delete_auth_hash: str = Field(default="", max_length=128)


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def transparency(meta: TransferMeta) -> dict[str, Any]:
    return {
        "ip": meta.sender_ip_hash,
        "timestamp": meta.created_at,
        "file_size_bytes": meta.file_size_bytes,
        "stored_fields": ["ip_hash", "file_size_bytes", "created_at", "content_type_hint"],
        "encrypted": ["file_name", "file_content"],
        "not_stored": ["decryption_key", "raw_ip"],
    }


def build_router(ctx: ServerContext) -> APIRouter:
    router = APIRouter(prefix="/api/transfers")

    @router.post("/create")
    async def create(body: CreateRequest, request: Request, access_token: str = MCP_TOKEN) -> dict[str, Any]:
        await ctx.check_uses(ctx.require_token(request))  # an exhausted token stops here, not at complete
        expires = parse_expires_at(body.expires_at)
        delete_hash = body.delete_auth_hash.strip().lower()
        if delete_hash and (len(delete_hash) != 64 or any(c not in "0123456789abcdef" for c in delete_hash)):
            raise HTTPException(
                status_code=400, detail="delete_auth_hash must be 64 hex characters (SHA-256)"
            )
        requested = body.transfer_id.strip()
        if requested:
            check_transfer_id(requested)
        for _ in range(5):
            transfer_id = requested or secrets.token_hex(6)
            meta = TransferMeta(
                transfer_id=transfer_id,
                file_size_bytes=body.file_size_bytes,
                content_type_hint=body.content_type_hint,
                sender_ip_hash=hash_ip(client_ip(request)),
                max_downloads=body.max_downloads,
                auto_delete=body.auto_delete,
                expires_at=expires.isoformat() if expires else "",
                delete_auth_hash=delete_hash,
            )
            meta.add_log("create")
            if await ctx.call(ctx.store.create, meta):
                return {"transfer_id": transfer_id, "upload_url": f"/api/transfers/upload/{transfer_id}"}
            if requested:
                raise HTTPException(status_code=409, detail="Transfer id already exists")
        raise HTTPException(status_code=503, detail="Could not allocate a transfer id; try again")

    @router.post("/upload/{transfer_id}")
    async def upload(
        transfer_id: str, request: Request, access_token: str = MCP_TOKEN, data: str = MCP_DATA
    ) -> dict[str, Any]:
        """The raw payload as the body; or (upstream's MCP forms) ``?data=<base64>``, or a JSON body
        ``{"data": "<base64>"}`` (server/upload_forms.py)."""
        ctx.require_token(request)
        check_transfer_id(transfer_id)
        # the create's version when this process wrote it a moment ago: re-checked by the record below
        # (a transfer deleted meanwhile loses the payload just written)
        meta = await ctx.load_pending(transfer_id)
        if meta.status != PENDING:
            raise HTTPException(status_code=404, detail="Transfer not found or not in pending state")
        payload = decode_base64(data, "The data parameter") if data else None
        writer = await ctx.call(ctx.store.payload_writer, transfer_id)
        try:
            limit = meta.file_size_bytes + ENVELOPE_SLACK
            too_large = "Payload is larger than the declared size"
            if payload is not None:
                await write_payload(writer, payload, limit, too_large)
            else:
                await receive_upload(request, writer, limit, too_large)
            size = await ctx.call(writer.commit)
        except BaseException:
            await in_thread(writer.discard)
            raise

        def record(meta: TransferMeta) -> None:
            if meta.status != PENDING:
                raise StoreError(404, "Transfer not found or not in pending state")
            meta.payload_size = size
            meta.parts_log = []
            meta.add_log("upload", size=size)

        await ctx.record_payload(transfer_id, record)
        return {"status": "uploaded", "transfer_id": transfer_id, "size": size}

    @router.post("/complete/{transfer_id}")
    async def complete(transfer_id: str, request: Request, access_token: str = MCP_TOKEN) -> dict[str, Any]:
        token = ctx.require_token(request)
        check_transfer_id(transfer_id)
        # the upload's version when this process recorded that payload a moment ago (one GetObject fewer
        # on S3): its size basis is re-checked under the conditional write; else the store's version
        meta = await ctx.load_pending(transfer_id, recorded=True)
        for _ in range(2):
            if meta.status == DELETED:
                raise HTTPException(status_code=404, detail="Transfer not found or payload not uploaded")
            if meta.status != PENDING:
                break
            finished = await finish_pending(transfer_id, meta, token)
            if finished is not None:
                meta = finished
                break
            meta = await ctx.load(transfer_id)  # the payload changed since that version: judge it afresh
        else:
            raise HTTPException(status_code=503, detail="Transfer metadata is busy; try again")
        if meta.status == DELETED:  # deleted while it was being completed
            raise HTTPException(status_code=404, detail="Transfer not found or payload not uploaded")
        return {
            "transfer_id": transfer_id,
            "download_url": f"/d/{transfer_id}",
            "transparency": transparency(meta),
        }

    async def finish_pending(transfer_id: str, meta: TransferMeta, token: Any) -> TransferMeta | None:
        """Complete a pending transfer judged on ``meta``; None when its payload changed meanwhile."""
        # the size this server recorded when it stored the payload (direct upload, assembled parts,
        # the disk store's presigned PUT) saves asking the store; a payload S3 took straight from a
        # presigned PUT URL is measured there
        recorded = meta.payload_size is not None and not meta.payload_put_url
        size = meta.payload_size if recorded else await ctx.call(ctx.store.payload_size, transfer_id)
        if size is None:
            raise HTTPException(status_code=404, detail="Transfer not found or payload not uploaded")
        if not size_allowed(meta.file_size_bytes, size):
            raise HTTPException(status_code=400, detail="Payload is larger than the declared size")
        # the send is what a token's use pays for (as upstream): one use per transfer, counted once
        # even when the complete is retried; none left → 401 "Access token exhausted"
        await ctx.use_token(token, transfer_id)
        basis = (meta.payload_size, meta.payload_put_url)

        def finish(current: TransferMeta) -> bool:
            if current.status != PENDING:
                return True
            if (current.payload_size, current.payload_put_url) != basis:
                return False  # measured on another payload: nothing written, judged again
            current.status = COMPLETED
            current.completed_at = now_iso()
            current.payload_size = size
            current.upload_id = ""
            current.add_log("complete")
            return True

        current, done = await ctx.update(transfer_id, finish)
        return current if done else None

    @router.get("/info/{transfer_id}")
    async def info(transfer_id: str) -> dict[str, Any]:
        check_transfer_id(transfer_id)
        meta = await ctx.load(transfer_id)
        return meta.info()

    @router.get("/download/{transfer_id}")
    async def download(transfer_id: str, request: Request) -> StreamingResponse:
        check_transfer_id(transfer_id)
        meta = await ctx.load(transfer_id)
        check_downloadable(meta, 404)
        size = meta.payload_size or 0
        if ctx.config.lambda_limits and size > LAMBDA_DOWNLOAD_LIMIT:
            raise HTTPException(
                status_code=413,
                detail="File too large for direct download. "
                f"Use /api/presigned/download-url/{transfer_id} instead.",
            )
        ip_hash = hash_ip(client_ip(request))
        meta, _ = await ctx.update(transfer_id, lambda m: count_download(m, 404, ip_hash, "direct", 0.0))
        chunks = await ctx.call(ctx.store.read_payload, transfer_id)
        return StreamingResponse(
            iterate_in_threadpool(chunks),
            media_type="application/octet-stream",
            headers={"Content-Length": str(size)},
        )

    @router.get("/download-base64/{transfer_id}")
    async def download_base64(transfer_id: str, request: Request) -> StreamingResponse:
        """Upstream's JSON-safe download for MCP tools: ``{transfer_id, data: base64, file_size_bytes}``.
        Counts one download; 413 over 3.75 MB under Lambda limits (the base64 answer must fit)."""
        check_transfer_id(transfer_id)
        meta = await ctx.load(transfer_id)
        check_downloadable(meta, 404)
        size = meta.payload_size or 0
        if ctx.config.lambda_limits and size > BASE64_DOWNLOAD_LAMBDA_LIMIT:
            raise HTTPException(
                status_code=413,
                detail="File too large for base64 download. "
                f"Use /api/presigned/download-url/{transfer_id} instead.",
            )
        ip_hash = hash_ip(client_ip(request))
        meta, _ = await ctx.update(transfer_id, lambda m: count_download(m, 404, ip_hash, "base64", 0.0))
        chunks = await ctx.call(ctx.store.read_payload, transfer_id)
        body = base64_json_chunks(transfer_id, meta.file_size_bytes, chunks)
        return StreamingResponse(
            iterate_in_threadpool(body),
            media_type="application/json",
            headers={"Content-Length": str(base64_json_length(transfer_id, meta.file_size_bytes, size))},
        )

    @router.delete("/delete/{transfer_id}")
    async def delete(transfer_id: str, request: Request) -> dict[str, Any]:
        check_transfer_id(transfer_id)
        given = request.headers.get(DELETE_AUTH_HEADER)
        if not given:
            raise HTTPException(status_code=400, detail=f"Missing {DELETE_AUTH_HEADER} header")
        meta = await ctx.load(transfer_id)
        if not meta.delete_auth_hash:
            raise HTTPException(status_code=409, detail="Delete is not enabled for this transfer")
        given_hash = hashlib.sha256(given.encode()).hexdigest()
        if not hmac.compare_digest(given_hash, meta.delete_auth_hash):
            raise HTTPException(status_code=403, detail="Delete authorisation does not match")
        if meta.status == DELETED:
            await ctx.call(ctx.store.delete_payload, transfer_id)  # converges after an interrupted delete
            return {"status": "already_deleted", "transfer_id": transfer_id}

        # Mark first, then remove: an upload or assembly finishing meanwhile finds the transfer deleted
        # when it records its payload and removes that payload itself (ServerContext.record_payload).
        def mark(meta: TransferMeta) -> str:
            upload_id = meta.upload_id
            meta.status = DELETED
            meta.upload_id = ""
            meta.add_log("delete")
            return upload_id

        _, upload_id = await ctx.update(transfer_id, mark)
        if upload_id:
            with contextlib.suppress(HTTPException):
                await ctx.call(ctx.store.abort_multipart, transfer_id, upload_id)
        await ctx.call(ctx.store.delete_payload, transfer_id)
        return {"status": "deleted", "transfer_id": transfer_id}

    return router
