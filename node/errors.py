"""The relay's errors. Each carries its HTTP status and a stable code; the app renders
every one as {"error": {"code": ..., "message": ...}}. Messages never hold ciphertexts,
tokens or signatures."""

from __future__ import annotations


class RelayError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, code: str | None = None, headers: dict[str, str] | None = None, **extra: object
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.headers = headers or {}
        self.extra = extra  # more fields for the error body (e.g. the mailbox over quota)


class BadRequest(RelayError):
    pass


class Invalid(RelayError):
    status = 422
    code = "invalid"


class NotFound(RelayError):
    status = 404
    code = "not_found"


class Conflict(RelayError):
    status = 409
    code = "stale_bundle"


class TooLarge(RelayError):
    status = 413
    code = "too_large"


class Unauthorized(RelayError):
    status = 401
    code = "unauthorized"

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="hongbao-relay"'})


class Forbidden(RelayError):
    status = 403
    code = "forbidden"


class RateLimited(RelayError):
    status = 429
    code = "rate_limited"

    def __init__(self, retry_after_s: int, *, message: str | None = None, code: str | None = None) -> None:
        super().__init__(
            message or f"too many requests; retry in {retry_after_s} s",
            code=code,
            headers={"Retry-After": str(retry_after_s)},
        )


class QuotaExceeded(RelayError):
    """507 Insufficient Storage: the recipient's mailbox holds its quota of unexpired
    envelopes (count or bytes); nothing of the batch was stored."""

    status = 507
    code = "quota_exceeded"

    def __init__(self, mailbox: str) -> None:
        super().__init__(f"mailbox {mailbox} is full; nothing of this batch was stored", mailbox=mailbox)
        self.mailbox = mailbox


def body(code: str, message: str, **extra: object) -> dict:
    return {"error": {"code": code, "message": message, **{k: v for k, v in extra.items() if v is not None}}}


HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
    507: "quota_exceeded",
}


def code_for(status: int) -> str:
    return HTTP_CODES.get(status, "error")
