"""One Kling task's life, for every kind and every driver: written once, free of Airflow.

:mod:`.policy` (outcomes, the failure policy), :mod:`.poll` (the one wait, its step and error
budget), :mod:`.results` (the one store path and manifest writer), :mod:`.reconcile` (what exists
on Kling for a request, and what to do about it) and :mod:`.request` (the worker's reconcile and
create). Sans-I/O where the worker and the triggerer both drive it.
"""

from airflow_provider_kling.lifecycle.policy import (
    DEFAULT_MAX_REGENERATIONS,
    DEFAULT_ON_CONTENT_POLICY,
    DEFAULT_REGENERATE_EXPIRED,
    ON_CONTENT_POLICY,
    Action,
    Ending,
    FailurePolicy,
    Outcome,
    Verdict,
    outcome_of,
)
from airflow_provider_kling.lifecycle.reconcile import (
    MAX_GENERATIONS_SCANNED,
    Decision,
    arun_scan,
    decide,
    newest_generation,
    run_scan,
    scan_generations,
)

__all__ = [
    "DEFAULT_MAX_REGENERATIONS",
    "DEFAULT_ON_CONTENT_POLICY",
    "DEFAULT_REGENERATE_EXPIRED",
    "MAX_GENERATIONS_SCANNED",
    "ON_CONTENT_POLICY",
    "Action",
    "Decision",
    "Ending",
    "FailurePolicy",
    "Outcome",
    "Verdict",
    "arun_scan",
    "decide",
    "newest_generation",
    "outcome_of",
    "run_scan",
    "scan_generations",
]
