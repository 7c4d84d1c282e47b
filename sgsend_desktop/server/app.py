"""Build the FastAPI application for one configuration."""

from __future__ import annotations

import logging
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse

from sgsend_desktop import __version__
from sgsend_desktop.server import (
    routes_events,
    routes_pages,
    routes_presigned,
    routes_storage,
    routes_test,
    routes_tokens,
    routes_transfers,
)
from sgsend_desktop.server.config import LAMBDA_REQUEST_LIMIT, ServerConfig
from sgsend_desktop.server.context import ServerContext
from sgsend_desktop.server.fdlimit import is_out_of_files, max_connections
from sgsend_desktop.server.limits import RequestSizeLimit
from sgsend_desktop.server.slots import StreamSlots
from sgsend_desktop.server.storage.base import StoreError, TransferStore
from sgsend_desktop.server.storage.disk import DiskStore
from sgsend_desktop.server.tickets import TicketSigner
from sgsend_desktop.server.timing import ServerTiming
from sgsend_desktop.server.tokens import TokenBook

log = logging.getLogger("sgsend.server")


def make_store(config: ServerConfig) -> TransferStore:
    if config.storage == "s3":
        from sgsend_desktop.server.storage.s3 import S3Store

        if config.s3 is None:
            raise ValueError("S3 storage needs --s3-bucket")
        store = S3Store(config.s3)
        store.check_bucket()
        try:
            store.ticket_secret()  # fail at start-up, not on the first download
        except (ClientError, BotoCoreError) as error:
            raise RuntimeError(f"cannot read or create the ticket secret in the bucket: {error}") from error
        return store
    if config.storage != "disk":
        raise ValueError(f"Unknown storage backend {config.storage!r}: use disk or s3")
    return DiskStore(config.resolved_data_dir)


def create_app(
    config: ServerConfig, store: TransferStore | None = None, should_exit: Callable[[], bool] | None = None
) -> FastAPI:
    tokens = TokenBook(config.access_token, config.tokens_file)  # TokenFileError: one sentence at start-up
    store = store or make_store(config)
    tickets = TicketSigner(store.ticket_secret(), config.ticket_max_age)
    ctx = ServerContext(config=config, store=store, tickets=tickets, tokens=tokens)
    # event streams may take at most half of the connections, so that the API keeps answering
    ctx.streams = StreamSlots(
        total=max(1, min(config.max_event_streams, max_connections(config.max_connections) // 2)),
        per_transfer=max(1, config.max_event_streams_per_transfer),
    )
    if should_exit is not None:
        ctx.should_exit = should_exit
    app = FastAPI(title="SGraph Send (sgsend serve)", version=__version__, docs_url="/docs", redoc_url=None)
    app.state.ctx = ctx

    @app.exception_handler(StoreError)
    async def store_error(_: Request, error: StoreError) -> JSONResponse:
        return JSONResponse({"detail": error.detail}, status_code=error.status)

    @app.exception_handler(ClientError)
    @app.exception_handler(BotoCoreError)
    async def storage_unavailable(_: Request, error: Exception) -> JSONResponse:
        log.warning("storage error: %s", error)
        return JSONResponse({"detail": "Storage backend error; try again"}, status_code=502)

    @app.exception_handler(OSError)
    async def out_of_files(_: Request, error: Exception) -> JSONResponse:
        """EMFILE/ENFILE (out of file descriptors) is a moment of overload: a 503, not a 500."""
        if not is_out_of_files(error):
            raise error  # any other OSError is a bug: the usual 500 (and traceback)
        log.warning("out of file descriptors: a request was refused with 503")
        return JSONResponse(
            {"detail": "The server is busy (out of file descriptors); retry shortly."},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    app.include_router(routes_transfers.build_router(ctx))
    app.include_router(routes_tokens.build_router(ctx))
    app.include_router(routes_events.build_router(ctx))
    app.include_router(routes_presigned.build_router(ctx))
    if isinstance(store, DiskStore):
        app.include_router(routes_storage.build_router(ctx, store))
    if config.test_hooks:
        app.include_router(routes_test.build_router(ctx))
    app.include_router(routes_pages.build_router())

    # JSON bodies always, and every /api/ body under Lambda limits; inside CORS so a browser reads the 413
    app.add_middleware(
        RequestSizeLimit, lambda_limits=config.lambda_limits, lambda_limit=LAMBDA_REQUEST_LIMIT
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD"],
        allow_headers=["*"],
        expose_headers=["ETag", "Content-Range", "Content-Length", "Accept-Ranges"],
        max_age=3600,
    )
    app.add_middleware(ServerTiming)  # outermost: every answer, the CORS and size refusals too
    return app
