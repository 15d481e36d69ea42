"""One exception hierarchy for everything Kling can answer, and whether a retry can help.

No Airflow and no HTTP client here: the hook's sync and async transports both hand a status,
headers and a decoded body to :func:`error_from_response` and ask ``error.retryable``.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Mapping
from datetime import UTC
from typing import Any


class KlingError(Exception):
    """Base class. Carries what Kling said, and never a credential."""

    #: Whether sending the same request again can succeed.
    retryable: bool = False
    #: Whether an Airflow retry of the whole task can help (False: fail without retrying).
    airflow_retryable: bool = True

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        code: int | None = None,
        request_id: str | None = None,
        task_id: str | None = None,
        retry_after: float | None = None,
        external_task_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.code = code
        self.request_id = request_id
        self.task_id = task_id
        self.retry_after = retry_after
        self.external_task_id = external_task_id

    def __str__(self) -> str:
        where = []
        if self.code is not None:
            where.append(f"code {self.code}")
        if self.http_status is not None:
            where.append(f"HTTP {self.http_status}")
        labelled = (
            ("task_id", self.task_id),
            ("external_task_id", self.external_task_id),
            ("request_id", self.request_id),
        )
        details = [f"{key}={val}" for key, val in labelled if val]
        text = f"Kling {', '.join(where)}: {self.message}" if where else self.message
        return f"{text} [{', '.join(details)}]" if details else text


class KlingAuthError(KlingError):
    """401, codes 1000-1004: missing, wrong, not yet valid or expired credentials."""

    airflow_retryable = False


class KlingAccountError(KlingError):
    """Codes 1100-1102: account exception, in arrears, or resource pack used up."""

    airflow_retryable = False
    #: What the reader can do about it; appended to Kling's message (see :func:`error_from_response`).
    advice: str = ""


class KlingArrearsError(KlingAccountError):
    """Code 1101: the (postpaid) account is in arrears; Kling creates nothing until it is paid."""

    advice = (
        "The Kling account is in arrears (postpaid): settle the bill in Kling's developer console, "
        "then clear this task. Nothing was generated or charged for this request"
    )


class KlingResourcePackExhaustedError(KlingAccountError):
    """Code 1102: the prepaid resource packs are used up or expired; Kling creates nothing until topped up."""

    advice = (
        "The Kling account's resource packs are used up or expired (prepaid): buy a resource pack, or "
        "wait for one to come online, in Kling's developer console, then clear this task. Nothing was "
        "generated or charged for this request. KlingHook.get_account_costs() and "
        "KlingResourcePackSensor show what is left (Kling's figures lag by up to 12 hours)"
    )


class KlingPermissionError(KlingError):
    """403, code 1103: no permission for this API or model."""

    airflow_retryable = False


class KlingInvalidRequestError(KlingError):
    """Codes 1200-1203: invalid parameters, wrong method, or resource not found."""

    airflow_retryable = False


class KlingRequestValidationError(KlingInvalidRequestError, ValueError):
    """A request rejected here, before any HTTP call, naming the field and the rule."""


class KlingNotFoundError(KlingInvalidRequestError):
    """404: the task (or the path) does not exist."""


class KlingContentPolicyError(KlingError):
    """Codes 1300-1301: platform policy or content safety refused the request."""

    airflow_retryable = False


class KlingRateLimitError(KlingError):
    """429, codes 1302-1303: rate limit or too many tasks in flight; back off and retry."""

    retryable = True


class KlingIPWhitelistError(KlingError):
    """Code 1304: the caller's IP is not on the account's whitelist."""

    airflow_retryable = False


class KlingServerError(KlingError):
    """Codes 5000-5002 and any 5xx: internal error, maintenance or internal timeout."""

    retryable = True


class KlingConnectionError(KlingError):
    """The host could not be reached, or did not answer in time (the request may have arrived)."""

    retryable = True


class KlingConnectError(KlingConnectionError):
    """No connection was made (refused, name not resolved, connect timeout): nothing was sent."""


class KlingCreateOutcomeUnknownError(KlingError):
    """
    A create may have reached Kling (its answer was lost or unreadable), and Kling cannot be
    asked whether it did: the host ignores ``external_task_id``. Resending could pay twice, so
    neither the hook nor Airflow resends it; a person decides.
    """

    airflow_retryable = False


class KlingResponseError(KlingError):
    """Kling answered with a body this provider cannot read (malformed JSON, no task)."""

    retryable = True


class KlingResultUnavailableError(KlingError):
    """A result image URL no longer serves the image (Kling purges images after 30 days)."""


class KlingDownloadRejectedError(KlingResultUnavailableError):
    """A download refused: not an image, cut short, too large, or from a host that is not allowed."""


class KlingStorageError(KlingError):
    """Images could not be written to the output storage; an Airflow retry stores the missing ones."""


class KlingStorageConfigError(KlingStorageError):
    """The storage refused credentials or permission, or the bucket is missing: no retry can fix it."""

    airflow_retryable = False


class KlingTaskFailedError(KlingError):
    """The Kling task ended as ``failed``; ``message`` is Kling's ``task_status_msg``."""


class KlingTaskRefusedError(KlingTaskFailedError, KlingContentPolicyError):
    """The Kling task ended ``failed`` because content safety / risk control refused it.

    Generating it again would be refused again: no regeneration, no Airflow retry.
    """

    airflow_retryable = False


class KlingResultsExpiredError(KlingResultUnavailableError):
    """A finished task's images are gone (purged by Kling) and no copy was stored: retrying cannot help."""

    airflow_retryable = False


class KlingTaskTimeoutError(KlingError):
    """The Kling task did not end before the deadline; it may still finish on Kling's side."""


_CODE_RANGES: tuple[tuple[int, int, type[KlingError]], ...] = (
    (1000, 1004, KlingAuthError),
    (1101, 1101, KlingArrearsError),
    (1102, 1102, KlingResourcePackExhaustedError),
    (1100, 1102, KlingAccountError),
    (1103, 1103, KlingPermissionError),
    (1200, 1203, KlingInvalidRequestError),
    (1300, 1301, KlingContentPolicyError),
    (1302, 1303, KlingRateLimitError),
    (1304, 1304, KlingIPWhitelistError),
    (5000, 5999, KlingServerError),
)
_STATUS_FALLBACK: dict[int, type[KlingError]] = {
    401: KlingAuthError,
    402: KlingAccountError,
    403: KlingPermissionError,
    404: KlingNotFoundError,
    429: KlingRateLimitError,
}


def error_class_for(http_status: int | None, code: int | None) -> type[KlingError]:
    """Kling's code decides; the HTTP status decides when the code is unknown or absent."""
    if http_status is not None and http_status >= 500:
        return KlingServerError
    if code is not None:
        for low, high, cls in _CODE_RANGES:
            if low <= code <= high:
                if cls is KlingInvalidRequestError and http_status == 404:
                    return KlingNotFoundError
                return cls
    if http_status is None:
        return KlingResponseError
    return _STATUS_FALLBACK.get(
        http_status, KlingInvalidRequestError if http_status < 500 else KlingServerError
    )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # float() also reads "inf" and "nan": no wait a server can mean, so ignore them.
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        # HTTP dates are GMT; a "-0000" zone parses as naive, which timestamp() would read as local.
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _code(raw: Any) -> int | None:
    return int(raw) if isinstance(raw, int | str) and str(raw).lstrip("-").isdigit() else None


def parse_answer(status: int, headers: Mapping[str, str], content: bytes, task_id: str | None = None) -> Any:
    """
    One HTTP answer (from any transport) to Kling's ``data``, or the matching :class:`KlingError`.

    Sans-I/O: the hook's requests and httpx paths both hand their status, headers and body here.
    Kling's envelope is ``{code, message, request_id, data}``; ``code`` 0 (or absent) means success.
    """
    try:
        body = json.loads(content) if content else None
    except ValueError:
        if status < 400:
            raise KlingResponseError(
                f"Kling answered HTTP {status} with a body that is not JSON",
                http_status=status,
                task_id=task_id,
            ) from None
        body = None
    if status >= 400:
        raise error_from_response(
            status, body if isinstance(body, dict) else None, headers=headers, task_id=task_id
        )
    if not isinstance(body, dict):
        raise KlingResponseError(
            f"Kling answered HTTP {status} without a JSON object", http_status=status, task_id=task_id
        )
    code = _code(body.get("code"))
    if code is None and body.get("code") is not None:
        raise KlingResponseError(
            f"Kling answered HTTP {status} with an unreadable envelope", http_status=status, task_id=task_id
        )
    if code:
        raise error_from_response(status, body, headers=headers, task_id=task_id)
    return body.get("data")


def error_from_response(
    http_status: int | None,
    body: Mapping[str, Any] | None,
    *,
    headers: Mapping[str, str] | None = None,
    task_id: str | None = None,
) -> KlingError:
    """Build the exception for a failed answer (HTTP status >= 400, or a non-zero ``code``)."""
    body = body or {}
    code = _code(body.get("code"))
    message = str(body.get("message") or body.get("msg") or f"HTTP {http_status}")
    header_value = None
    if headers is not None:
        header_value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    cls = error_class_for(http_status, code)
    advice = getattr(cls, "advice", "")
    if advice and advice not in message:
        message = f"{message.rstrip('. ')}. {advice}"
    return cls(
        message,
        http_status=http_status,
        code=code,
        request_id=body.get("request_id"),
        task_id=task_id,
        retry_after=parse_retry_after(header_value),
    )


def is_retryable(exc: BaseException) -> bool:
    """Whether the hook should send the same request again (used by its retry policy)."""
    return isinstance(exc, KlingError) and exc.retryable


#: Words in a failed task's ``task_status_msg`` that mean content safety / risk control refused it
#: (Kling says "Failure to pass the risk control system"; resellers word it their own way).
CONTENT_POLICY_HINTS: tuple[str, ...] = (
    "risk control",
    "content safety",
    "content policy",
    "content moderation",
    "sensitive",
    "inappropriate",
    "violat",
    "nsfw",
    "\u98ce\u63a7",  # "risk control" in Chinese
    "\u5ba1\u6838",  # "review / moderation" in Chinese
)


def is_content_policy_reason(reason: str | None) -> bool:
    """Whether a failed task's reason says content safety refused it (then it is never regenerated)."""
    text = (reason or "").lower()
    return any(hint in text for hint in CONTENT_POLICY_HINTS)


def task_failed_error(
    task_id: str | None,
    reason: str | None,
    *,
    external_task_id: str | None = None,
    message: str | None = None,
) -> KlingTaskFailedError:
    """The error for a task that ended ``failed`` (Kling's ``reason``, or the ``message`` a trigger
    already said): :class:`KlingTaskRefusedError` when it names content policy."""
    message = message or f"Kling task {task_id} failed: {reason or 'Kling gave no reason'}"
    cls = KlingTaskRefusedError if is_content_policy_reason(message) else KlingTaskFailedError
    return cls(message, task_id=task_id, external_task_id=external_task_id)


def create_never_reached_kling(exc: BaseException) -> bool:
    """
    Whether a failed create provably was not processed, so sending it again cannot pay twice.

    True for: no connection made; 429 with 1302/1303 (refused before processing); 503 / 5001
    (maintenance, refused before processing). Anything else (read timeout, a connection broken
    after sending, other 5xx, an unreadable 200) leaves the outcome unknown.
    """
    if isinstance(exc, KlingConnectError | KlingRateLimitError):
        return True
    return isinstance(exc, KlingServerError) and exc.code == 5001


def create_outcome_unknown(exc: BaseException) -> bool:
    """Whether a failed create may have been processed (Kling must be asked before any resend)."""
    return isinstance(
        exc, KlingConnectionError | KlingServerError | KlingResponseError
    ) and not create_never_reached_kling(exc)
