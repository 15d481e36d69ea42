"""What a finished Kling task means, and the one failure policy every Kling operator takes.

No Airflow and no I/O: the policy decides how a try ends (:class:`Ending`: fail without
retries, skip, or leave to Airflow's retries), for the single operator, the trigger's resume and
the batch alike; the operators only turn an :class:`Ending` into Airflow's exception.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from airflow_provider_kling.defaults import (
    DEFAULT_MAX_REGENERATIONS,
    DEFAULT_ON_CONTENT_POLICY,
    DEFAULT_REGENERATE_EXPIRED,
)
from airflow_provider_kling.errors import (
    KlingContentPolicyError,
    KlingError,
    KlingTaskFailedError,
    is_content_policy_reason,
)

#: What ``on_content_policy`` accepts, on every operator: ``"fail"`` fails the Airflow task without
#: retries; ``"skip"`` skips it (the single operator) or records the item as refused and goes on
#: (the batch). Either way a refused request is never generated again.
ON_CONTENT_POLICY = ("fail", "skip")


class Outcome(enum.StrEnum):
    """Where a Kling task stands, as the lifecycle sees it."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    #: Ended ``failed`` for a reason other than content policy: may be generated again.
    FAILED = "failed"
    #: Ended ``failed`` because content safety refused it: never generated again.
    REFUSED = "refused"


def outcome_of(status: str | None, status_msg: str | None = None) -> Outcome:
    """The outcome of a task whose Kling status is ``status`` (``submitted`` ... ``succeed``, ``failed``;
    the decoder reads the model-path style's ``succeeded`` as ``succeed``: ``models.task.TaskStatus``)."""
    if status == "succeed":
        return Outcome.SUCCEEDED
    if status == "failed":
        return Outcome.REFUSED if is_content_policy_reason(status_msg) else Outcome.FAILED
    return Outcome.RUNNING


class Verdict(enum.StrEnum):
    """What a failed generation of a request leads to."""

    #: Refused by content policy: never again (the task fails or is skipped, per ``on_content_policy``).
    REFUSED = "refused"
    #: Another failure within ``max_regenerations``: the next try creates the next generation.
    REGENERATE = "regenerate"
    #: Another failure, and ``max_regenerations`` new generations were made already: stop.
    EXHAUSTED = "exhausted"


class Action(enum.StrEnum):
    """How an Airflow try ends after a Kling error."""

    #: Left to Airflow's retries (a later try resumes, or makes the next generation).
    RETRY = "retry"
    #: Failed without retries: no retry can help.
    FAIL = "fail"
    #: Skipped (``on_content_policy="skip"``).
    SKIP = "skip"


@dataclass(frozen=True)
class Ending:
    """How a try ends, and the message the user reads."""

    action: Action
    message: str

    @classmethod
    def of_error(cls, exc: KlingError) -> Ending:
        """An error that is not a task's outcome: retried when a retry can help (``airflow_retryable``)."""
        return cls(Action.RETRY if exc.airflow_retryable else Action.FAIL, str(exc))


@dataclass(frozen=True)
class FailurePolicy:
    """
    How every Kling operator treats failures (one vocabulary, one set of defaults).

    :param on_content_policy: ``"fail"`` (default) or ``"skip"``; see :data:`ON_CONTENT_POLICY`.
    :param max_regenerations: New Kling tasks that later tries may create after Kling-side failures
        other than content policy, per request (default :data:`DEFAULT_MAX_REGENERATIONS`).
    :param regenerate_expired: When a resumed task's images are gone (Kling purges them after
        30 days) and none is stored, create a new generation instead of failing (default False).
    """

    on_content_policy: str = DEFAULT_ON_CONTENT_POLICY
    max_regenerations: int = DEFAULT_MAX_REGENERATIONS
    regenerate_expired: bool = DEFAULT_REGENERATE_EXPIRED

    def __post_init__(self) -> None:
        if self.on_content_policy not in ON_CONTENT_POLICY:
            raise ValueError(
                f"on_content_policy must be one of {', '.join(ON_CONTENT_POLICY)} "
                f"(got {self.on_content_policy!r})"
            )
        value = self.max_regenerations
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"max_regenerations must be an integer >= 0 (got {value!r})")
        if not isinstance(self.regenerate_expired, bool):
            raise ValueError(f"regenerate_expired must be True or False (got {self.regenerate_expired!r})")

    def verdict(self, outcome: Outcome, generation: int) -> Verdict:
        """
        The verdict on generation ``generation`` (1 = the first task) of a request that ended
        ``outcome`` (:attr:`Outcome.FAILED` or :attr:`Outcome.REFUSED`): at most
        ``max_regenerations + 1`` tasks per request.
        """
        if outcome is Outcome.REFUSED:
            return Verdict.REFUSED
        if outcome is not Outcome.FAILED:
            raise ValueError(f"a verdict is only given on a failed task (got {outcome.value})")
        return Verdict.REGENERATE if generation <= self.max_regenerations else Verdict.EXHAUSTED

    def ending(self, exc: KlingError, generation: int | None = None) -> Ending:
        """
        How a try that met ``exc`` ends: a content-policy refusal fails (or skips,
        ``on_content_policy="skip"``) and is never generated again; another Kling-side failure of
        generation ``generation`` is left to Airflow's retries while a new generation is allowed,
        else fails at once; any other error per :meth:`Ending.of_error`.
        """
        if isinstance(exc, KlingTaskFailedError):  # refused or not, as task_failed_error classed it
            outcome = Outcome.REFUSED if isinstance(exc, KlingContentPolicyError) else Outcome.FAILED
            verdict = self.verdict(outcome, generation or 0)
        else:
            verdict = Verdict.REFUSED if isinstance(exc, KlingContentPolicyError) else Verdict.REGENERATE
        if verdict is Verdict.REFUSED:
            message = (
                f"{exc}. Kling refused this prompt (content safety); it is not generated again: change it"
            )
            if self.on_content_policy == "skip":
                return Ending(Action.SKIP, f"{message} (skipped: on_content_policy='skip')")
            return Ending(Action.FAIL, message)
        if verdict is Verdict.EXHAUSTED and generation:
            return Ending(Action.FAIL, f"{exc}. {self.exhausted_message(generation)}.")
        return Ending.of_error(exc)

    def expired_ending(self, task_id: str, noun: str, stored: int, reason: str) -> Ending | None:
        """
        How a try ends when a resumed task's results are gone (Kling purges them after 30 days),
        ``stored`` of them stored: None to create the next generation (``regenerate_expired`` and
        none stored), else failed, saying how to go on (retrying cannot help).
        """
        if self.regenerate_expired and not stored:
            return None
        how = (
            f"{stored} {noun}(s) were stored; delete them under output_path, then set " if stored else "Set "
        )
        how += "regenerate_expired=True and clear the task to create a new generation (a new paid task)"
        return Ending(
            Action.FAIL,
            f"The {noun}s of resumed Kling task {task_id} are gone (Kling purges them after 30 days) and "
            f"were not stored, so retrying cannot help ({reason}). {how}.",
        )

    def batch_ending(
        self,
        not_done: list[tuple[str, int]],
        refused: int,
        *,
        storage_errors: int,
        fatal: str | None,
        why: str,
        see: str,
    ) -> Ending | None:
        """
        How a batch ends, or None when it succeeds. ``not_done``: ``(status, generation)`` of each
        item that did not succeed (``failed``, ``error``, ``unfinished``); ``refused``: items refused
        by content policy; ``why``: what the user reads first; ``see``: where the details are.
        Items not done are left to a retry (which resumes them), except after an account error
        (``fatal``) or when every one of them failed as often as ``max_regenerations`` allows;
        refused items fail the batch only with
        ``on_content_policy="fail"``.
        """
        if not_done or storage_errors:
            if fatal:
                return Ending(Action.FAIL, f"{why}. Kling stopped the batch: {fatal}")
            exhausted = not storage_errors and all(
                status == Outcome.FAILED.value
                and self.verdict(Outcome.FAILED, generation) is Verdict.EXHAUSTED
                for status, generation in not_done
            )
            if exhausted:
                return Ending(
                    Action.FAIL,
                    f"{why}. Every item that failed has failed {self.max_regenerations + 1} time(s), "
                    f"max_regenerations={self.max_regenerations}: a retry would not generate them again",
                )
            return Ending(
                Action.RETRY,
                f"{why}. A retry resumes the finished and running items and creates only the missing ones",
            )
        if refused and self.on_content_policy == "fail":
            return Ending(
                Action.FAIL,
                f"{refused} batch item(s) were refused by Kling's content policy and "
                f"on_content_policy='fail'; {see}",
            )
        return None

    def exhausted_message(self, generation: int) -> str:
        """Why no new generation is made: said the same way by every operator."""
        return (
            f"{generation} Kling task(s) of this request failed and max_regenerations="
            f"{self.max_regenerations}: no new one is created. Raise max_regenerations, or change the "
            "request, to generate again"
        )
