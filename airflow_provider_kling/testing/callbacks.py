"""Callbacks: POST the bare task object to ``callback_url`` on each status change.

Signed in the Standard Webhooks form when a secret is configured: ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256>`` over
``{id}.{timestamp}.{body}``, keyed with the base64-decoded secret after ``whsec_``; while a
secret rotates (*standard* rotation) every message carries one signature per secret.

Delivery, as a webhook sender does it: a task's messages go out in order; a message answered
with anything but 2xx (or not answered) is sent again under the same ``webhook-id``, freshly
timestamped and signed, after a doubling backoff, up to ``max_attempts``. Kling documents no
retry policy: these are the simulator's own. On demand (:class:`DeliveryControls`, the
``/_sim/callbacks`` route): a message delivered twice, a task's terminal callback before its
processing one, an attempt signed with a wrong key; and the secret rotated.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from airflow_provider_kling.testing.state import SimulatorState
from airflow_provider_kling.testing.tasks import FINAL, PROCESSING, SimTask, render_task

log = logging.getLogger(__name__)
CALLBACK_TIMEOUT = 5.0
#: How often a delivery looks again at a task whose next phase is not due (or not yet planned).
MANUAL_POLL = 0.25
#: Longest wait between two attempts of one message.
MAX_BACKOFF = 30.0
ROTATION_MODES = ("standard", "emergency", "delete_all")


def sign_webhook(
    secret: str | list[str] | tuple[str, ...], webhook_id: str, timestamp: int, body: bytes
) -> str:
    """The ``webhook-signature`` header value for one message: one ``v1,`` entry per secret."""
    entries = []
    for one in [secret] if isinstance(secret, str) else secret:
        key = base64.b64decode(one.removeprefix("whsec_"))
        mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
        entries.append("v1," + base64.b64encode(mac).decode())
    return " ".join(entries)


@dataclass
class DeliveryControls:
    """How callbacks are delivered (settings) and what goes wrong next (consumed one at a time)."""

    #: Attempts per message (the first included) before the sender gives up on it.
    max_attempts: int = 6
    #: Wait before the first retry; each further retry waits twice as long (at most ``MAX_BACKOFF``).
    backoff: float = 0.5
    #: The next k messages answered 2xx are delivered once more (same ``webhook-id``).
    duplicate_next: int = 0
    #: The next k messages answered 2xx are sent once more under a new ``webhook-id`` (the same
    #: task body, as a sender that does not remember having delivered it).
    resend_next: int = 0
    #: The next k tasks send their terminal callback before their processing one.
    out_of_order_next: int = 0
    #: The next k delivery attempts are signed with a key no receiver knows.
    bad_signature_next: int = 0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1 (got {self.max_attempts!r})")
        for name in ("backoff", "duplicate_next", "resend_next", "out_of_order_next", "bad_signature_next"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (got {getattr(self, name)!r})")


@dataclass
class _Signing:
    """The secrets messages are signed with now (none: unsigned, as Kling without a secret)."""

    secrets: list[str] = field(default_factory=list, repr=False)


class CallbackSender:
    """Delivers each task's callbacks in order, in the background of the serving event loop."""

    def __init__(self, state: SimulatorState) -> None:
        self._state = state
        self._client: httpx.AsyncClient | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()
        self._controls = DeliveryControls()
        self._signing = self._initial_signing()
        self._stats: Counter[str] = Counter()
        state.on_reset(self.reset)

    def _initial_signing(self) -> _Signing:
        secret = self._state.config.webhook_secret
        return _Signing([secret] if secret else [])

    # controls (any thread)
    def configure(self, **changes: Any) -> DeliveryControls:
        """Change any :class:`DeliveryControls` field (``duplicate_next=1``, ``backoff=0.05`` ...)."""
        with self._lock:
            self._controls = dataclasses.replace(self._controls, **changes)
            return dataclasses.replace(self._controls)

    def rotate_secret(self, new_secret: str | None = None, mode: str = "standard") -> str | None:
        """Rotate like Kling's console: ``standard`` signs with the new and the old secret (Kling keeps
        both 7 days), ``emergency`` with the new one only, ``delete_all`` stops signing. Returns the
        new secret (a fresh ``whsec_`` one when none is given)."""
        if mode not in ROTATION_MODES:
            raise ValueError(f"mode must be one of {', '.join(ROTATION_MODES)} (got {mode!r})")
        if mode == "delete_all":
            with self._lock:
                self._signing = _Signing([])
            return None
        secret = new_secret or "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        try:
            base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except ValueError:
            raise ValueError(
                "the new webhook secret must be base64, optionally prefixed with 'whsec_'"
            ) from None
        with self._lock:
            kept = self._signing.secrets[:1] if mode == "standard" else []
            self._signing = _Signing([secret, *kept])
        return secret

    def end_overlap(self) -> None:
        """The end of a standard rotation: sign with the newest secret only."""
        with self._lock:
            self._signing = _Signing(self._signing.secrets[:1])

    def describe(self) -> dict[str, Any]:
        """Controls, delivery counts and how many secrets sign (never the secrets)."""
        with self._lock:
            return {
                "controls": dataclasses.asdict(self._controls),
                "signing_secrets": len(self._signing.secrets),
                "stats": dict(self._stats),
            }

    def reset(self) -> None:
        with self._lock:
            self._controls = DeliveryControls()
            self._signing = self._initial_signing()
            self._stats.clear()

    def _take(self, name: str) -> bool:
        with self._lock:
            left = getattr(self._controls, name)
            if left <= 0:
                return False
            setattr(self._controls, name, left - 1)
            return True

    # delivery (the serving event loop)
    def schedule(self, task: SimTask, image_root: str) -> None:
        out_of_order = self._take("out_of_order_next")
        delivery = asyncio.get_running_loop().create_task(self._deliver(task, image_root, out_of_order))
        self._pending.add(delivery)  # keep a reference until it is done
        delivery.add_done_callback(self._pending.discard)

    async def _deliver(self, task: SimTask, image_root: str, out_of_order: bool) -> None:
        url = task.request.callback_url
        assert url is not None
        delivered = 0
        held: bytes | None = None  # a processing callback held back to go after the terminal one
        while True:
            if self._state.get_task(task.task_id) is not task:
                return  # the simulator was reset, or the task evicted
            phases = list(task.phases)  # a manual task gains phases when it is advanced
            if delivered >= len(phases):
                if task.ends_at is not None:
                    return
                await asyncio.sleep(MANUAL_POLL)
                continue
            status, starts = phases[delivered]
            wait = starts - time.time()
            if wait > 0:
                await asyncio.sleep(min(wait, MANUAL_POLL))  # re-read: the timeline may be re-planned
                continue
            body = render_task(task, image_root=image_root, now=starts, status=status)
            message = json.dumps(body, separators=(",", ":")).encode()
            delivered += 1
            if out_of_order and status == PROCESSING:
                held = message
                continue
            await self._send(task.owner, url, message)
            if held is not None and status in FINAL:
                await self._send(task.owner, url, held)
                held = None

    async def _send(self, owner: str, url: str, body: bytes) -> None:
        """One message, retried under one webhook id until a 2xx or ``max_attempts``."""
        webhook_id = f"msg_{uuid.uuid4().hex}"
        with self._lock:
            controls = dataclasses.replace(self._controls)
        for attempt in range(controls.max_attempts):
            if attempt:
                self._count("retries")
                await asyncio.sleep(min(controls.backoff * 2 ** (attempt - 1), MAX_BACKOFF))
            if await self._attempt(url, webhook_id, body, bad_signature=self._take("bad_signature_next")):
                self._state.count(owner, "callbacks")
                self._count("delivered")
                if self._take("duplicate_next"):
                    self._count("duplicates")
                    await self._attempt(url, webhook_id, body, bad_signature=False)
                if self._take("resend_next"):
                    self._count("resent")
                    await self._attempt(url, f"msg_{uuid.uuid4().hex}", body, bad_signature=False)
                return
        self._count("given_up")
        log.warning(
            "Kling simulator: gave up on a callback to %s after %d attempts", url, controls.max_attempts
        )

    async def _attempt(self, url: str, webhook_id: str, body: bytes, *, bad_signature: bool) -> bool:
        headers = {"content-type": "application/json"}
        with self._lock:
            signing = list(self._signing.secrets)
        if signing:
            timestamp = int(time.time())
            if bad_signature:
                signing = ["whsec_" + base64.b64encode(b"not the account's webhook secret").decode()]
            headers["webhook-id"] = webhook_id
            headers["webhook-timestamp"] = str(timestamp)
            headers["webhook-signature"] = sign_webhook(signing, webhook_id, timestamp, body)
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=CALLBACK_TIMEOUT)
        self._count("attempts")
        try:
            answer = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("Kling simulator: callback to %s failed: %s", url, exc)
            self._count("unreachable")
            return False
        if not answer.is_success:
            self._count(f"answered_{answer.status_code}")
        return answer.is_success

    def _count(self, name: str) -> None:
        with self._lock:
            self._stats[name] += 1

    async def aclose(self) -> None:
        for delivery in list(self._pending):
            delivery.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
