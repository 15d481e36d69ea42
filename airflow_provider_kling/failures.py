"""How a Kling error ends an Airflow task: retried by Airflow, failed at once, or skipped."""

from __future__ import annotations

from airflow_provider_kling.errors import (
    KlingContentPolicyError,
    KlingError,
    KlingTaskFailedError,
    refine_task_failure,
)

#: What the operator's ``on_content_policy`` accepts.
ON_CONTENT_POLICY = ("fail", "skip")


def fail_fast(exc: KlingError) -> BaseException:
    """Errors no retry can fix (auth, balance, permission, policy, bad request) skip Airflow's retries."""
    if exc.airflow_retryable:
        return exc
    from airflow.providers.common.compat.sdk import AirflowFailException

    return AirflowFailException(str(exc))


def task_failure(
    exc: KlingError,
    *,
    on_content_policy: str = "fail",
    generation: int | None = None,
    max_regenerations: int | None = None,
) -> BaseException:
    """
    The failure policy: a content-policy refusal is never generated again (failed, or skipped
    with ``on_content_policy="skip"``); another Kling-side failure is left to Airflow's retries,
    which regenerate, until ``generation`` exceeds ``max_regenerations``.
    """
    if isinstance(exc, KlingTaskFailedError):
        exc = refine_task_failure(exc)
    if isinstance(exc, KlingContentPolicyError):
        message = (
            f"{exc}. Kling refused this prompt (content safety); it is not generated again: change the prompt"
        )
        if on_content_policy == "skip":
            from airflow.providers.common.compat.sdk import AirflowSkipException

            return AirflowSkipException(f"{message} (skipped: on_content_policy='skip')")
        from airflow.providers.common.compat.sdk import AirflowFailException

        return AirflowFailException(message)
    if (
        isinstance(exc, KlingTaskFailedError)
        and generation is not None
        and max_regenerations is not None
        and generation > max_regenerations
    ):
        from airflow.providers.common.compat.sdk import AirflowFailException

        return AirflowFailException(
            f"{exc}. This was generation {generation} of this request and max_regenerations="
            f"{max_regenerations}: no new one is created. Raise max_regenerations, or change the request."
        )
    return fail_fast(exc)
