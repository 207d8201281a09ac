"""The collector's exception tree; ``ApiError`` carries an HTTP status for the JSON error."""

from __future__ import annotations


class CollectorError(Exception):
    """Base of every error raised by hostpatrol.collector."""


class ApiError(CollectorError):
    """A request is refused; rendered as ``{"ok": false, "error": ..., "status": N}``."""

    status = 400
    reason = "bad_request"

    def __init__(self, message: str, *, status: int | None = None,
                 reason: str | None = None, params: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.params = params or {}  # the values of ``message``, for saying it in another language
        if status is not None:
            self.status = status
        if reason is not None:
            self.reason = reason


class Rejected(ApiError):
    """A report (or enrollment) refused for a reason that is counted by ``reason``."""

    # set when the sender's signature verified (refused for time: the host gets a finding)
    agent_id: str | None = None
    created_at: object | None = None
