"""Another endpoint through the hook: its request model names the path; task calls take it as ``endpoint``."""

from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.lifecycle.poll import wait_for_task
from airflow_provider_kling.models.requests import MultiImageRequest

hook = KlingHook()
request = MultiImageRequest.build(
    subject_image_list=[{"subject_image": "https://cdn.example.com/shirt.png"}],
    prompt="the shirt in a shop window",
)
task = hook.create_task(request)  # POST /v1/images/multi-image2image, with an external_task_id
task = wait_for_task(hook, task.task_id, endpoint=request.path, poll_interval=1, timeout=600)
print(task.task_status, [image.url for image in task.images])
