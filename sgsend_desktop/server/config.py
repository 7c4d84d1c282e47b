"""Settings of one `sgsend serve` process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_data_dir

LAMBDA_REQUEST_LIMIT = 6_291_456  # bytes: AWS Lambda's synchronous request payload limit
LAMBDA_DOWNLOAD_LIMIT = 5 * 1024 * 1024  # upstream refuses direct downloads above this
DEFAULT_URL_EXPIRY = 3600
DEFAULT_KEEPALIVE = 15.0
DEFAULT_TICKET_MAX_AGE = 7 * 24 * 3600  # download tickets (download-url/refresh) live this long
DEFAULT_MAX_EVENT_STREAMS = 256  # open event streams in one process (unauthenticated: bounded)
DEFAULT_MAX_EVENT_STREAMS_PER_TRANSFER = 8
DEFAULT_ABANDONED_AFTER = 24 * 3600  # a pending transfer idle this long is removed (0 = never)
# the desktop app's own local server: a send paused over a holiday must still resume where it stopped
EMBEDDED_ABANDONED_AFTER = 30 * 24 * 3600


def default_data_dir() -> Path:
    return Path(user_data_dir("sgsend-desktop")) / "server"


@dataclass(frozen=True)
class S3Settings:
    bucket: str
    endpoint: str | None = None  # None = AWS
    region: str = "us-east-1"
    access_key: str | None = None  # None = boto3's usual chain (env vars, profiles, roles)
    secret_key: str | None = None
    prefix: str = ""


@dataclass(frozen=True)
class ServerConfig:
    storage: str = "disk"  # "disk" or "s3"
    data_dir: Path | None = None  # disk backend (and the disk backend's signing secret)
    s3: S3Settings | None = None
    access_token: str | None = None
    tokens_file: Path | None = None  # --tokens: named tokens with usage limits (server/tokens.py)
    public_url: str | None = None  # absolute base for presigned URLs; else the request's base URL
    lambda_limits: bool = True
    url_expiry: int = DEFAULT_URL_EXPIRY
    keepalive: float = DEFAULT_KEEPALIVE
    ticket_max_age: int = DEFAULT_TICKET_MAX_AGE
    poll_interval: float = 0.5  # SSE: how often the store is re-read while a client listens
    idle_poll_interval: float = 5.0  # SSE on a finished transfer: polling backs off up to this while idle
    max_event_streams: int = DEFAULT_MAX_EVENT_STREAMS
    max_event_streams_per_transfer: int = DEFAULT_MAX_EVENT_STREAMS_PER_TRANSFER
    max_connections: int | None = None  # uvicorn's limit_concurrency; None = from the open-file limit
    abandoned_after: float = DEFAULT_ABANDONED_AFTER  # seconds; 0 = never sweep
    test_hooks: bool = False

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir or default_data_dir()
