"""The hook on its own: create an image task, wait for it, download its images.

Runs against whatever ``kling_default`` points at (tests/unit/test_docs.py runs it against the simulator).
"""

from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.lifecycle.poll import wait_for_task

hook = KlingHook()  # kling_conn_id="kling_default"
task = hook.create_task(model_name="kling-v2-1", prompt="a lighthouse at dawn", n=2, aspect_ratio="16:9")
task = wait_for_task(hook, task.task_id, poll_interval=1, timeout=600)
for image in task.images:
    with open(f"lighthouse_{image.index}.png", "wb") as file:
        hook.download_image(image.url, file)
