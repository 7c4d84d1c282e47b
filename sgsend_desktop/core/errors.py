"""One exception hierarchy for the whole core.

Every error carries a message a user can act on; the CLI and GUI print ``str(error)`` and never a traceback.
"""

from __future__ import annotations


class SendError(Exception):
    """Base class of every error this package raises on purpose."""


class LinkError(SendError, ValueError):
    """A share link, transfer id or key that cannot be understood."""


class KeyFormatError(LinkError):
    """A key that is neither 43 base64url characters nor a friendly token."""


class IntegrityError(SendError):
    """Wrong key, or a payload that was tampered with or truncated: the GCM tag does not verify."""


class EnvelopeError(SendError):
    """The decrypted content has an SGMETA envelope that cannot be read."""


class ApiError(SendError):
    """The server answered with an error status (a permanent failure)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthError(ApiError):
    """401/403 from the API: a missing or wrong access token or delete-auth."""


class AccessTokenError(AuthError):
    """401 about the access token itself: ``reason`` is "required" (none given, or not the one a
    single-token server expects), "invalid" (unknown to the server), "exhausted" (no uses left),
    "revoked" or "expired". The message is one plain sentence (``core.api.token_sentence``)."""

    def __init__(self, message: str, reason: str, status: int | None = 401) -> None:
        super().__init__(message, status)
        self.reason = reason


class NotFoundError(ApiError):
    """404: unknown transfer id (or deleted)."""


class ConflictError(ApiError):
    """409: the transfer is not in the state the call needs (id taken, not completed, ...)."""


class GoneError(ApiError):
    """410: the transfer expired or reached its download limit."""


class PayloadTooLargeError(ApiError):
    """413: over the server's (Lambda's) body limit."""


class TransientError(SendError):
    """A failure worth retrying: timeout, reset, 5xx, 429, expired presigned URL."""


class UnreachableError(TransientError):
    """The server (or its storage) cannot be reached at all: the connection could not be opened
    (refused, reset while connecting, name not found, connect timeout, network down).

    Not counted against the retry limit: the transfer waits, reconnecting with a growing delay, until
    the host answers again (``core/reconnect.py``). ``origin`` is ``scheme://host:port``, the key of
    the engine's per-host offline gate; the message is one sentence without a final period
    ("Cannot reach 127.0.0.1:8080 (connection refused)")."""

    def __init__(self, message: str, origin: str = "") -> None:
        super().__init__(message)
        self.origin = origin


class SourceChangedError(SendError):
    """The file being sent changed since the upload started; resuming would send a corrupt file."""


class CancelledError(SendError):
    """The transfer was cancelled or paused by the user while a step was running."""


class LocalIOError(SendError):
    """A local file could not be read or written (full disk, permissions, missing folder)."""


class IllegalTransitionError(SendError):
    """A transfer was asked to move between two states that have no edge (a bug, not a user error)."""


class LocalStateError(SendError):
    """About this computer's own transfers (the journal), not about any server's answer."""


class UnknownTransferError(LocalStateError):
    """No transfer with that local id (or id prefix) in the journal."""


class TransferBusyError(LocalStateError):
    """The transfer is in a state (or another process) that does not allow what was asked."""

