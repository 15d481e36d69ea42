"""KlingHook.get_account_costs against the simulator: typed packs, checked parameters, 1/s spacing;
and creates refused for arrears (1101) or used-up packs (1102) with a message that says what to do.

Spacing is checked with a fake clock given to the hook: no test sleeps or measures time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from airflow_provider_kling.errors import (
    KlingArrearsError,
    KlingRequestValidationError,
    KlingResourcePackExhaustedError,
)
from airflow_provider_kling.hooks import account as account_module
from airflow_provider_kling.hooks.kling import KlingHook
from airflow_provider_kling.models.account import AccountCosts, ResourcePack, ResourcePackStatus
from airflow_provider_kling.testing import KlingSimulator
from tests.unit.fakes import FakeClock

HOUR_MS = 3_600_000


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(now=500.0, wall=time.time() + 60)  # the default window ends after the packs began


@pytest.fixture(autouse=True)
def fresh_spacing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no costs query sent yet (the spacing is process-wide state)."""
    monkeypatch.setattr(account_module, "_next_costs_query", {})


def _now_ms() -> int:
    return int(datetime.now(tz=UTC).timestamp() * 1000)


def test_account_costs_are_typed_packs_with_remaining_units_of_online_packs_only(
    kling_connection: KlingSimulator,
    clock,
) -> None:
    now = _now_ms()
    kling_connection.set_resource_packs(
        [
            {"resource_pack_name": "Images 100", "total_quantity": 100, "remaining_quantity": 37.5},
            {"resource_pack_name": "Images 20", "total_quantity": 20, "remaining_quantity": 0},
            {
                "resource_pack_name": "Next month",
                "total_quantity": 50,
                "effective_time": now + 24 * HOUR_MS,
                "invalid_time": now + 48 * HOUR_MS,
            },
        ]
    )

    costs = KlingHook(clock=clock).get_account_costs(end_time=now + 30 * HOUR_MS)

    assert isinstance(costs, AccountCosts)
    assert all(isinstance(pack, ResourcePack) for pack in costs.packs)
    by_name = {pack.resource_pack_name: pack for pack in costs.packs}
    assert {name: pack.status for name, pack in by_name.items()} == {
        "Images 100": ResourcePackStatus.ONLINE,
        "Images 20": ResourcePackStatus.RUN_OUT,
        "Next month": ResourcePackStatus.TO_BE_ONLINE,
    }
    assert by_name["Images 100"].remaining_quantity == 37.5
    assert by_name["Images 100"].total_quantity == 100.0
    assert isinstance(by_name["Images 100"].invalid_time, datetime)
    assert costs.remaining_units() == 37.5  # neither the used-up nor the future pack counts
    assert costs.remaining_units("Images 20") == 0.0
    assert costs.to_xcom()["remaining_units"] == 37.5


def test_account_costs_by_pack_name_and_window(kling_connection: KlingSimulator, clock) -> None:
    kling_connection.set_resource_packs(
        [
            {"resource_pack_name": "A", "total_quantity": 10},
            {
                "resource_pack_name": "Old",
                "total_quantity": 10,
                "effective_time": _now_ms() - 400 * 24 * HOUR_MS,
                "invalid_time": _now_ms() - 30 * 24 * HOUR_MS,
            },
        ]
    )
    hook = KlingHook(clock=clock)
    now = datetime.now(tz=UTC) + timedelta(seconds=1)

    named = hook.get_account_costs(resource_pack_name="A")
    last_year = hook.get_account_costs(start_time=now - timedelta(days=365), end_time=now)

    assert [pack.resource_pack_name for pack in named.packs] == ["A"]
    assert {pack.resource_pack_name: pack.status for pack in last_year.packs} == {
        "A": "online",
        "Old": "expired",
    }


def test_costs_queries_of_one_account_are_spaced_a_second_apart(
    kling_connection: KlingSimulator, clock: FakeClock
) -> None:
    hook, other_hook = KlingHook(clock=clock), KlingHook(clock=clock)

    hook.get_account_costs()
    other_hook.get_account_costs()  # another hook instance, same account: still spaced
    clock.now += 5.0  # a pause longer than the spacing
    hook.get_account_costs()

    assert clock.waits == [1.0]
    assert kling_connection.counters(kling_connection.api_key)["costs"] == 3


def test_costs_queries_of_different_accounts_do_not_wait_for_each_other(clock: FakeClock) -> None:
    from airflow_provider_kling.hooks.connection import KlingConnectionSettings

    first = KlingConnectionSettings(base_url="http://127.0.0.1:1/kling", api_key="key-of-account-a")
    second = KlingConnectionSettings(base_url="http://127.0.0.1:1/kling", api_key="key-of-account-b")
    elsewhere = KlingConnectionSettings(base_url="http://127.0.0.1:2/kling", api_key="key-of-account-a")

    waits = [account_module.costs_turn(settings, clock) for settings in (first, second, elsewhere, first)]

    assert waits == [0.0, 0.0, 0.0, 1.0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start_time": 2_000, "end_time": 1_000}, "start_time must not be after end_time"),
        ({"end_time": datetime(2026, 1, 1)}, "end_time must be timezone-aware"),
        ({"start_time": -5}, "start_time must be a timezone-aware datetime or Unix milliseconds"),
        ({"start_time": "yesterday"}, "start_time must be a timezone-aware datetime or Unix milliseconds"),
        ({"resource_pack_name": " "}, "resource_pack_name must be a non-empty string"),
    ],
)
def test_bad_costs_parameters_are_refused_before_any_http_call(
    kling_connection: KlingSimulator, kwargs: dict, message: str, clock
) -> None:
    with pytest.raises(KlingRequestValidationError, match=message):
        KlingHook(clock=clock).get_account_costs(**kwargs)
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_a_create_past_the_resource_packs_fails_with_1102_saying_what_to_do(
    kling_connection: KlingSimulator,
    clock,
) -> None:
    kling_connection.set_resource_packs([{"total_quantity": 1}])
    hook = KlingHook(clock=clock)
    hook.create_task(prompt="a red kite", model_name="kling-v1", n=1)  # 1 unit: the pack is used up

    with pytest.raises(KlingResourcePackExhaustedError) as caught:
        hook.create_task(prompt="a blue kite", model_name="kling-v1", n=1)

    assert caught.value.code == 1102 and caught.value.airflow_retryable is False
    assert "buy a resource pack" in str(caught.value)
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 1


def test_a_create_on_an_account_in_arrears_fails_with_1101_saying_what_to_do(
    kling_connection: KlingSimulator,
    clock,
) -> None:
    kling_connection.configure(in_arrears=True)

    with pytest.raises(KlingArrearsError) as caught:
        KlingHook(clock=clock).create_task(prompt="a red kite", model_name="kling-v1", n=1)

    assert caught.value.code == 1101
    assert "settle the bill" in str(caught.value)
    assert kling_connection.api_key not in str(caught.value)


def test_an_error_inside_the_costs_answer_is_klings_error_and_an_unreadable_one_a_response_error() -> None:
    from airflow_provider_kling.errors import KlingInvalidRequestError, KlingResponseError
    from airflow_provider_kling.models.account import costs_from_data

    with pytest.raises(KlingInvalidRequestError, match="bad window"):
        costs_from_data({"code": 1201, "msg": "bad window"})
    with pytest.raises(KlingResponseError, match="without its resource packs"):
        costs_from_data(None)
    with pytest.raises(KlingResponseError, match="remaining_quantity"):
        costs_from_data({"code": 0, "resource_pack_subscribe_infos": [{"remaining_quantity": "lots"}]})
    assert costs_from_data({"code": 0, "resource_pack_subscribe_infos": None}).packs == []
