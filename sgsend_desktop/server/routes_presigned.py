"""Upstream `/api/presigned/*` plus this project's extensions (`part-urls`, `parts`,
`download-url/refresh`)."""

from __future__ import annotations

import contextlib
import hashlib
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from sgsend_desktop.server.config import LAMBDA_REQUEST_LIMIT
from sgsend_desktop.server.context import ServerContext, check_downloadable, count_download
from sgsend_desktop.server.meta import COMPLETED, DELETED, PENDING, TransferMeta, hash_ip
from sgsend_desktop.server.routes_transfers import client_ip
from sgsend_desktop.server.storage.base import StoredPart, StoreError
from sgsend_desktop.server.tickets import MAX_TICKET_CHARS
from sgsend_desktop.server.validation import (
    MAX_FILE_SIZE,
    MAX_PART_SIZE,
    MAX_PARTS,
    MIN_PART_SIZE,
    check_part_number,
    check_transfer_id,
    check_upload_id,
    size_allowed,
)


class InitiateRequest(BaseModel):
    transfer_id: str = Field(max_length=64)
    file_size_bytes: int = Field(ge=0, le=MAX_FILE_SIZE)
    num_parts: int = Field(default=0, ge=0, le=1_000_000)


class PartEtag(BaseModel):
    part_number: int
    etag: str = Field(max_length=128)


class CompleteRequest(BaseModel):
    transfer_id: str = Field(max_length=64)
    upload_id: str = Field(max_length=512)
    parts: list[PartEtag] = Field(max_length=MAX_PARTS)


class PartUrlsRequest(BaseModel):
    transfer_id: str = Field(max_length=64)
    upload_id: str = Field(max_length=512)
    part_numbers: list[int] = Field(max_length=MAX_PARTS)


class RefreshRequest(BaseModel):
    transfer_id: str = Field(max_length=64)
    # longer than any real ticket, so that an over-long one is a clean 403 rather than a 422
    download_ticket: str = Field(max_length=4 * MAX_TICKET_CHARS)


GRANT_HEADER = "x-sgsend-download-grant"  # a retried download-url is not counted twice (docs/api.md)


def check_refreshable(meta: TransferMeta) -> None:
    """download_url's gate minus max_downloads (the ticket's grant was counted when it was issued)."""
    if meta.status == DELETED:
        raise StoreError(404, "Transfer not found or deleted")
    if meta.is_expired():  # before the wipe's 404, as check_downloadable
        raise StoreError(410, "Transfer expired")
    if meta.payload_purged:
        raise StoreError(404, "Transfer not found or deleted")
    if meta.status != COMPLETED:
        raise StoreError(409, "Transfer not completed")


def plan_parts(file_size: int, num_parts: int) -> tuple[int, int]:
    """Upstream's rule: 10 MiB parts when num_parts is 0, else max(5 MiB, ceil(size / num_parts))."""
    if num_parts <= 0:
        return max(1, -(-file_size // MAX_PART_SIZE)), MAX_PART_SIZE
    return num_parts, max(MIN_PART_SIZE, -(-file_size // num_parts))


def build_router(ctx: ServerContext) -> APIRouter:
    router = APIRouter(prefix="/api/presigned")
    expiry = ctx.config.url_expiry

    async def pending_meta(transfer_id: str) -> TransferMeta:
        check_transfer_id(transfer_id)
        meta = await ctx.load(transfer_id)
        if meta.status != PENDING:
            raise HTTPException(status_code=409, detail="Transfer not in pending state")
        return meta

    def require_upload(meta: TransferMeta, upload_id: str) -> None:
        check_upload_id(upload_id)
        if meta.upload_id != upload_id:
            raise HTTPException(status_code=404, detail="No such upload for this transfer")

    async def part_urls(
        transfer_id: str, upload_id: str, numbers: list[int], base: str
    ) -> list[dict[str, Any]]:
        def sign_all() -> list[dict[str, Any]]:
            return [
                {"part_number": n, "upload_url": ctx.store.part_url(transfer_id, upload_id, n, base, expiry)}
                for n in numbers
            ]

        return await ctx.call(sign_all)

    @router.get("/capabilities")
    async def capabilities() -> dict[str, Any]:
        return {
            "presigned_upload": True,
            "multipart_upload": True,
            "presigned_download": True,
            "direct_upload": True,
            "max_part_size": MAX_PART_SIZE,
            "min_part_size": MIN_PART_SIZE,
            "max_parts": MAX_PARTS,
            "events": True,
            "part_urls": True,
            "list_parts": True,
            "download_refresh": True,
            "storage": ctx.store.kind,
            "lambda_limits": ctx.config.lambda_limits,
            "max_request_bytes": LAMBDA_REQUEST_LIMIT if ctx.config.lambda_limits else None,
            "url_expiry": expiry,
        }

    @router.post("/initiate")
    async def initiate(body: InitiateRequest, request: Request) -> dict[str, Any]:
        ctx.require_token(request)
        check_transfer_id(body.transfer_id)
        meta = await ctx.load(body.transfer_id)
        if meta.status != PENDING:
            raise HTTPException(status_code=409, detail="Transfer not in pending state")
        num_parts, part_size = plan_parts(body.file_size_bytes, body.num_parts)
        if num_parts > MAX_PARTS:
            raise HTTPException(status_code=400, detail=f"Maximum {MAX_PARTS} parts allowed")
        transfer_id = body.transfer_id
        previous = meta.upload_id
        stale_parts = 0
        if previous:  # a new initiate replaces the old multipart upload (its parts are discarded)
            try:
                stale_parts = len(await ctx.call(ctx.store.list_parts, transfer_id, previous))
                await ctx.call(ctx.store.abort_multipart, transfer_id, previous)
            except HTTPException:
                pass
        upload_id = await ctx.call(ctx.store.create_multipart, transfer_id)

        def record(meta: TransferMeta) -> None:
            if meta.status != PENDING:
                raise StoreError(409, "Transfer not in pending state")
            meta.upload_id = upload_id
            meta.upload_part_size = part_size
            meta.event_offset += stale_parts
            meta.add_log("multipart_initiated", num_parts=num_parts, part_size=part_size)

        try:
            await ctx.update(transfer_id, record)
        except HTTPException:  # deleted (or removed) meanwhile: the new upload must not stay behind
            with contextlib.suppress(HTTPException):
                await ctx.call(ctx.store.abort_multipart, transfer_id, upload_id)
            raise
        urls = await part_urls(transfer_id, upload_id, list(range(1, num_parts + 1)), ctx.base_url(request))
        return {"transfer_id": transfer_id, "upload_id": upload_id, "part_urls": urls, "part_size": part_size}

    @router.post("/part-urls")
    async def fresh_part_urls(body: PartUrlsRequest, request: Request) -> dict[str, Any]:
        ctx.require_token(request)
        meta = await pending_meta(body.transfer_id)
        require_upload(meta, body.upload_id)
        numbers = [check_part_number(n) for n in body.part_numbers]
        urls = await part_urls(body.transfer_id, body.upload_id, numbers, ctx.base_url(request))
        return {
            "transfer_id": body.transfer_id,
            "upload_id": body.upload_id,
            "part_urls": urls,
            "expires_in": expiry,
        }

    @router.get("/parts/{transfer_id}/{upload_id}")
    async def list_parts(transfer_id: str, upload_id: str, request: Request) -> dict[str, Any]:
        ctx.require_token(request)
        check_transfer_id(transfer_id)
        meta = await ctx.load(transfer_id)
        require_upload(meta, upload_id)
        parts: list[StoredPart] = await ctx.call(ctx.store.list_parts, transfer_id, upload_id)
        return {
            "transfer_id": transfer_id,
            "upload_id": upload_id,
            "parts": [{"part_number": p.part_number, "etag": p.etag, "size": p.size} for p in parts],
        }

    def assembled(meta: TransferMeta, upload_id: str) -> dict[str, Any] | None:
        """A retried complete of the upload already assembled: the same answer again (as S3 gives)."""
        if meta.upload_id != upload_id and meta.assembled_upload_id == upload_id:
            return {"transfer_id": meta.transfer_id, "status": "assembled", "etag": meta.assembled_etag}
        return None

    @router.post("/complete")
    async def complete(body: CompleteRequest, request: Request) -> dict[str, Any]:
        ctx.require_token(request)
        check_transfer_id(body.transfer_id)
        check_upload_id(body.upload_id)
        # one assembly at a time per transfer: a client retrying a slow complete must not race the first
        async with ctx.transfer_lock(body.transfer_id):
            meta = await pending_meta(body.transfer_id)
            done = assembled(meta, body.upload_id)
            if done is not None:
                return done
            require_upload(meta, body.upload_id)
            try:
                return await assemble(meta, body)
            except HTTPException as error:
                if error.status_code != 404:
                    raise
                # another server process on the same bucket may have assembled it meanwhile
                done = assembled(await ctx.load(body.transfer_id), body.upload_id)
                if done is None:
                    raise
                return done

    async def assemble(meta: TransferMeta, body: CompleteRequest) -> dict[str, Any]:
        if not body.parts:
            raise HTTPException(status_code=400, detail="No parts given")
        numbers = [check_part_number(p.part_number) for p in body.parts]
        if len(set(numbers)) != len(numbers):
            raise HTTPException(status_code=400, detail="Each part number may appear only once")
        stored = {
            p.part_number: p for p in await ctx.call(ctx.store.list_parts, body.transfer_id, body.upload_id)
        }
        chosen = sorted(numbers)
        missing = [n for n in chosen if n not in stored]
        if missing:
            raise HTTPException(status_code=400, detail=f"Parts not uploaded: {missing[:10]}")
        for number in chosen[:-1]:
            if stored[number].size < MIN_PART_SIZE:
                raise HTTPException(
                    status_code=400, detail=f"Part {number} is under 5 MiB and is not the last part"
                )
        total = sum(stored[n].size for n in chosen)
        if not size_allowed(meta.file_size_bytes, total):
            raise HTTPException(status_code=400, detail="Parts add up to more than the declared size")
        pairs = [(p.part_number, p.etag) for p in body.parts]
        etag = await ctx.call(ctx.store.complete_multipart, body.transfer_id, body.upload_id, pairs)
        arrival = sorted((stored[n] for n in chosen), key=lambda p: (p.last_modified, p.part_number))

        def record(meta: TransferMeta) -> None:
            if meta.status != PENDING or meta.upload_id != body.upload_id:
                raise StoreError(409, "The transfer changed while its parts were being assembled")
            meta.upload_id = ""
            meta.upload_part_size = 0
            meta.assembled_upload_id = body.upload_id
            meta.assembled_etag = etag
            meta.payload_size = total
            meta.parts_log = [[p.part_number, p.size] for p in arrival]
            meta.add_log("multipart_completed", parts=len(chosen))

        try:
            # deleted meanwhile: record_payload removes the payload just assembled
            await ctx.record_payload(body.transfer_id, record)
        except HTTPException:
            current = await ctx.call(ctx.store.load, body.transfer_id)
            if current is None or current.status == DELETED:
                raise HTTPException(status_code=404, detail="Transfer deleted during assembly") from None
            done = assembled(current, body.upload_id)  # another process on the bucket recorded it first
            if done is not None:
                return done
            raise
        return {"transfer_id": body.transfer_id, "status": "assembled", "etag": etag}

    async def cancel_upload(transfer_id: str, upload_id: str, request: Request) -> dict[str, Any]:
        ctx.require_token(request)
        check_transfer_id(transfer_id)
        meta = await ctx.load(transfer_id)
        require_upload(meta, upload_id)
        try:
            stale = len(await ctx.call(ctx.store.list_parts, transfer_id, upload_id))
        except HTTPException:
            stale = 0
        await ctx.call(ctx.store.abort_multipart, transfer_id, upload_id)

        def record(meta: TransferMeta) -> None:
            if meta.upload_id == upload_id:
                meta.upload_id = ""
                meta.event_offset += stale
            meta.add_log("multipart_aborted")

        await ctx.update(transfer_id, record)
        return {"transfer_id": transfer_id, "status": "cancelled"}

    @router.post("/cancel/{transfer_id}/{upload_id}")
    async def cancel(transfer_id: str, upload_id: str, request: Request) -> dict[str, Any]:
        return await cancel_upload(transfer_id, upload_id, request)

    @router.post("/abort/{transfer_id}/{upload_id}")
    async def abort(transfer_id: str, upload_id: str, request: Request) -> dict[str, Any]:
        return await cancel_upload(transfer_id, upload_id, request)

    @router.get("/upload-url/{transfer_id}")
    async def upload_url(transfer_id: str, request: Request) -> dict[str, Any]:
        ctx.require_token(request)
        meta = await pending_meta(transfer_id)
        if not ctx.store.signs_own_urls and not meta.payload_put_url:
            # the PUT goes straight to S3, unseen by the server: complete must ask the store for the size

            def mark(meta: TransferMeta) -> None:
                if meta.status != PENDING:
                    raise StoreError(409, "Transfer not in pending state")
                meta.payload_put_url = True

            await ctx.update(transfer_id, mark)
        url = await ctx.call(ctx.store.upload_url, transfer_id, ctx.base_url(request), expiry)
        return {"transfer_id": transfer_id, "upload_url": url, "expires_in": expiry}

    @router.get("/download-url/{transfer_id}")
    async def download_url(transfer_id: str, request: Request) -> dict[str, Any]:
        check_transfer_id(transfer_id)
        meta = await ctx.load(transfer_id)
        grant = request.headers.get(GRANT_HEADER, "")[:256]
        grant_hash = hashlib.sha256(grant.encode()).hexdigest() if grant else None
        check_downloadable(meta, 409, already_counted=grant_hash in meta.grants)
        ip_hash = hash_ip(client_ip(request))
        await ctx.update(transfer_id, lambda m: count_download(m, 409, ip_hash, "presigned", float(expiry),
                                                               grant_hash))
        url = await ctx.call(ctx.store.download_url, transfer_id, ctx.base_url(request), expiry)
        return {
            "transfer_id": transfer_id,
            "download_url": url,
            "expires_in": expiry,
            "download_ticket": ctx.tickets.issue(transfer_id),
        }

    @router.post("/download-url/refresh")
    async def refresh_download_url(body: RefreshRequest, request: Request) -> dict[str, Any]:
        """A fresh URL for a client that already holds a counted grant: not counted again."""
        transfer_id = check_transfer_id(body.transfer_id)
        if not ctx.tickets.verify(body.download_ticket, transfer_id):
            raise HTTPException(status_code=403, detail="Invalid or expired download ticket")
        meta = await ctx.load(transfer_id)  # 404 unknown; an auto_delete payload past its grace is wiped
        try:
            check_refreshable(meta)
        except StoreError as error:
            raise HTTPException(status_code=error.status, detail=error.detail) from None
        ip_hash = hash_ip(client_ip(request))

        def record(meta: TransferMeta) -> None:
            check_refreshable(meta)  # again, inside the atomic update
            meta.add_log("download_url_refreshed", ip_hash=ip_hash)
            if meta.auto_delete and meta.purge_after is not None:
                # the wipe waits for the last issued URL, this one included
                meta.purge_after = max(meta.purge_after, time.time() + expiry)

        await ctx.update(transfer_id, record)
        url = await ctx.call(ctx.store.download_url, transfer_id, ctx.base_url(request), expiry)
        return {
            "transfer_id": transfer_id,
            "download_url": url,
            "expires_in": expiry,
            "download_ticket": body.download_ticket,
        }

    return router
