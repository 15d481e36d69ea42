"""A test of your own code against the simulator, with the opt-in fixtures.

In your project's top-level ``conftest.py``::

    pytest_plugins = ("airflow_provider_kling.testing.pytest_plugin",)
"""

from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.lifecycle.poll import wait_for_task


def test_my_pipeline_pays_once(kling_connection):
    kling_connection.set_latency(0.2)
    kling_connection.rate_limit_next(1, retry_after=0.5)  # also fail_next, error_next, set_delay ...

    hook = KlingHook()  # kling_default points at the simulator
    task = hook.create_task(prompt="a lighthouse at dawn", model_name="kling-v3", n=1)
    task = wait_for_task(hook, task.task_id, poll_interval=0.1, timeout=30)

    assert task.task_status == "succeed"
    assert kling_connection.counters("test-key")["creates"] == 1
