"""The disk backend's stand-in for S3: signed PUT (whole object or one part) and ranged GET.

Not under the Lambda limit (S3 is not either), but bodies stream to disk chunk by chunk, and no body is
kept beyond what the transfer declared: a whole object at most the declared size, a part at most the
upload's part size (10 MiB if that is larger: the web UI's slice) and never more than the declared size.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool

from sgsend_desktop.server.context import ServerContext, receive_body
from sgsend_desktop.server.meta import DELETED, PENDING, TransferMeta
from sgsend_desktop.server.ranges import RangeError, parse_range
from sgsend_desktop.server.storage.base import StoreError
from sgsend_desktop.server.storage.disk import DiskStore, FileWriter, part_resource, payload_resource
from sgsend_desktop.server.timing import in_thread
from sgsend_desktop.server.validation import (
    ENVELOPE_SLACK,
    MAX_PART_SIZE,
    MAX_S3_PART,
    check_part_number,
    check_transfer_id,
    check_upload_id,
)

SIGNATURE_FAILED = "Request signature does not match or the URL has expired"


def part_limit(meta: TransferMeta) -> int:
    """The most one part of the transfer's multipart upload may hold.

    The planned part size from initiate (at least 10 MiB, what the upstream web UI slices whatever the
    plan says), and never more than the transfer's declared size; records from before the plan was kept
    are bounded by the declared size alone."""
    declared = meta.file_size_bytes + ENVELOPE_SLACK
    per_part = max(meta.upload_part_size, MAX_PART_SIZE) if meta.upload_part_size else MAX_S3_PART
    return min(per_part, declared)


def declared_length(request: Request) -> int | None:
    text = request.headers.get("content-length")
    return int(text) if text is not None and text.isascii() and text.isdigit() else None


def build_router(ctx: ServerContext, store: DiskStore) -> APIRouter:
    router = APIRouter(prefix="/storage")

    def verify(request: Request, method: str, resource: str) -> None:
        query = request.query_params
        if not store.signer.verify(method, resource, query.get("expires"), query.get("sig")):
            raise HTTPException(status_code=403, detail=SIGNATURE_FAILED)

    async def receive(writer: FileWriter, request: Request, limit: int, too_large: str, status: int) -> None:
        try:
            await receive_body(request, writer, limit, too_large, status)
        except BaseException:
            await in_thread(writer.discard)
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
        limit = meta.file_size_bytes + ENVELOPE_SLACK
        too_large = f"Body larger than the transfer's declared size (at most {limit} bytes)"
        length = declared_length(request)
        if length is not None and length > limit:
            raise HTTPException(status_code=413, detail=too_large)
        writer = await ctx.call(store.payload_writer, transfer_id)
        assert isinstance(writer, FileWriter)
        await receive(writer, request, limit, too_large, 413)
        etag = writer.etag
        size = await ctx.call(writer.commit)

        def record(meta: TransferMeta) -> None:
            if meta.status != PENDING:
                raise StoreError(409, "Transfer not in pending state")
            meta.payload_size = size
            meta.parts_log = []
            meta.add_log("upload", size=size, via="presigned_put")

        await ctx.record_payload(transfer_id, record)
        return Response(status_code=200, headers={"ETag": etag})

    async def put_part(transfer_id: str, upload_id: str, part_number: int, request: Request) -> Response:
        ctx.stats.part_put_started(transfer_id)
        try:
            if ctx.config.test_hooks and ctx.stats.take_fault():
                raise HTTPException(status_code=503, detail="Injected fault (test hook)")
            meta = await ctx.load(transfer_id)
            if meta.status != PENDING:
                raise HTTPException(status_code=409, detail="Transfer not in pending state")
            if meta.upload_id != upload_id:
                raise HTTPException(status_code=404, detail="No such upload for this transfer")
            limit = part_limit(meta)
            too_large = (
                f"Part {part_number} is larger than allowed: at most {limit} bytes "
                "(the upload's part size, and no more than the transfer's declared size)"
            )
            length = declared_length(request)
            if length is not None and length > limit:  # refused before a byte is read
                raise HTTPException(status_code=413, detail=too_large)
            writer = await ctx.call(store.part_writer, transfer_id, upload_id, part_number)
            await receive(writer, request, limit, too_large, 413)
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
