"""Answers that go wrong on purpose: a connection broken mid-answer, HTML where JSON or an image
belongs, a redirect, an endless or truncated image, bytes that are no image.

A broken answer sends its status line, headers (with a ``Content-Length``) and part of the body,
then returns: uvicorn closes the connection and the client sees a protocol error. uvicorn logs
that as an error; :class:`_QuietDeliberateAborts` drops that one log line for our own aborts only.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from airflow_provider_kling.testing import png

#: What a gateway in front of the API answers instead of JSON.
BAD_GATEWAY_HTML = (
    b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
)
#: A CDN's answer for an object that is gone (S3-like XML).
PURGED_XML = b"<?xml version='1.0'?><Error><Code>NoSuchKey</Code><Message>expired</Message></Error>"
ACCESS_DENIED_HTML = b"<html><head><title>403</title></head><body><h1>Access denied</h1></body></html>"
NOT_AN_IMAGE = b"this is not an image, only bytes that claim to be one" * 4
_CHUNK = 64 * 1024
_UVICORN_INCOMPLETE = "ASGI callable returned without completing response."
_deliberate_abort: contextvars.ContextVar[bool] = contextvars.ContextVar("kling_sim_abort", default=False)


class _QuietDeliberateAborts(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.msg == _UVICORN_INCOMPLETE and _deliberate_abort.get())


_filter = _QuietDeliberateAborts()
if _filter not in logging.getLogger("uvicorn.error").filters:
    logging.getLogger("uvicorn.error").addFilter(_filter)


class BrokenResponse(Response):
    """Promises ``len(body)`` bytes (or ``declared``), sends the first ``sent`` of them, then drops."""

    def __init__(self, body: bytes, media_type: str, *, sent: int, declared: int | None = None) -> None:
        super().__init__(b"", media_type=media_type)
        self._full, self._sent = body, sent
        self.headers["content-length"] = str(len(body) if declared is None else declared)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self._full[: self._sent], "more_body": True})
        _deliberate_abort.set(True)  # seen by the log filter: uvicorn logs in this same task


def garbled_answer() -> Response:
    return Response(BAD_GATEWAY_HTML, status_code=200, media_type="text/html")


def reset_answer(json_body: bytes) -> Response:
    return BrokenResponse(json_body, "application/json", sent=len(json_body) // 2)


def image_fault_answer(mode: str, params: dict[str, Any], image: bytes) -> Response:
    """The answer of an image download under the fault ``mode`` (see ``KlingSimulator.image_fault``)."""
    if mode == "html":
        return Response(ACCESS_DENIED_HTML, status_code=200, media_type="text/html")
    if mode == "redirect":
        return Response(b"", status_code=302, headers={"location": str(params["location"])})
    if mode == "huge":
        size = int(params["size"])
        headers = {"content-length": str(size)} if params.get("length", True) else None
        return StreamingResponse(_padded_png(size), media_type="image/png", headers=headers)
    if mode == "short":
        return BrokenResponse(image, "image/png", sent=len(image) // 2, declared=len(image) * 2)
    if mode == "not_image":
        return Response(NOT_AN_IMAGE, status_code=200, media_type="image/png")
    if mode == "expired":
        return Response(PURGED_XML, status_code=int(params.get("status", 404)), media_type="application/xml")
    raise ValueError(f"unknown image fault mode {mode!r}")


async def _padded_png(size: int) -> AsyncIterator[bytes]:
    """``size`` bytes: a real PNG signature and header chunk, then zero padding."""
    head = png.make_png("huge", 0, 1, 1)[:33]  # signature + IHDR
    first = head[:size]
    yield first
    left = size - len(first)
    block = bytes(_CHUNK)
    while left > 0:
        step = min(left, _CHUNK)
        yield block[:step]
        left -= step
