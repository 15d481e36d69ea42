"""One Kling task's life, for every endpoint and every operator: written once, free of Airflow.

- :mod:`.policy`: what a finished task means (:func:`outcome_of`) and the failure policy every
  operator takes (:class:`FailurePolicy`: ``on_content_policy``, ``max_regenerations``,
  ``regenerate_expired``), with one verdict on a failure (:meth:`FailurePolicy.verdict`) and one
  ending of a try (:meth:`FailurePolicy.ending`), for the single operator and the batch alike;
- :mod:`.poll`: the one wait of one task (:func:`~.poll.wait_steps`, driven by the worker's wait
  and the trigger), its poll step with an expected-end hint and its error budget (the batch's too);
- :mod:`.results`: what a succeeded task made, into storage (the one store path), and the one
  manifest writer; the one ``run_id`` fallback (:func:`~.results.run_id_of`);
- :mod:`.reconcile`: what already exists on Kling for a request (every generation of its external
  task id) and what to do about it (:func:`decide`): resume, create the next generation, or stop.

The single operator, the batch, the decorator, the triggers and the sensor all decide through
these; only the I/O (sync on the worker, async in the triggerer) differs, and it is driven from
outside (:func:`~.reconcile.scan_generations` is a sans-I/O generator, like h11's state machine).
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
