"""Kling's error codes as data (HTTP status and message), the error the simulator raises, and its answer."""

from __future__ import annotations

import uuid

from starlette.responses import JSONResponse

#: code -> (HTTP status, Kling's message), from Kling's error-code page.
KLING_ERRORS: dict[int, tuple[int, str]] = {
    1000: (401, "Authentication failed"),
    1001: (401, "Authorization is empty"),
    1002: (401, "Authorization is invalid"),
    1003: (401, "Authorization is not yet valid"),
    1004: (401, "Authorization has expired"),
    1100: (429, "Account exception"),
    1101: (429, "Account in arrears (postpaid scenario)"),
    1102: (429, "Resource pack depleted or expired (prepaid scenario)"),
    1103: (403, "Unauthorized access to requested resource, such as API/model"),
    1200: (400, "Invalid request parameters"),
    1201: (400, "Invalid parameters, such as incorrect key or illegal value"),
    1202: (404, "The requested method is invalid"),
    1203: (404, "The requested resource does not exist, such as model"),
    1300: (400, "Trigger strategy of the platform"),
    1301: (400, "Trigger the content security policy of the platform"),
    1302: (429, "The API request is too fast, exceeding the platform's rate limit"),
    1303: (429, "parallel task over resource pack limit"),
    1304: (429, "Trigger the platform's IP whitelisting policy"),
    5000: (500, "Server internal error"),
    5001: (503, "Server temporarily unavailable, usually due to maintenance"),
    5002: (504, "Server internal timeout, usually due to a backlog"),
}


class ApiError(Exception):
    """An answer in Kling's error form: HTTP status, Kling code, message, optional headers."""

    def __init__(self, http_status: int, code: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.headers = headers or {}

    @classmethod
    def of(cls, code: int, message: str | None = None, headers: dict[str, str] | None = None) -> ApiError:
        """Kling's error ``code`` with its documented HTTP status (and message unless given)."""
        status, default = KLING_ERRORS[code]
        return cls(status, code, message or default, headers)


def error_response(error: ApiError, request_id: str | None = None) -> JSONResponse:
    """``error`` in Kling's envelope: ``{code, message, request_id}`` with its HTTP status and headers."""
    body = {"code": error.code, "message": error.message, "request_id": request_id or str(uuid.uuid4())}
    return JSONResponse(body, status_code=error.http_status, headers=error.headers)
