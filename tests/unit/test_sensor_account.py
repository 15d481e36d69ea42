"""KlingResourcePackSensor against the simulator: enough units pass, too few fail (or wait) before
anything is created; the figures it reads are Kling's resource packs."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_kling.hooks import account as account_module
from airflow_provider_kling.sensors.account import KlingResourcePackSensor
from airflow_provider_kling.testing import KlingSimulator
from tests.unit.task_context import make_context


@pytest.fixture(autouse=True)
def fresh_spacing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no costs query sent yet (so no 1/s spacing wait is due)."""
    monkeypatch.setattr(account_module, "_next_costs_query", {})


def _sensor(**kwargs) -> KlingResourcePackSensor:
    return KlingResourcePackSensor(task_id="enough_units", **kwargs)


def test_enough_units_pass_and_return_what_the_account_holds(kling_connection: KlingSimulator) -> None:
    kling_connection.set_resource_packs([{"resource_pack_name": "Images 100", "total_quantity": 100}])

    result = _sensor(units_needed=60, reserve_units=40).execute(make_context())

    assert result["remaining_units"] == 100.0 and result["units_needed"] == 60.0
    assert [pack["resource_pack_name"] for pack in result["resource_packs"]] == ["Images 100"]


def test_too_few_units_fail_at_once_saying_what_is_left_and_what_to_do(
    kling_connection: KlingSimulator,
) -> None:
    kling_connection.set_resource_packs([{"total_quantity": 10, "remaining_quantity": 3}])

    with pytest.raises(AirflowFailException) as caught:
        _sensor(units_needed="4").execute(make_context())  # a rendered template is text

    message = str(caught.value)
    assert "has 3 units left in the online resource packs, and this run needs 4" in message
    assert "buy a resource pack" in message and "lag by up to 12 hours" in message
    assert kling_connection.counters(kling_connection.api_key)["creates"] == 0


def test_the_reserve_counts_against_what_is_left(kling_connection: KlingSimulator) -> None:
    kling_connection.set_resource_packs([{"total_quantity": 10}])
    with pytest.raises(AirflowFailException, match="needs 8 plus 3 kept in reserve"):
        _sensor(units_needed=8, reserve_units=3).execute(make_context())


def test_only_online_packs_of_the_named_pack_count(kling_connection: KlingSimulator) -> None:
    kling_connection.set_resource_packs(
        [
            {"resource_pack_name": "Video", "total_quantity": 500},
            {"resource_pack_name": "Images", "total_quantity": 50, "remaining_quantity": 0},
        ]
    )
    with pytest.raises(AirflowFailException, match="0 units left in resource pack 'Images'"):
        _sensor(units_needed=1, resource_pack_name="Images").execute(make_context())


def test_wait_for_units_keeps_poking_instead_of_failing(kling_connection: KlingSimulator) -> None:
    kling_connection.set_resource_packs([{"total_quantity": 10, "remaining_quantity": 1}])
    sensor = _sensor(units_needed=5, wait_for_units=True)

    assert sensor.poke(make_context()).is_done is False
    kling_connection.set_resource_packs([{"total_quantity": 10}])  # topped up
    assert sensor.poke(make_context()).is_done is True


@pytest.mark.parametrize("units_needed", ["many", -1, None, True, "nan"])
def test_a_bad_units_needed_fails_naming_the_field_before_any_call(
    kling_connection: KlingSimulator, units_needed
) -> None:
    with pytest.raises(AirflowFailException, match="units_needed must be a number of units >= 0"):
        _sensor(units_needed=units_needed).execute(make_context())
    assert kling_connection.counters(kling_connection.api_key)["requests"] == 0


def test_reserve_units_is_checked_when_the_dag_is_parsed() -> None:
    with pytest.raises(ValueError, match="reserve_units must be a number of units >= 0"):
        _sensor(units_needed=1, reserve_units=-2)


def test_a_refused_key_fails_without_retries(kling_simulator: KlingSimulator, monkeypatch) -> None:
    conn = kling_simulator.airflow_conn_json().replace(kling_simulator.api_key, "not-the-key-123")
    monkeypatch.setenv("AIRFLOW_CONN_KLING_DEFAULT", conn)
    with pytest.raises(AirflowFailException, match="Check the credentials of Airflow connection"):
        _sensor(units_needed=1).execute(make_context())
