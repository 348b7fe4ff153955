"""Domain errors. Each carries its HTTP status; one handler in server/ maps them to Metronome's shape."""

from __future__ import annotations


class TallyError(Exception):
    status: int = 400
    should_retry: bool | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(TallyError):
    status = 400


class Unauthorized(TallyError):
    status = 401


class NotFound(TallyError):
    status = 404


class Conflict(TallyError):
    """A non-transient conflict: the SDK must not retry it (x-should-retry: false)."""

    status = 409
    should_retry = False


class PayloadTooLarge(TallyError):
    status = 413
