"""Logging for the CLI and the window: one variable (``SGSEND_LOG_LEVEL``), no secrets in the log.

Presigned URLs carry their signature in the query string and work for anyone who holds them until they
expire, so no log line may contain one: httpx (which logs every request URL at INFO) is capped at
WARNING, and a filter cuts the query string off any URL in any message. Keys never reach a log at all
(they live in the link's #fragment, which no request contains).
"""

from __future__ import annotations

import logging
import os
import re
import sys

LEVEL_VARIABLE = "SGSEND_LOG_LEVEL"
_URL_QUERY = re.compile(r"(https?://[^\s?#'\"]+)\?[^\s'\"]*", re.IGNORECASE)
_CHATTY = ("httpx", "httpcore", "hpack", "botocore", "urllib3")


def redact(text: str) -> str:
    """``text`` with the query string of every URL replaced by ``?…``."""
    return _URL_QUERY.sub(r"\1?…", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configured_level() -> int:
    """The level from ``SGSEND_LOG_LEVEL`` (``SGSEND_LOG``, its old name, is still read); WARNING if unset
    or not a level name."""
    name = (os.environ.get(LEVEL_VARIABLE) or os.environ.get("SGSEND_LOG") or "WARNING").strip().upper()
    level = logging.getLevelName(name)
    return level if isinstance(level, int) else logging.WARNING


def configure_logging(prefix: str = "") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{prefix}%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(configured_level())
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(logging.WARNING, configured_level()))
