"""Many tasks in one call (``hooks/task_queries.py``), model-path queries (``hooks/wire.py``) and the
checks before a create (``hooks/create.py``), through the hook against the simulator."""

from __future__ import annotations

import json
import logging

import pytest

from airflow_provider_kling.errors import KlingAuthError
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.models.requests import TextToVideoRequest


def set_connection(monkeypatch, host: str, password: str, login: str | None = None, **extra) -> None:
    conn = {"conn_type": "kling", "host": host, "password": password, "extra": extra}
    if login:
        conn["login"] = login
    monkeypatch.setenv("AIRFLOW_CONN_KLING_DEFAULT", json.dumps(conn))


def create(k: int, simulator) -> list[str]:
    simulator.set_slots(1000)
    hook = KlingHook()
    return [hook.create_task(model_name="kling-v3", prompt=f"a kite {i}", n=1).task_id for i in range(k)]


def test_get_tasks_reads_twenty_ids_a_call_in_the_order_asked(kling_connection):
    kling_connection.set_progress("manual")  # running: /tasks says all there is to say
    task_ids = create(45, kling_connection)
    kling_connection.reset_counters()

    tasks = KlingHook().get_tasks([*reversed(task_ids), "no-such-task"])

    assert [task.task_id for task in tasks] == list(reversed(task_ids))
    counters = kling_connection.counters(kling_connection.api_key)
    assert (counters["tasks"], counters["queries"]) == (3, 0)


def test_get_tasks_queries_each_task_where_the_host_lacks_tasks(kling_connection):
    task_ids = create(3, kling_connection)
    kling_connection.configure(tasks_query=False)
    kling_connection.reset_counters()
    hook = KlingHook()

    tasks = hook.get_tasks(task_ids)
    hook.get_tasks(task_ids)

    assert [task.task_id for task in tasks] == task_ids
    counters = kling_connection.counters(kling_connection.api_key)
    assert counters["queries"] == 6
    assert counters["requests"] == 7, "the host was asked for /tasks once, then never again"


async def test_aget_tasks_reads_them_on_the_shared_client(kling_connection):
    task_ids = create(21, kling_connection)
    kling_connection.reset_counters()
    hook = KlingHook()
    try:
        tasks = await hook.aget_tasks(task_ids)
    finally:
        await hook.aclose()

    assert {task.task_id for task in tasks} == set(task_ids)
    assert kling_connection.counters(kling_connection.api_key)["tasks"] == 2


def test_a_finished_v1_task_read_through_tasks_carries_the_spend_its_own_query_does(kling_connection):
    (task_id,) = create(1, kling_connection)
    kling_connection.advance(task_id, to="succeed")
    hook = KlingHook()

    (many,) = hook.get_tasks([task_id])
    one = hook.get_task(task_id)

    assert many.final_balance_deduction is not None
    assert many.to_xcom() == one.to_xcom()
    counters = kling_connection.counters(kling_connection.api_key)
    assert counters["tasks"] == 1, "a finished /v1 task is read once through /tasks, then at its own route"


def test_a_new_style_create_goes_to_its_model_path_and_is_queried_through_tasks(kling_connection):
    hook = KlingHook()
    request = TextToVideoRequest.build(model_name="kling-3.0", prompt="a fox in snow", duration=5)
    kling_connection.set_progress("immediate")

    created = hook.create_task(request)
    where = {"endpoint": request.endpoint, "api_style": request.api_style}
    done = hook.get_task(created.task_id, **where)
    by_external = hook.find_task_by_external_id(created.external_task_id or "", **where)

    assert done.task_status == "succeed" and done.videos[0].duration == "5"
    assert by_external is not None and by_external.task_id == created.task_id
    (task,) = kling_connection.tasks()
    assert task["request"]["prompt"] == "a fox in snow"


def test_a_jwt_connection_on_a_new_style_path_fails_before_sending(kling_simulator, monkeypatch):
    set_connection(monkeypatch, kling_simulator.base_url, "secret", login="access")
    request = TextToVideoRequest.build(model_name="kling-3.0", prompt="a fox")

    with pytest.raises(KlingAuthError, match="needs an API key"):
        KlingHook().create_task(request)
    with pytest.raises(KlingAuthError, match="needs an API key"):
        KlingHook().get_task("1", endpoint=request.path, api_style=request.api_style)

    assert kling_simulator.counters() == {}


def test_a_model_only_missing_from_klings_pages_is_sent_to_klings_host_with_a_warning(monkeypatch):
    # Bug 5: no live answer confirmed its retirement, and Kling charges nothing for a request it
    # refuses: it is sent, with a warning naming the date.
    set_connection(monkeypatch, "https://api-singapore.klingai.com", "key")
    hook = KlingHook()
    warnings: list[str] = []
    recorder = logging.getLogger("recorder")
    monkeypatch.setattr(recorder, "warning", lambda message, *args: warnings.append(message % args))
    monkeypatch.setattr(KlingHook, "log", property(lambda self: recorder))

    class Sent(Exception):
        pass

    def sent(*args, **kwargs):
        raise Sent

    monkeypatch.setattr(hook.session, "request", sent)
    with pytest.raises(Sent):
        hook.create_task(model_name="kling-v1-5", prompt="a kite", n=1)
    assert any("kling-v1-5 is no longer listed" in w and "2026-09-20" in w for w in warnings)


def test_a_model_kling_retired_is_sent_elsewhere_with_a_warning(kling_connection, monkeypatch):
    warnings: list[str] = []
    recorder = logging.getLogger("recorder")
    monkeypatch.setattr(recorder, "warning", lambda message, *args: warnings.append(message % args))
    monkeypatch.setattr(KlingHook, "log", property(lambda self: recorder))

    task = KlingHook().create_task(model_name="kling-v1", prompt="a kite", n=1)

    assert task.task_id
    assert any(
        "Kling no longer serves kling-v1 on its own hosts (not since 2026-09-20)" in w for w in warnings
    )


def test_retired_models_warn_sends_it_anyway(monkeypatch):
    from airflow_provider_kling.hooks.create import check_create
    from airflow_provider_kling.models.requests import ImageGenerationRequest

    set_connection(monkeypatch, "https://api-singapore.klingai.com", "key", retired_models="warn")
    hook = KlingHook()
    hook.settings  # noqa: B018 - loaded, as a sender does before the steps run
    request = ImageGenerationRequest(model_name="kling-v1", prompt="a kite", n=1)
    check_create(hook, request)  # no exception: a warning only


def test_a_model_path_create_whose_answer_is_lost_resumes_the_one_task_by_external_id(kling_connection):
    kling_connection.lose_next_create_answers(1, mode="reset")
    request = TextToVideoRequest.build(model_name="kling-3.0", prompt="a fox in snow", duration=5)

    task = KlingHook().create_task(request)

    (made,) = kling_connection.tasks()
    assert task.task_id == made["task_id"]
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1
