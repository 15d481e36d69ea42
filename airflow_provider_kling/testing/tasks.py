"""The simulator's image task: its timeline, and how it looks on the wire."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_provider_kling.models import ImageGenerationRequest, TaskStatus

#: Where images are served, under the simulator's origin (both prefixes route there too).
IMAGE_PATH = "/kling/images"
#: Kling's message for a prompt refused by content safety (the simulator's fail marker).
CONTENT_POLICY_MESSAGE = "Failure to pass the risk control system: the prompt was refused by content safety"
#: A Kling-side failure that is not content policy (the simulator's error marker).
GENERATION_ERROR_MESSAGE = "Image generation failed: internal error, please retry"
#: How rendered images carry ``index``: as Kling does, left out, or ``0`` on every image.
IMAGE_INDEX_MODES = ("normal", "missing", "repeat")


class ApiError(Exception):
    """An answer in Kling's error form: HTTP status, Kling code, message, optional headers."""

    def __init__(self, http_status: int, code: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True)
class SimTask:
    """One task; its status is a function of time, fixed when it is created."""

    task_id: str
    owner: str
    request: ImageGenerationRequest
    created: float
    latency: float
    failure: str | None = None
    image_index_mode: str = "normal"

    @property
    def processing_at(self) -> float:
        return self.created + self.latency / 2

    @property
    def ends_at(self) -> float:
        return self.created + self.latency

    @property
    def final_status(self) -> TaskStatus:
        return TaskStatus.FAILED if self.failure else TaskStatus.SUCCEED

    @property
    def external_task_id(self) -> str | None:
        return self.request.external_task_id

    def status_at(self, now: float) -> TaskStatus:
        if now >= self.ends_at:
            return self.final_status
        if now >= self.processing_at:
            return TaskStatus.PROCESSING
        return TaskStatus.SUBMITTED

    def changed_at(self, status: TaskStatus) -> float:
        """When the task entered ``status``."""
        if status is TaskStatus.SUBMITTED:
            return self.created
        return self.processing_at if status is TaskStatus.PROCESSING else self.ends_at

    def phases(self) -> list[tuple[TaskStatus, float]]:
        """Every status the task goes through, with the time it starts."""
        return [
            (status, self.changed_at(status))
            for status in (TaskStatus.SUBMITTED, TaskStatus.PROCESSING, self.final_status)
        ]

    def holds_slots_at(self, now: float) -> bool:
        return now < self.ends_at


def _millis(seconds: float) -> int:
    return int(seconds * 1000)


def render_task(
    task: SimTask, *, image_root: str, now: float, status: TaskStatus | None = None
) -> dict[str, Any]:
    """The task object Kling returns (``data`` of create and query, an item of the list).

    ``image_root`` is the absolute URL images are served under; ``status`` forces one phase
    (the create answer and callbacks), otherwise the status at ``now`` is shown.
    """
    status = status or task.status_at(now)
    body: dict[str, Any] = {
        "task_id": task.task_id,
        "task_status": status.value,
        "task_status_msg": task.failure if status is TaskStatus.FAILED else "",
        "task_info": {"external_task_id": task.external_task_id} if task.external_task_id else {},
        "created_at": _millis(task.created),
        "updated_at": _millis(task.changed_at(status)),
    }
    if status is TaskStatus.SUCCEED:
        body["final_unit_deduction"] = str(task.request.n)
        images: list[dict[str, Any]] = []
        for i in range(task.request.n):
            image: dict[str, Any] = {"index": i, "url": f"{image_root}/{task.task_id}/{i}.png"}
            if task.image_index_mode == "missing":
                del image["index"]
            elif task.image_index_mode == "repeat":
                image["index"] = 0
            images.append(image)
        body["task_result"] = {"images": images}
    return body
