"""How a Kling error ends an Airflow task: retried by Airflow, or failed at once."""

from __future__ import annotations

from airflow_provider_kling.errors import KlingError


def fail_fast(exc: KlingError) -> BaseException:
    """Errors no retry can fix (auth, balance, permission, policy, bad request) skip Airflow's retries."""
    if exc.airflow_retryable:
        return exc
    from airflow.providers.common.compat.sdk import AirflowFailException

    return AirflowFailException(str(exc))
