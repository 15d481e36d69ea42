"""Standard Webhooks verification of Kling's signed callbacks: no Airflow, no HTTP.

Kling signs a callback (from 2026-08-07, once the account has a webhook secret) with three
headers: ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``
(``v1,<base64>`` entries separated by spaces, one per active secret while a secret rotates).
Each entry is ``base64(HMAC-SHA256(key, f"{id}.{timestamp}.{raw body}"))`` where ``key`` is the
base64-decoded secret without its ``whsec_`` prefix.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_kling.masking import mask_secrets

#: Standard Webhooks' tolerance, which Kling uses: a message more than 5 minutes old (or ahead) is refused.
TIMESTAMP_TOLERANCE = 300
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix, not a secret
#: The only signature scheme Standard Webhooks defines for symmetric secrets.
SCHEME = "v1"
#: A webhook id is an opaque token; anything longer or stranger is not Kling's.
MAX_WEBHOOK_ID_LENGTH = 256
_SECRET_SEPARATORS = re.compile(r"[\s,]+")
#: Unix seconds: ASCII digits only (``str.isdigit`` also accepts ``²³``, which ``int`` refuses).
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class WebhookVerificationError(ValueError):
    """A callback that cannot be shown to come from Kling, fresh: ``reason`` says which check failed."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedWebhook:
    """What a verified callback's headers said."""

    webhook_id: str
    timestamp: int


@dataclass(frozen=True)
class WebhookSecret:
    """One accepted secret: its text (``repr`` hides it) and its HMAC key."""

    text: str = field(repr=False)
    key: bytes = field(repr=False)


def parse_secrets(value: object, where: str = "webhook_secret") -> tuple[WebhookSecret, ...]:
    """The secrets in one string (spaces or commas between them) or a list of strings.

    Each secret is base64, optionally prefixed with ``whsec_``; a clear error names ``where`` and
    the rule, never the secret.
    """
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        items: list[object] = [item for item in _SECRET_SEPARATORS.split(value) if item]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise ValueError(f"{where} must be a string or a list of strings (got {type(value).__name__})")
    secrets = []
    for position, item in enumerate(items, start=1):
        if not isinstance(item, str):
            raise ValueError(f"{where}: secret {position} must be a string (got {type(item).__name__})")
        text = item.strip()
        try:
            key = base64.b64decode(text.removeprefix(SECRET_PREFIX), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(
                f"{where}: secret {position} must be base64, optionally prefixed with {SECRET_PREFIX!r}"
            ) from None
        if not key:
            raise ValueError(f"{where}: secret {position} is empty")
        secrets.append(WebhookSecret(text=text, key=key))
    return tuple(secrets)


def webhook_keys_extra(extras: Mapping[str, Any], conn_id: str) -> tuple[bytes, ...]:
    """The HMAC keys of a ``kling`` connection's ``webhook_secret`` extra (one secret, or several while
    Kling keeps an old and a new one), each registered with the secrets masker. Only the callback
    receiver reads it: the hook never needs it."""
    secrets = parse_secrets(extras.get("webhook_secret"), f"Connection '{conn_id}': extra 'webhook_secret'")
    for secret in secrets:
        mask_secrets(secret.text, secret.text.removeprefix(SECRET_PREFIX))
    return tuple(secret.key for secret in secrets)


def signature(key: bytes, webhook_id: str, timestamp: int | str, body: bytes) -> str:
    """The base64 HMAC-SHA256 of one message under one key (without the ``v1,`` scheme)."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verify_webhook(
    headers: Mapping[str, str],
    body: bytes,
    keys: Iterable[bytes],
    *,
    now: float | None = None,
    tolerance: int = TIMESTAMP_TOLERANCE,
) -> VerifiedWebhook:
    """Check one callback against every accepted key; raise :class:`WebhookVerificationError` otherwise.

    ``headers`` must be looked up case-insensitively (Starlette's headers are). The timestamp is
    checked first, as Standard Webhooks' reference libraries do; every signature offered is then
    compared with every key in constant time (no early exit that would tell which one matched).
    """
    webhook_id = headers.get("webhook-id")
    raw_timestamp = headers.get("webhook-timestamp")
    offered = headers.get("webhook-signature")
    if not webhook_id or not raw_timestamp or not offered:
        raise WebhookVerificationError(
            "unsigned", "missing webhook-id, webhook-timestamp or webhook-signature"
        )
    if len(webhook_id) > MAX_WEBHOOK_ID_LENGTH or not webhook_id.isprintable():
        raise WebhookVerificationError("malformed", "webhook-id is not a plain token")
    if not _TIMESTAMP.fullmatch(raw_timestamp):
        raise WebhookVerificationError("malformed", "webhook-timestamp must be Unix seconds")
    timestamp = int(raw_timestamp)
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise WebhookVerificationError(
            "stale", f"webhook-timestamp is more than {tolerance} s away from the receiver's clock"
        )
    candidates = [
        value.encode()
        for scheme, _, value in (entry.partition(",") for entry in offered.split())
        if scheme == SCHEME
    ]
    matched = False
    for key in keys:
        expected = signature(key, webhook_id, raw_timestamp, body).encode()
        for candidate in candidates:
            matched |= hmac.compare_digest(expected, candidate)
    if not matched:
        raise WebhookVerificationError("bad_signature", "no v1 signature matches an accepted secret")
    return VerifiedWebhook(webhook_id=webhook_id, timestamp=timestamp)
