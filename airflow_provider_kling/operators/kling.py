"""KlingImageGenerationOperator: one templated prompt in, stored images and a result dict out."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.common.compat.sdk import conf
from airflow.sdk import BaseOperator, BaseOperatorLink

from airflow_provider_kling.errors import KlingError, KlingImageUnavailableError
from airflow_provider_kling.failures import fail_fast
from airflow_provider_kling.polling import DEFAULT_POLL_INTERVAL, DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.types import TaskInstanceKey

    from airflow_provider_kling.hooks.kling import KlingHook
    from airflow_provider_kling.models import ImageGenerationRequest, ImageTask

#: XCom key under which the Kling task id is pushed the moment the task exists.
XCOM_KLING_TASK_ID = "kling_task_id"
#: Task state store key (Airflow >= 3.3) that lets a retry reconnect to the same Kling task.
STATE_KLING_TASK_ID = "kling_task_id"


class KlingImageLink(BaseOperatorLink):
    """An extra link in the Airflow UI to the first image Kling generated."""

    name = "Kling image"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return getattr(operator, "_kling_image_url", None) or ""


class KlingImageGenerationOperator(BaseOperator):
    """
    Generate images with Kling, wait for them, copy them to your storage, return the result.

    A retry of the same task instance reconnects to the Kling task the earlier try created
    (one paid generation per task instance); a new one is created only when that one failed.

    :param prompt: The prompt, at most 2500 characters, or a ``.txt``/``.j2``/``.jinja2`` file
        rendered with the run's context. (templated)
    :param model_name: Kling image model, e.g. ``kling-v1`` (default), ``kling-v2-1``. (templated)
    :param n: Number of images, 1 to 9.
    :param negative_prompt: What to keep out of the image; not allowed with ``image``. (templated)
    :param image: Reference image: an http(s) URL or base64 data. (templated)
    :param image_reference: ``subject`` or ``face``; required by kling-v1-5 with an image. (templated)
    :param image_fidelity: Reference image strength, 0 to 1.
    :param human_fidelity: Subject likeness, 0 to 1; only with ``image_reference="subject"``.
    :param resolution: ``1k`` or ``2k``. (templated)
    :param aspect_ratio: One of 16:9, 9:16, 1:1, 4:3, 3:4, 3:2, 2:3, 21:9. (templated)
    :param callback_url: URL Kling POSTs the task to on each status change. (templated)
    :param external_task_id: Your id for the Kling task, unique per account; by default one is
        derived from dag, run, task and map index so that retries find the same task. (templated)
    :param kling_conn_id: The ``kling`` connection. (templated)
    :param wait_for_completion: Wait for the images (default); if False, return once the task exists.
    :param deferrable: Wait in the triggerer instead of on the worker.
    :param poll_interval: Seconds between status polls.
    :param timeout: Seconds to wait for the Kling task before failing (the task is kept; a
        re-run resumes it).
    :param output_path: Where to copy the images: a local path, a URI (``file://``, ``s3://``,
        ``gs://`` ...) or an ``ObjectStoragePath``. Files are named
        ``<dag_id>/<run_id>/<task_id>[_<map_index>]_<index>.<ext>`` under it. (templated)
    """

    template_fields: Sequence[str] = (
        "prompt",
        "negative_prompt",
        "model_name",
        "image",
        "image_reference",
        "resolution",
        "aspect_ratio",
        "callback_url",
        "external_task_id",
        "output_path",
        "kling_conn_id",
    )
    template_ext: Sequence[str] = (".txt", ".j2", ".jinja2")
    template_fields_renderers: ClassVar[dict[str, str]] = {"prompt": "jinja"}
    ui_color = "#d6e4ff"
    operator_extra_links = (KlingImageLink(),)

    def __init__(
        self,
        *,
        prompt: str,
        model_name: str = "kling-v1",
        n: int = 1,
        negative_prompt: str | None = None,
        image: str | None = None,
        image_reference: str | None = None,
        image_fidelity: float | None = None,
        human_fidelity: float | None = None,
        resolution: str | None = None,
        aspect_ratio: str | None = None,
        callback_url: str | None = None,
        external_task_id: str | None = None,
        kling_conn_id: str = "kling_default",
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        output_path: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (("poll_interval", poll_interval), ("timeout", timeout)):
            if not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds (got {value!r})")
        self.prompt = prompt
        self.model_name = model_name
        self.n = n
        self.negative_prompt = negative_prompt
        self.image = image
        self.image_reference = image_reference
        self.image_fidelity = image_fidelity
        self.human_fidelity = human_fidelity
        self.resolution = resolution
        self.aspect_ratio = aspect_ratio
        self.callback_url = callback_url
        self.external_task_id = external_task_id
        self.kling_conn_id = kling_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.output_path = output_path
        self._kling_image_url: str | None = None

    @cached_property
    def hook(self) -> KlingHook:
        from airflow_provider_kling.hooks.kling import KlingHook

        return KlingHook(self.kling_conn_id)

    # -- request -------------------------------------------------------------------------------

    def build_request(self, context: Context) -> ImageGenerationRequest:
        """The rendered fields as a validated request; a bad one fails here, before any HTTP call."""
        from airflow_provider_kling.errors import KlingRequestValidationError
        from airflow_provider_kling.models import ImageGenerationRequest

        try:
            return ImageGenerationRequest.build(
                model_name=self.model_name,
                prompt=self.prompt,
                n=self.n,
                negative_prompt=self.negative_prompt,
                image=self.image,
                image_reference=self.image_reference,
                image_fidelity=self.image_fidelity,
                human_fidelity=self.human_fidelity,
                resolution=self.resolution,
                aspect_ratio=self.aspect_ratio,
                callback_url=self.callback_url,
                external_task_id=self.external_task_id or self._default_external_task_id(context),
            )
        except KlingRequestValidationError as exc:
            raise fail_fast(exc) from None

    def _default_external_task_id(self, context: Context) -> str:
        """Stable across tries of one task instance, distinct between instances."""
        ti = context["ti"]
        run_id = context.get("run_id") or getattr(ti, "run_id", "")
        map_index = getattr(ti, "map_index", -1)
        key = f"{self.dag_id}\x1f{run_id}\x1f{self.task_id}\x1f{map_index}"
        return "airflow-" + hashlib.sha256(key.encode()).hexdigest()[:32]

    # -- execution -----------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        request = self.build_request(context)
        try:
            task = self._resume_or_create(request, context)
        except KlingError as exc:
            raise fail_fast(exc) from exc
        context["ti"].xcom_push(key=XCOM_KLING_TASK_ID, value=task.task_id)
        if not self.wait_for_completion:
            self.log.info("Kling task %s is %s; not waiting for it", task.task_id, task.task_status)
            return self._result(task, request)
        if task.task_status != "succeed":
            if self.deferrable:
                self._defer(task.task_id)
            try:
                task = self.hook.wait_for_image_task(
                    task.task_id, poll_interval=self.poll_interval, timeout=self.timeout
                )
            except KlingError as exc:
                raise fail_fast(exc) from exc
        return self._finish(task, request, context)

    def _defer(self, kling_task_id: str) -> None:
        import time

        from airflow_provider_kling.polling import defer_timeout
        from airflow_provider_kling.triggers.kling import KlingImageTaskTrigger

        self.log.info(
            "Deferring: the triggerer polls Kling task %s every %ss", kling_task_id, self.poll_interval
        )
        self.defer(
            trigger=KlingImageTaskTrigger(
                kling_task_id=kling_task_id,
                kling_conn_id=self.kling_conn_id,
                poll_interval=self.poll_interval,
                deadline=time.time() + self.timeout,
            ),
            method_name="execute_complete",
            timeout=defer_timeout(self.timeout),
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger: store the images, or fail with what the trigger saw."""
        from airflow_provider_kling.triggers.kling import task_from_event

        try:
            task = task_from_event(event)
        except KlingError as exc:
            raise fail_fast(exc) from exc
        return self._finish(task, self.build_request(context), context)

    def _resume_or_create(self, request: ImageGenerationRequest, context: Context) -> ImageTask:
        """
        Reconnect to this task instance's Kling task if an earlier try made one; else create it.

        The task state store (Airflow >= 3.3) remembers the Kling task id across tries; without
        it, or when it is empty, Kling itself is asked by external task id (``<id>``, ``<id>-2``,
        ... one per Kling-side failure), so a worker killed mid-wait never pays twice.
        """
        store = context.get("task_state_store")
        stored_id = _store_get(store, STATE_KLING_TASK_ID)
        if (
            stored_id
            and (known := self.hook.find_image_task(str(stored_id)))
            and known.task_status != "failed"
        ):
            self.log.info(
                "Resuming Kling task %s (status %s) from an earlier try", known.task_id, known.task_status
            )
            return known
        base_id = request.external_task_id
        assert base_id is not None
        attempt = 1
        while True:
            external_id = base_id if attempt == 1 else f"{base_id}-{attempt}"
            earlier = self.hook.find_image_task(external_id)
            if earlier is None:
                break
            if earlier.task_status != "failed":
                self.log.info(
                    "Resuming Kling task %s (status %s) found by external_task_id %s",
                    earlier.task_id,
                    earlier.task_status,
                    external_id,
                )
                _store_set(store, STATE_KLING_TASK_ID, earlier.task_id)
                return earlier
            self.log.warning(
                "Earlier Kling task %s failed (%s); creating a new one",
                earlier.task_id,
                earlier.task_status_msg,
            )
            attempt += 1
        task = self.hook.create_image_task(request.model_copy(update={"external_task_id": external_id}))
        _store_set(store, STATE_KLING_TASK_ID, task.task_id)
        return task

    # -- results -------------------------------------------------------------------------------

    def _finish(self, task: ImageTask, request: ImageGenerationRequest, context: Context) -> dict[str, Any]:
        if not task.images:
            raise KlingImageUnavailableError(
                f"Kling task {task.task_id} succeeded but returned no images", task_id=task.task_id
            )
        result = self._result(task, request)
        self._kling_image_url = task.images[0].url
        if self.output_path:
            self._store_images(result, context)
        else:
            self.log.info(
                "Kling task %s made %d images; not copied (no output_path): Kling purges them after 30 days",
                task.task_id,
                len(task.images),
            )
        return result

    def _store_images(self, result: dict[str, Any], context: Context) -> None:
        """Copy every image; one that cannot be copied fails the task after the rest are stored."""
        from airflow_provider_kling.storage import store_task_images, to_storage_path

        ti = context["ti"]
        store_task_images(
            result,
            to_storage_path(self.output_path),
            fetch=self.hook.iter_image_bytes,
            dag_id=self.dag_id,
            run_id=str(context.get("run_id") or getattr(ti, "run_id", "run")),
            task_id=self.task_id,
            map_index=getattr(ti, "map_index", None),
            log=self.log,
        )

    def _result(self, task: ImageTask, request: ImageGenerationRequest) -> dict[str, Any]:
        return {**task.to_xcom(), "model_name": request.model_name, "prompt": request.prompt}


def _store_get(store: Any, key: str) -> Any:
    return store.get(key) if store is not None else None


def _store_set(store: Any, key: str, value: str) -> None:
    if store is not None:
        store.set(key, value)
