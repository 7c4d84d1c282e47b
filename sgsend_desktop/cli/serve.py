"""`sgsend serve`: run the SGraph Send-compatible server (disk or S3 storage)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from sgsend_desktop.core.errors import SendError
from sgsend_desktop.server.config import (
    DEFAULT_ABANDONED_AFTER,
    DEFAULT_KEEPALIVE,
    DEFAULT_MAX_EVENT_STREAMS,
    DEFAULT_MAX_EVENT_STREAMS_PER_TRANSFER,
    DEFAULT_TICKET_MAX_AGE,
    DEFAULT_URL_EXPIRY,
    S3Settings,
    ServerConfig,
)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run the SGraph Send-compatible server",
        description="Serve the SGraph Send API (with presigned multipart, SSE progress and S3 storage).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (0 = pick a free one; default 8080)")
    parser.add_argument("--storage", choices=("disk", "s3"), default="disk")
    parser.add_argument("--data-dir", type=Path, help="disk storage directory (default: user data dir)")
    parser.add_argument("--s3-endpoint", help="S3-compatible endpoint URL (default: AWS)")
    parser.add_argument("--s3-bucket", help="bucket holding payloads and metadata")
    parser.add_argument("--s3-region", default=None, help="region (default AWS_REGION or us-east-1)")
    parser.add_argument("--s3-prefix", default="", help="key prefix inside the bucket")
    parser.add_argument("--s3-access-key", help="access key id (default: AWS_ACCESS_KEY_ID / profiles)")
    parser.add_argument("--s3-secret-key", help="secret key (default: AWS_SECRET_ACCESS_KEY / profiles)")
    parser.add_argument("--access-token", help="require this x-sgraph-access-token on write routes")
    parser.add_argument(
        "--tokens", type=Path, metavar="FILE",
        help="access tokens with usage limits: lines 'name token uses' (uses: a number, 'unlimited' or "
        "'revoked') or JSON; each completed upload uses one; re-read when the file changes",
    )
    parser.add_argument(
        "--public-url", help="absolute base URL for presigned URLs (e.g. https://send.example)"
    )
    parser.add_argument(
        "--no-lambda-limits", action="store_true", help="lift the 6 MB request / 5 MiB download limits"
    )
    parser.add_argument(
        "--url-expiry", type=int, default=DEFAULT_URL_EXPIRY, help="presigned URL lifetime, seconds"
    )
    parser.add_argument(
        "--ticket-max-age", type=int, default=DEFAULT_TICKET_MAX_AGE,
        help="how long a download ticket can refresh its URL, seconds (default 7 days)",
    )
    parser.add_argument(
        "--keepalive", type=float, default=DEFAULT_KEEPALIVE, help="SSE keep-alive interval, seconds"
    )
    parser.add_argument(
        "--max-event-streams", type=int, default=DEFAULT_MAX_EVENT_STREAMS,
        help="open event streams per process, 503 beyond (default %(default)s)",
    )
    parser.add_argument(
        "--max-event-streams-per-transfer", type=int, default=DEFAULT_MAX_EVENT_STREAMS_PER_TRANSFER,
        help="open event streams per transfer, 429 beyond (default %(default)s)",
    )
    parser.add_argument(
        "--max-connections", type=int, default=None,
        help="concurrent connections, 503 beyond (default: from the open-file limit, at most 4096)",
    )
    parser.add_argument(
        "--abandoned-after", type=float, default=DEFAULT_ABANDONED_AFTER,
        help="remove transfers left pending (never completed) this many idle seconds; 0 = never "
        "(default 86400 = 24 h)",
    )
    parser.add_argument(
        "--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug")
    )
    parser.set_defaults(handler=run)


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    if args.url_expiry < 1 or args.url_expiry > 7 * 24 * 3600:
        raise SendError("--url-expiry must be between 1 second and 7 days")
    if args.ticket_max_age < 1 or args.ticket_max_age > 366 * 24 * 3600:
        raise SendError("--ticket-max-age must be between 1 second and 366 days")
    if args.keepalive <= 0:
        raise SendError("--keepalive must be positive")
    if args.max_event_streams < 1 or args.max_event_streams_per_transfer < 1:
        raise SendError("--max-event-streams and --max-event-streams-per-transfer must be at least 1")
    if args.max_connections is not None and args.max_connections < 2:
        raise SendError("--max-connections must be at least 2")
    if args.abandoned_after < 0:
        raise SendError("--abandoned-after must be 0 (never) or a number of seconds")
    tokens_file = getattr(args, "tokens", None)
    if tokens_file is not None and not Path(tokens_file).is_file():
        raise SendError(f"--tokens: {tokens_file} is not a file")
    s3 = None
    if args.storage == "s3":
        if not args.s3_bucket:
            raise SendError("S3 storage needs --s3-bucket")
        s3 = S3Settings(
            bucket=args.s3_bucket,
            endpoint=args.s3_endpoint,
            region=args.s3_region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or "us-east-1",
            access_key=args.s3_access_key or None,
            secret_key=args.s3_secret_key or None,
            prefix=args.s3_prefix,
        )
    return ServerConfig(
        storage=args.storage,
        data_dir=args.data_dir,
        s3=s3,
        access_token=args.access_token or os.environ.get("SGSEND_ACCESS_TOKEN") or None,
        tokens_file=Path(tokens_file).absolute() if tokens_file is not None else None,
        public_url=args.public_url,
        lambda_limits=not args.no_lambda_limits,
        url_expiry=args.url_expiry,
        keepalive=args.keepalive,
        ticket_max_age=args.ticket_max_age,
        max_event_streams=args.max_event_streams,
        max_event_streams_per_transfer=args.max_event_streams_per_transfer,
        max_connections=args.max_connections,
        abandoned_after=args.abandoned_after,
        test_hooks=os.environ.get("SGSEND_TEST_HOOKS") == "1",
    )


def run(args: argparse.Namespace) -> int:
    from sgsend_desktop.server.runner import serve

    config = config_from_args(args)
    try:
        return serve(config, args.host, args.port, args.log_level)
    except OSError as error:
        raise SendError(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}") from None
    except RuntimeError as error:
        raise SendError(str(error)) from None
