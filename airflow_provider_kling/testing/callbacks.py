"""Callbacks: POST the bare task object to ``callback_url`` on each status change.

Signed in the Standard Webhooks form when a secret is configured: ``webhook-id``,
``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256>`` over
``{id}.{timestamp}.{body}``, keyed with the base64-decoded secret after ``whsec_``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import time
import uuid

import httpx

from airflow_provider_kling.testing.state import SimulatorState
from airflow_provider_kling.testing.tasks import SimTask, render_task

log = logging.getLogger(__name__)
CALLBACK_TIMEOUT = 5.0
#: How often a delivery looks again at a task whose next phase is not due (or not yet planned).
MANUAL_POLL = 0.25


def sign_webhook(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one message."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


class CallbackSender:
    """Delivers one task's callbacks in order, in the background of the serving event loop."""

    def __init__(self, state: SimulatorState) -> None:
        self._state = state
        self._client: httpx.AsyncClient | None = None
        self._pending: set[asyncio.Task[None]] = set()

    def schedule(self, task: SimTask, image_root: str) -> None:
        delivery = asyncio.get_running_loop().create_task(self._deliver(task, image_root))
        self._pending.add(delivery)  # keep a reference until it is done
        delivery.add_done_callback(self._pending.discard)

    async def _deliver(self, task: SimTask, image_root: str) -> None:
        url = task.request.callback_url
        assert url is not None
        delivered = 0
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
            await self._post(task.owner, url, json.dumps(body, separators=(",", ":")).encode())
            delivered += 1

    async def _post(self, owner: str, url: str, body: bytes) -> None:
        headers = {"content-type": "application/json"}
        secret = self._state.config.webhook_secret
        if secret:
            webhook_id, timestamp = f"msg_{uuid.uuid4().hex}", int(time.time())
            headers["webhook-id"] = webhook_id
            headers["webhook-timestamp"] = str(timestamp)
            headers["webhook-signature"] = sign_webhook(secret, webhook_id, timestamp, body)
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=CALLBACK_TIMEOUT)
        try:
            await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("Kling simulator: callback to %s failed: %s", url, exc)
            return
        self._state.count(owner, "callbacks")

    async def aclose(self) -> None:
        for delivery in list(self._pending):
            delivery.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
