"""KlingResourcePackSensor: stop a DAG before a batch the account's resource packs cannot pay for."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_provider_kling.defaults import DEFAULT_CONN_ID
from airflow_provider_kling.errors import KlingError
from airflow_provider_kling.operators.base import fail_fast, units_argument
from airflow_provider_kling.operators.lazy import kling_hook
from airflow_provider_kling.spend import format_units

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_kling.hooks.kling import KlingHook

#: Kling's remaining quantities lag by hours: asking more often than this tells nothing new.
DEFAULT_POKE_INTERVAL = 600.0


def _units(name: str, value: Any) -> float:
    """A rendered unit figure (a number, or text such as ``"12.0"`` from a template) checked by name."""
    from airflow.providers.common.compat.sdk import AirflowFailException

    try:
        units = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        units = math.nan
    if not math.isfinite(units) or units < 0:
        raise AirflowFailException(f"{name} must be a number of units >= 0 (got {value!r})")
    return units


class KlingResourcePackSensor(BaseSensorOperator):
    """
    Succeed when the account's online resource packs hold the units a run needs; else fail at
    once (default) or wait for a top-up.

    Place it upstream of the tasks that create Kling tasks: when it fails, they never start, so
    nothing is created. Estimate ``units_needed`` with
    :func:`airflow_provider_kling.estimates.plan_within_budget` (its ``estimated_units``) or
    :class:`~airflow_provider_kling.estimates.UnitEstimator`.

    Kling's remaining quantities lag by up to 12 hours, so they overstate what is left after recent
    runs: ``reserve_units`` keeps a margin for that (and for other pipelines on the account). The
    check is necessary, not sufficient: a create past the packs still fails with code 1102.

    :param units_needed: Units the run needs (a number, or a template / XCom that renders to one). (templated)
    :param resource_pack_name: Count only the packs of this name (default: every online pack). (templated)
    :param reserve_units: Units that must stay left after the run (default 0).
    :param wait_for_units: ``False`` (default): fail without retries when the packs fall short.
        ``True``: keep poking (every ``poke_interval``, default 10 minutes; use ``mode="reschedule"``)
        until they hold enough or ``timeout`` passes.
    :param kling_conn_id: The ``kling`` connection. (templated)

    Returns (XCom) ``{"units_needed", "reserve_units", "remaining_units", "resource_packs"}``.
    """

    template_fields: Sequence[str] = ("units_needed", "resource_pack_name", "kling_conn_id")
    ui_color = "#d6e4ff"

    def __init__(
        self,
        *,
        units_needed: float | str,
        resource_pack_name: str | None = None,
        reserve_units: float = 0.0,
        wait_for_units: bool = False,
        kling_conn_id: str = DEFAULT_CONN_ID,
        poke_interval: float = DEFAULT_POKE_INTERVAL,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.units_needed = units_needed
        self.resource_pack_name = resource_pack_name
        self.reserve_units = units_argument("reserve_units", reserve_units)
        self.wait_for_units = wait_for_units
        self.kling_conn_id = kling_conn_id

    @cached_property
    def hook(self) -> KlingHook:
        return kling_hook(self.kling_conn_id)

    def poke(self, context: Context) -> PokeReturnValue:
        needed = _units("units_needed", self.units_needed)
        name = self.resource_pack_name or None
        try:
            costs = self.hook.get_account_costs(resource_pack_name=name)
        except KlingError as exc:
            raise fail_fast(exc) from exc
        remaining = costs.remaining_units(name)
        packs = f"resource pack {name!r}" if name else "the online resource packs"
        summary = {
            "units_needed": needed,
            "reserve_units": self.reserve_units,
            "remaining_units": remaining,
            "resource_packs": [pack.to_xcom() for pack in costs.packs],
        }
        if remaining - self.reserve_units >= needed:
            self.log.info(
                "Kling account: %s units left in %s; this run needs %s (keeping %s in reserve)",
                format_units(remaining),
                packs,
                format_units(needed),
                format_units(self.reserve_units),
            )
            return PokeReturnValue(is_done=True, xcom_value=summary)
        shortfall = (
            f"The Kling account has {format_units(remaining)} units left in {packs}, and this run needs "
            f"{format_units(needed)}"
            + (f" plus {format_units(self.reserve_units)} kept in reserve" if self.reserve_units else "")
            + ". Kling's figures lag by up to 12 hours."
        )
        if self.wait_for_units:
            self.log.info("%s Waiting for a top-up (wait_for_units=True).", shortfall)
            return PokeReturnValue(is_done=False)
        from airflow.providers.common.compat.sdk import AirflowFailException

        raise AirflowFailException(
            f"{shortfall} Stopping before anything is created: buy a resource pack in Kling's developer "
            "console (or lower the run's prompts or n), then clear this task; or set wait_for_units=True "
            "to wait for a top-up."
        )
