"""The domain's errors: each has a stable code and HTTP status, rendered as RFC 9457 problems."""

from __future__ import annotations

from typing import ClassVar

from app.core.results import ItemError


class DomainError(Exception):
    """A request the domain refuses. Subclasses name the problem; `detail` says this case."""

    status: ClassVar[int]
    code: ClassVar[str]
    title: ClassVar[str]

    def __init__(self, detail: str, errors: list[ItemError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class UnknownInstrumentError(DomainError):
    status = 404
    code = "unknown_instrument"
    title = "Unknown instrument"


class InvalidResponsesError(DomainError):
    status = 422
    code = "invalid_responses"
    title = "Invalid responses"

    def __init__(self, errors: list[ItemError]) -> None:
        items = ", ".join(str(error["loc"][-1]) for error in errors)
        super().__init__(f"{len(errors)} response(s) cannot be scored: item(s) {items}", errors)


class BatchTooLargeError(DomainError):
    status = 413
    code = "batch_too_large"
    title = "Batch too large"


class MalformedJsonError(DomainError):
    status = 400
    code = "malformed_json"
    title = "Malformed JSON"


class InvalidRequestError(DomainError):
    status = 422
    code = "invalid_request"
    title = "Invalid request"


class UnsupportedMediaTypeError(DomainError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"
