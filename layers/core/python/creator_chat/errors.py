"""Domain errors. Each maps to exactly one HTTP status in one place (``api.errors``)."""

from __future__ import annotations


class DomainError(Exception):
    """Base class: ``code`` is the stable machine-readable error code."""

    code = "error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """A field's value is not acceptable: 422, as the request validation answers."""

    code = "invalid_input"
    status = 422


class Unauthorized(DomainError):
    code = "unauthorized"
    status = 401


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Conflict(DomainError):
    code = "conflict"
    status = 409


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    status = 413


class QuotaExceeded(DomainError):
    code = "quota_exceeded"
    status = 429

    def __init__(self, message: str, *, retry_after_s: int, limit: int, reset_epoch: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.limit = limit
        self.reset_epoch = reset_epoch


class TokenBudgetExceeded(DomainError):
    """The caller's monthly token budget has no room for another answer: 429 until
    ``reset_epoch`` (the first second of the next month, UTC)."""

    code = "token_budget_exceeded"
    status = 429

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: int,
        limit: int,
        reset_epoch: int,
        used: int,
        reserved: int,
    ) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.limit = limit  # the month's budget, in tokens
        self.reset_epoch = reset_epoch
        self.used = used
        self.reserved = reserved


class DependencyUnavailable(DomainError):
    code = "dependency_unavailable"
    status = 503


class RetrievalUnavailable(DependencyUnavailable):
    """The embedder or the vector index failed: the answer waits; the model is not to blame."""

    code = "retrieval_unavailable"
