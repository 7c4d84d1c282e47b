"""The disk backend's stand-in for S3: signed PUT (whole object or one part) and ranged GET.

Not under the Lambda limit (S3 is not either), but bodies stream to disk chunk by chunk.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from sgsend_desktop.server.context import ServerContext, receive_body
from sgsend_desktop.server.meta import DELETED, PENDING, TransferMeta
from sgsend_desktop.server.ranges import RangeError, parse_range
from sgsend_desktop.server.storage.base import StoreError
from sgsend_desktop.server.storage.disk import DiskStore, FileWriter, part_resource, payload_resource
from sgsend_desktop.server.validation import (
    MAX_S3_PART,
    check_part_number,
    check_transfer_id,
    check_upload_id,
)

SIGNATURE_FAILED = "Request signature does not match or the URL has expired"


def build_router(ctx: ServerContext, store: DiskStore) -> APIRouter:
    router = APIRouter(prefix="/storage")

    def verify(request: Request, method: str, resource: str) -> None:
        query = request.query_params
        if not store.signer.verify(method, resource, query.get("expires"), query.get("sig")):
            raise HTTPException(status_code=403, detail=SIGNATURE_FAILED)

    async def receive(writer: FileWriter, request: Request, limit: int) -> None:
        try:
            await receive_body(request, writer, limit, "Body larger than allowed")
        except BaseException:
            await run_in_threadpool(writer.discard)
            raise

    @router.put("/{transfer_id}/payload")
    async def put_object(transfer_id: str, request: Request) -> Response:
        check_transfer_id(transfer_id)
        query = request.query_params
        part_text, upload_id = query.get("partNumber"), query.get("uploadId")
        if part_text is not None or upload_id is not None:
            if not part_text or not (part_text.isascii() and part_text.isdigit()) or not upload_id:
                raise HTTPException(status_code=400, detail="partNumber and uploadId go together")
            part_number = check_part_number(int(part_text))
            check_upload_id(upload_id)
            verify(request, "PUT", part_resource(transfer_id, upload_id, part_number))
            return await put_part(transfer_id, upload_id, part_number, request)
        verify(request, "PUT", payload_resource(transfer_id))
        meta = await ctx.load(transfer_id)
        if meta.status != PENDING:
            raise HTTPException(status_code=409, detail="Transfer not in pending state")
        writer = await ctx.call(store.payload_writer, transfer_id)
        assert isinstance(writer, FileWriter)
        await receive(writer, request, meta.file_size_bytes + 28)
        etag = writer.etag
        size = await ctx.call(writer.commit)

        def record(meta: TransferMeta) -> None:
            meta.payload_size = size
            meta.parts_log = []
            meta.add_log("upload", size=size, via="presigned_put")

        await ctx.update(transfer_id, record)
        return Response(status_code=200, headers={"ETag": etag})

    async def put_part(transfer_id: str, upload_id: str, part_number: int, request: Request) -> Response:
        ctx.stats.part_put_started(transfer_id)
        try:
            if ctx.config.test_hooks and ctx.stats.take_fault():
                raise HTTPException(status_code=503, detail="Injected fault (test hook)")
            meta = await ctx.load(transfer_id)
            if meta.status != PENDING:
                raise HTTPException(status_code=409, detail="Transfer not in pending state")
            writer = await ctx.call(store.part_writer, transfer_id, upload_id, part_number)
            await receive(writer, request, MAX_S3_PART)
            etag = await ctx.call(store.commit_part, writer, part_number)
        finally:
            ctx.stats.part_put_finished()
        ctx.notifier.notify(transfer_id)
        return Response(status_code=200, headers={"ETag": etag})

    @router.get("/{transfer_id}/payload")
    async def get_object(transfer_id: str, request: Request) -> Response:
        check_transfer_id(transfer_id)
        verify(request, "GET", payload_resource(transfer_id))
        meta = await ctx.load(transfer_id)  # no counting here: download-url already counted
        if meta.status == DELETED or meta.payload_purged:
            raise HTTPException(status_code=404, detail="Transfer not found or deleted")
        size = await ctx.call(store.payload_size, transfer_id)
        if size is None:
            raise HTTPException(status_code=404, detail="Payload not found")
        header = request.headers.get("range")
        headers = {"Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        if header is None:
            start, end, status = 0, size - 1, 200
        else:
            ctx.stats.range_gets += 1
            try:
                start, end = parse_range(header, size)
            except RangeError:
                return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(max(0, end - start + 1))
        if size == 0:
            return Response(status_code=200, content=b"", headers=headers)
        try:
            chunks = store.read_payload(transfer_id, start, end)
        except StoreError as error:
            raise HTTPException(status_code=error.status, detail=error.detail) from None
        return StreamingResponse(iterate_in_threadpool(chunks), status_code=status, headers=headers)

    return router
