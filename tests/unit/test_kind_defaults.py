"""Field defaults live on the request models: every caller that leaves them out gets the same request."""

from __future__ import annotations

from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.models import TaskStatus


def test_hook_create_task_with_only_a_prompt_sends_the_default_model_and_n(kling_connection):
    # The hook's docstring shows create_task(prompt=...); it failed "model_name: Field required".
    hook = KlingHook()

    created = hook.create_task(prompt="a lighthouse at dawn")
    task = hook.wait_for_task(created.task_id, poll_interval=0.05, timeout=300)

    assert task.task_status == TaskStatus.SUCCEED
    assert len(task.images) == 1
