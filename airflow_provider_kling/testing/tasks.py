"""The simulator's image task: its timeline, and how it looks on the wire.

A task's timeline is a list of ``(status, time)`` phases. How it moves (its *progress*):

- ``timed``: submitted, processing half-way through the latency, then its end (Kling takes ~30 s);
- ``immediate``: it has ended by the time the create is answered (the create still says ``submitted``);
- ``manual``: it stays where it is until :meth:`SimTask.advance` (the handle's ``advance`` or
  ``POST /_sim/tasks/{id}/advance``) moves it on.

Rendered as Kling sends it: ``task_result`` always present (``{}`` until there are images),
``final_unit_deduction`` (units; ``"0"`` for a failed task) and ``final_balance_deduction`` once
the task has ended, and ``watermark_url`` per image when ``watermark_info.enabled`` was asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airflow_provider_kling.testing.accounts import key_fingerprint
from airflow_provider_kling.testing.codes import ApiError
from airflow_provider_kling.testing.rules import ImageRequest

__all__ = ["ApiError", "SimTask", "describe_task", "render_task"]

#: Where images are served, under the simulator's origin (both prefixes route there too).
IMAGE_PATH = "/kling/images"
#: Kling's message for a prompt refused by content safety (the simulator's fail marker).
CONTENT_POLICY_MESSAGE = "Failure to pass the risk control system: the prompt was refused by content safety"
#: A Kling-side failure that is not content policy (the simulator's error marker).
GENERATION_ERROR_MESSAGE = "Image generation failed: internal error, please retry"
#: How rendered images carry ``index``: as Kling does, left out, or ``0`` on every image.
IMAGE_INDEX_MODES = ("normal", "missing", "repeat")
PROGRESS_MODES = ("timed", "immediate", "manual")
SUBMITTED, PROCESSING, SUCCEED, FAILED = "submitted", "processing", "succeed", "failed"
FINAL = (SUCCEED, FAILED)
#: STAND-IN: what one unit costs in ``final_balance_deduction.list_price`` (no published figure).
UNIT_LIST_PRICE = 0.14


@dataclass(eq=False)
class SimTask:
    """One task. Mutable only under :class:`~airflow_provider_kling.testing.state.SimulatorState`'s lock."""

    task_id: str
    owner: str
    account: str
    request: ImageRequest
    created: float
    latency: float
    failure: str | None = None
    image_index_mode: str = "normal"
    progress: str = "timed"
    phases: list[tuple[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.phases:
            self.phases = [(SUBMITTED, self.created)]
            if self.progress != "manual":
                self._schedule_rest(self.created, 0.0 if self.progress == "immediate" else self.latency)

    def _schedule_rest(self, start: float, latency: float) -> None:
        """Append the phases still to come, spread over ``latency`` from ``start``."""
        if self.phases[-1][0] == SUBMITTED:
            self.phases.append((PROCESSING, start + latency / 2))
        if self.phases[-1][0] == PROCESSING:
            self.phases.append((self.final_status, start + latency))

    @property
    def final_status(self) -> str:
        return FAILED if self.failure else SUCCEED

    @property
    def external_task_id(self) -> str | None:
        return self.request.external_task_id

    @property
    def ends_at(self) -> float | None:
        """When the task ends (or ended); None while a manual task has not been ended."""
        status, at = self.phases[-1]
        return at if status in FINAL else None

    def status_at(self, now: float) -> str:
        current = self.phases[0][0]
        for status, at in self.phases:
            if at > now:
                break
            current = status
        return current

    def changed_at(self, status: str) -> float:
        """When the task entered ``status``."""
        return next((at for phase, at in self.phases if phase == status), self.created)

    def holds_slots_at(self, now: float) -> bool:
        ends = self.ends_at
        return ends is None or now < ends

    def succeeded_by(self, now: float) -> bool:
        return self.status_at(now) == SUCCEED

    def set_progress(self, progress: str, now: float) -> None:
        """Switch how the task moves on from ``now``: phases not reached yet are re-planned."""
        self.phases = [(status, at) for status, at in self.phases if at <= now] or [(SUBMITTED, self.created)]
        self.progress = progress
        if progress != "manual":
            self._schedule_rest(now, 0.0 if progress == "immediate" else self.latency)

    def advance(self, now: float, to: str | None = None) -> str:
        """Move to the next status (or to ``to``) now; a task that already ended stays as it is."""
        self.set_progress("manual", now)
        current = self.phases[-1][0]
        if current in FINAL:
            return current
        if to is None:
            to = PROCESSING if current == SUBMITTED else self.final_status
        if to not in (PROCESSING, *FINAL) or (to == PROCESSING and current == PROCESSING):
            raise ValueError(f"a {current} task cannot move to {to!r}")
        if to == FAILED and not self.failure:
            self.failure = GENERATION_ERROR_MESSAGE
        elif to == SUCCEED:
            self.failure = None
        self.phases.append((to, now))
        return to


def _millis(seconds: float) -> int:
    return int(seconds * 1000)


def _number(value: float) -> str:
    return f"{value:g}"


def render_task(task: SimTask, *, image_root: str, now: float, status: str | None = None) -> dict[str, Any]:
    """The task object Kling returns (``data`` of create and query, an item of the list).

    ``image_root`` is the absolute URL images are served under; ``status`` forces one phase
    (the create answer and callbacks), otherwise the status at ``now`` is shown.
    """
    status = status or task.status_at(now)
    body: dict[str, Any] = {
        "task_id": task.task_id,
        "task_status": status,
        "task_status_msg": task.failure if status == FAILED else "",
        "task_info": {"external_task_id": task.external_task_id} if task.external_task_id else {},
        "created_at": _millis(task.created),
        "updated_at": _millis(task.changed_at(status)),
        "task_result": {},
    }
    if status in FINAL:
        units = task.request.units if status == SUCCEED else 0.0
        body["final_unit_deduction"] = _number(units)
        body["final_balance_deduction"] = {
            "quota": _number(units),
            "list_price": _number(round(units * UNIT_LIST_PRICE, 4)),
        }
    render_info = getattr(task.request, "render_info", None)
    if render_info is not None:  # a video task (testing.video_rules): e.g. the extended video
        body["task_info"].update(render_info(image_root))
    render_result = getattr(task.request, "render_result", None)
    if status == SUCCEED and render_result is not None:
        body["task_result"] = render_result(task.task_id, image_root)
    elif status == SUCCEED:
        images = [_image(task, i, image_root) for i in range(task.request.n)]
        if task.request.series:
            # An omni-image series, as a reseller's page describes it: ``series_images``.
            body["task_result"] = {"result_type": "series", "series_images": images}
        else:
            body["task_result"] = {"images": images}
    return body


def _image(task: SimTask, index: int, image_root: str) -> dict[str, Any]:
    image: dict[str, Any] = {"index": index, "url": f"{image_root}/{task.task_id}/{index}.png"}
    if task.request.watermark:
        image["watermark_url"] = f"{image_root}/{task.task_id}/watermarked/{index}.png"
    if task.image_index_mode == "missing":
        del image["index"]
    elif task.image_index_mode == "repeat":
        image["index"] = 0
    return image


def describe_task(task: SimTask, *, image_root: str, now: float) -> dict[str, Any]:
    """The task as Kling shows it now, plus what a test wants to know: the key's fingerprint
    (``key``; never the key itself), the ``account``, the ``progress`` mode and the ``request``."""
    return {
        **render_task(task, image_root=image_root, now=now),
        "key": key_fingerprint(task.owner),
        "account": task.account,
        "progress": task.progress,
        "request": task.request.to_json(),
    }
